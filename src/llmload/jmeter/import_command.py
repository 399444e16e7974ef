"""`llmload import jtl|jmx`: the command-line shell of the JMeter imports (arguments in, lines out)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from llmload.errors import UsageError
from llmload.exit_codes import ExitCode
from llmload.steps import parse_duration_s, parse_levels


def run_import(args: argparse.Namespace, out: TextIO) -> int:
    if args.import_kind == "jtl":
        return import_results(args, out)
    return import_plan(args, out)


def import_results(args: argparse.Namespace, out: TextIO) -> int:
    from llmload.jmeter.jtl_import import import_jtl

    if bool(args.users) != bool(args.step_duration):
        raise UsageError("import jtl: give --users and --step-duration together (or neither: steps from allThreads)")
    levels = parse_levels(args.users, "--users") if args.users else None
    step_s = parse_duration_s(args.step_duration, "--step-duration") if args.step_duration else None
    result = import_jtl(Path(args.results), Path(args.out), levels, step_s)
    for warning in result.warnings:
        print(f"llmload: warning: {warning}", file=sys.stderr)
    users = [s.users for s in result.steps]
    out.write(
        f"imported {result.records} samples into {result.run_dir} ({result.skipped} skipped, "
        f"{result.nested} nested counted in their parents); {len(users)} steps, "
        f"users {min(users)}..{max(users)} ({'--users' if levels else 'from allThreads'})\n"
        f"next: llmload report {result.run_dir}\n"
    )
    return ExitCode.OK


def import_plan(args: argparse.Namespace, out: TextIO) -> int:
    from llmload.jmeter.jmx_import import import_jmx

    result = import_jmx(Path(args.plan), Path(args.out))
    out.write(f"wrote {result.config_path} and {result.dataset_path} ({result.rows} request bodies)\n")
    if result.unmapped:
        out.write(f"not mapped, or mapped differently ({len(result.unmapped)}; also comments in {result.config_path}):\n")
        out.writelines(f"  - {line}\n" for line in result.unmapped)
    out.write(f"next: llmload run --config {result.config_path}\n")
    return ExitCode.OK
