"""The arguments of `llmload run`: the run options (load.run_options), the distributed ones (load.cluster) and
the report's gates (report.gate_options, with --config). The CLI declares `run` with them, and the demos build
their run with parse_run_args."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from llmload.errors import UsageErrorParser
from llmload.load.cluster import add_distributed_options
from llmload.load.run_options import add_run_options
from llmload.report.gate_options import add_gate_options


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_options(parser)
    add_distributed_options(parser)
    add_gate_options(parser, config=True)


def parse_run_args(argv: Sequence[str]) -> argparse.Namespace:
    """`llmload run ARGV`'s arguments, as the CLI parses them (defaults from the option table)."""
    parser = UsageErrorParser(prog="llmload run")
    add_run_arguments(parser)
    return parser.parse_args(list(argv))
