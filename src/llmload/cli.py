"""llmload command line: thin; parses arguments and calls the library.

Exit codes: 0 success; 1 SLO or regression failure; 2 usage or input error; 3 target unreachable;
4 the load generator failed (Locust exited abnormally).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from llmload import __version__
from llmload.errors import UsageError
from llmload.scenarios.chat import DEFAULT_PROMPT_FORM, PROMPT_FORMS

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_GENERATOR = 0, 1, 2, 3, 4


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--host", default="", help="Base URL of the OpenAI-compatible server, e.g. http://127.0.0.1:8000 (required)"
    )
    p.add_argument("--model", default="", help="Model name (default: the server's first model)")
    p.add_argument(
        "--users", default="1:40:1", help="User levels: 1,2,4,8 or start:stop:step, or auto: adaptive knee search (default 1:40:1)"
    )
    p.add_argument("--step-duration", default="60s", help="Duration of each step: 30, 30s, 2m (default 60s)")
    p.add_argument("--rate", default="", help="Open loop instead of users: arrival rates in req/s per step (0.5,1,2 or 1:10:1)")
    p.add_argument("--arrival", default="constant", choices=("constant", "poisson"), help="Open-loop arrivals (default constant)")
    p.add_argument("--max-users", type=int, default=256, help="Open loop: most requests in flight at once (default 256)")
    p.add_argument("--out", default="", help="Run directory (default reports/<run-id>)")
    p.add_argument("--dataset", default="datasets/plate_comments.jsonl", help="Comments dataset (JSONL)")
    p.add_argument("--batch-size", type=int, default=100, help="Comments per request (default 100)")
    p.add_argument(
        "--prompt-form", default=DEFAULT_PROMPT_FORM, choices=PROMPT_FORMS,
        help="system-user: system + user message (default); single-user: one user message, as vllm bench's custom dataset",
    )  # fmt: skip
    p.add_argument("--max-tokens", type=int, default=0, help="max_tokens per request (default 0: not sent, the server decides)")
    p.add_argument("--ignore-eos", action="store_true", help="vLLM: always generate max_tokens tokens")
    p.add_argument("--temperature", type=float, default=0.0, help="Sampling temperature (default 0)")
    p.add_argument("--api-key", default="", help="API key (default: $OPENAI_API_KEY); never written to disk")
    p.add_argument("--warmup", default="auto", help="Warm-up per step: seconds or auto (default auto)")
    p.add_argument("--connect-timeout", default="10s", help="Connect timeout (default 10s)")
    p.add_argument("--first-token-timeout", default="600s", help="First-token timeout (default 600s)")
    p.add_argument("--request-timeout", default="1800s", help="Whole-request timeout (default 1800s)")
    p.add_argument("--slo", default="", help='SLO, e.g. "ttft_p95<=2s,e2e_p95<=60s,error_rate<=1%%"')
    p.add_argument("--no-score", action="store_true", help="Do not parse answers for plates")
    p.add_argument(
        "--metrics-interval", default="1s", help="Sample the target's /metrics and local GPUs this often (default 1s; 0: off)"
    )
    p.add_argument(
        "--cpus", default="", help="Run the load generator on these cores only, e.g. 0 or 0-3 (default: any); "
        "keeps it off a server's cores on a shared machine",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="llmload", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"llmload {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="Headless step-load against a server; writes a run directory and report")
    add_run_options(run)
    _add_distributed_options(run)
    _add_gate_options(run, config=True)
    run.set_defaults(func=_cmd_run)

    ui = sub.add_parser("ui", help="Locust's web UI with the scenario's start form and the LLM live tabs")
    add_run_options(ui)
    _add_distributed_options(ui)
    ui.add_argument("--port", type=int, default=8089, help="Web UI port (default 8089)")
    ui.add_argument("--web-host", default="127.0.0.1", help="Web UI interface (default 127.0.0.1)")
    ui.set_defaults(func=_cmd_ui)

    report = sub.add_parser(
        "report", help="Rebuild summary.json, steps.csv and report.html from a run's raw records"
    )
    report.add_argument("run_dir", help="Run directory")
    report.add_argument(
        "--telemetry", default="", help="Merge a `llmload telemetry --out DIR` folder into the run first"
    )
    _add_gate_options(report)
    report.set_defaults(func=_cmd_report)

    compare = sub.add_parser("compare", help="Compare two runs (summary.json or run dirs); exit 1 on regression")
    compare.add_argument("base", help="Baseline summary.json or run directory")
    compare.add_argument("new", help="New summary.json or run directory")
    compare.add_argument("--max-regression", default="10%", help="Tolerance (default 10%%)")
    compare.add_argument("--out", default="", help="Where compare.html and compare.json go (default: NEW's directory)")
    compare.set_defaults(func=_cmd_compare)

    sim = sub.add_parser("sim", help="Serve a simulated vLLM (OpenAI API) on loopback until stopped")
    sim.add_argument("--profile", default="qwen3-32b-awq-2x4090", help="Profile name or TOML path")
    sim.add_argument("--host", default="127.0.0.1", help="Bind address (default 127.0.0.1)")
    sim.add_argument("--port", type=int, default=8000, help="Port (default 8000)")
    sim.add_argument(
        "--time-scale", type=float, default=None, help="Compress time by this factor (default: profile's)"
    )
    sim.add_argument("--seed", type=int, default=0, help="Random seed (also of the injected faults)")
    sim.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND=SPEC",
        help="Inject a fault (repeatable): http_500|http_503|http_429|disconnect|malformed|no_done=RATE, "
        "slow_headers|stall_first|stall=RATE:DURATION, exit_at=DURATION (wall seconds); "
        "overrides the profile's [faults] per kind",
    )
    sim.add_argument(
        "--api-key",
        default="",
        help="Require 'Authorization: Bearer KEY' on /v1/* (default: $LLMLOAD_SIM_API_KEY; none: open)",
    )
    sim.set_defaults(func=_cmd_sim)

    demo = sub.add_parser(
        "demo", help="Step-load 1..40 users against the built-in simulator and print the verdict"
    )
    demo.add_argument("--profile", default="qwen3-32b-awq-2x4090", help="Simulator profile")
    demo.add_argument("--users", default="1:40:1", help="User levels, or auto (default 1:40:1)")
    demo.add_argument("--step-duration", default="4s", help="Wall-clock duration of each step (default 4s)")
    demo.add_argument(
        "--time-scale", type=float, default=None, help="Simulator time scale (default: profile's)"
    )
    demo.add_argument("--out", default="", help="Run directory (default reports/demo-<time>)")
    demo.add_argument(
        "--engine",
        default="sim",
        choices=("sim", "vllm-cpu"),
        help="sim: the built-in simulator; vllm-cpu: real vLLM (CPU build, tiny model, profile tiny-cpu)",
    )
    demo.set_defaults(func=_cmd_demo)

    _add_serve_commands(sub)

    plan = sub.add_parser("plan", help="Capacity plan: replicas, GPUs and cost from measured summaries")
    plan.add_argument("--summary", action="append", required=True, help="summary.json or run dir (repeatable)")
    want = plan.add_mutually_exclusive_group(required=True)
    want.add_argument("--target-users", type=int, default=None, help="Concurrent users to serve")
    want.add_argument("--target-rps", type=float, default=None, help="Requests per second to serve")
    plan.add_argument("--slo", default="", help='SLO each replica must meet, e.g. "e2e_p95<=60s,error_rate<=1%%"')
    plan.add_argument("--hardware", default="seed-2x4090", help="Hardware/cost profile: TOML path or shipped name")
    plan.add_argument("--out", default="", help="plan.json path (default: beside the first summary)")
    plan.set_defaults(func=_cmd_plan)

    dataset = sub.add_parser("dataset", help="Dataset tools")
    dsub = dataset.add_subparsers(dest="dataset_command", required=True, parser_class=_Parser)
    gen = dsub.add_parser(
        "generate", help="Generate the synthetic comments dataset (seeded) or ask a server for one"
    )
    gen.add_argument("--seed", type=int, default=20260114, help="Random seed (default 20260114)")
    gen.add_argument("--count", type=int, default=100, help="Number of comments (default 100)")
    gen.add_argument("--out", default="datasets/plate_comments.jsonl", help="Output JSONL")
    gen.add_argument(
        "--via-llm", action="store_true", help="Ask an OpenAI-compatible server to write the comments"
    )
    gen.add_argument("--host", default="", help="Server base URL (with --via-llm)")
    gen.add_argument("--model", default="", help="Model (with --via-llm; default: first served)")
    gen.add_argument("--api-key", default="", help="API key (default: $OPENAI_API_KEY)")
    gen.set_defaults(func=_cmd_dataset_generate)
    validate = dsub.add_parser("validate", help="Validate a dataset file")
    validate.add_argument("path")
    validate.set_defaults(func=_cmd_dataset_validate)
    return parser


def _add_distributed_options(p: argparse.ArgumentParser) -> None:
    from llmload.load.cluster import add_distributed_options

    add_distributed_options(p)


def _cmd_ui(args: argparse.Namespace) -> int:
    from llmload.load.cluster import run_ui

    if not args.host:
        raise UsageError("ui: --host URL is required")
    return run_ui(args)


def _cmd_run(args: argparse.Namespace) -> int:
    from llmload.load.cluster import run_worker, validate_distributed_args

    validate_distributed_args(args)
    if args.worker:
        return run_worker(args)  # the master sends the scenario, including --host
    if not args.host:
        raise UsageError("run: --host URL is required")
    from llmload.load.launch import run_headless
    from llmload.report.options import options_from_args

    options_from_args(args)  # a bad --baseline/--max-regression/--apdex-t stops here, before any load

    return run_headless(args)


def _add_gate_options(p: argparse.ArgumentParser, config: bool = False) -> None:
    from llmload.report.options import add_gate_options

    add_gate_options(p, config)


def _cmd_compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from llmload.analysis.compare import parse_max_regression
    from llmload.report.compare_report import run_compare

    tolerance = parse_max_regression(args.max_regression)
    return run_compare(Path(args.base), Path(args.new), tolerance, Path(args.out) if args.out else None, sys.stdout)


def _cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from llmload.report.build import build_report
    from llmload.report.options import options_from_args
    from llmload.report.text import print_gate, print_verdict

    if args.telemetry:
        from llmload.telemetry.run_telemetry import merge_telemetry

        added = merge_telemetry(Path(args.telemetry), Path(args.run_dir))
        print("merged " + ", ".join(f"{n} lines into {name}" for name, n in added.items()))
    result = build_report(Path(args.run_dir), options_from_args(args))
    print_verdict(result.summary, sys.stdout)
    print(f"report: {result.html_path}")
    return print_gate(result.summary, sys.stdout)


def _cmd_plan(args: argparse.Namespace) -> int:
    from llmload.capacity.command import run_plan

    plan = run_plan(args.summary, args.hardware, args.target_users, args.target_rps, args.slo, args.out, sys.stdout)
    return EXIT_OK if plan["feasible"] else EXIT_FAILED


def _cmd_sim(args: argparse.Namespace) -> int:
    import os

    from llmload.sim.app import serve_sim

    api_key = args.api_key or os.environ.get("LLMLOAD_SIM_API_KEY") or None
    serve_sim(
        args.profile,
        host=args.host,
        port=args.port,
        time_scale=args.time_scale,
        seed=args.seed,
        fault_flags=args.fault,
        api_key=api_key,
    )
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from llmload.load.launch import run_demo

    if args.engine == "vllm-cpu":
        from llmload.serve.demo import run_vllm_demo

        return run_vllm_demo(args)

    return run_demo(args)


def _cmd_dataset_generate(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from llmload.scenarios.plates.comment_dataset import write_jsonl

    if args.count < 1:
        raise UsageError(f"--count: {args.count} must be at least 1")
    if args.via_llm:
        if not args.host:
            raise UsageError("--via-llm needs --host URL")
        from llmload.scenarios.plates.comments_via_llm import generate_via_llm

        key = args.api_key or os.environ.get("OPENAI_API_KEY") or None
        rows = generate_via_llm(args.host, args.model, args.count, key, args.seed)
    else:
        from llmload.scenarios.plates.comment_generator import generate_comments

        rows = generate_comments(args.seed, args.count)
    write_jsonl(rows, Path(args.out))
    with_plates = sum(1 for r in rows if r.plates)
    print(f"wrote {len(rows)} comments ({with_plates} with a plate) to {args.out}")
    return EXIT_OK


def _cmd_dataset_validate(args: argparse.Namespace) -> int:
    from llmload.scenarios.plates.comment_dataset import load_dataset

    rows = load_dataset(args.path)
    print(f"{args.path}: {len(rows)} valid rows, {sum(1 for r in rows if r.plates)} with a plate")
    return EXIT_OK


def _add_serve_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    serve = sub.add_parser("serve", help="Start vLLM from a serve profile (preflight, wait ready, stop cleanly)")
    serve.add_argument("--profile", required=True, help="Profile name (serve/profiles/NAME.toml) or TOML path")
    serve.add_argument("--dry-run", action="store_true", help="Preflight and print the command; start nothing")
    serve.add_argument("--serve-dir", default="", help="Folder for vllm.log and serve_meta.json (default reports/serve-<profile>)")
    serve.set_defaults(func=_cmd_serve)

    probe = sub.add_parser("probe", help="Check a server: models, one streamed chat, tokenize, metrics, version")
    probe.add_argument("--host", required=True, help="Base URL, e.g. http://127.0.0.1:4444")
    probe.add_argument("--model", default="", help="Model (default: the server's first model)")
    probe.add_argument("--api-key", default="", help="API key (default: $OPENAI_API_KEY)")
    probe.add_argument("--max-tokens", type=int, default=16, help="max_tokens of the probe chat (default 16)")
    probe.add_argument("--timeout", default="60s", help="Per-check timeout (default 60s)")
    probe.set_defaults(func=_cmd_probe)

    tele = sub.add_parser("telemetry", help="Sample /metrics and local GPUs into DIR beside a remote server")
    tele.add_argument("--out", required=True, help="Folder for server_metrics.jsonl and gpu.jsonl")
    tele.add_argument("--host", default="", help="Server base URL to scrape /metrics from (default: GPUs only)")
    tele.add_argument("--interval", default="1s", help="Sampling interval (default 1s)")
    tele.add_argument("--duration", default="", help="Stop after this long (default: until Ctrl-C/SIGTERM)")
    tele.set_defaults(func=_cmd_telemetry)


def _cmd_serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    from llmload.serve.launcher import VllmStartError
    from llmload.serve.serve_command import serve_profile
    from llmload.serve.serve_profile import load_profile

    serve_dir = Path(args.serve_dir) if args.serve_dir else Path("reports") / f"serve-{load_profile(args.profile).name}"
    try:
        return serve_profile(args.profile, args.dry_run, serve_dir)
    except VllmStartError as exc:
        print(f"llmload: vLLM failed to start: {exc}", file=sys.stderr)
        return EXIT_GENERATOR


def _cmd_probe(args: argparse.Namespace) -> int:
    import os

    from llmload.client.probe import TargetUnreachable
    from llmload.serve.endpoint_probe import format_probe, probe_server
    from llmload.steps import parse_duration_s

    timeout_s = parse_duration_s(args.timeout, "--timeout")
    key = args.api_key or os.environ.get("OPENAI_API_KEY") or None
    try:
        results = probe_server(args.host, args.model, key, args.max_tokens, timeout_s)
    except TargetUnreachable as exc:
        print(f"llmload: target unreachable: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    print(format_probe(args.host, results))
    return EXIT_OK if all(r.ok for r in results[:2]) else EXIT_FAILED


def _cmd_telemetry(args: argparse.Namespace) -> int:
    from pathlib import Path

    from llmload.steps import parse_duration_s
    from llmload.telemetry.run_telemetry import parse_interval_s, run_standalone

    interval_s = parse_interval_s(args.interval, "--interval")
    if interval_s <= 0:
        raise UsageError(f"--interval: {args.interval!r} must be greater than zero")
    duration_s = parse_duration_s(args.duration, "--duration") if args.duration else None
    t = run_standalone(Path(args.out), args.host or None, interval_s, duration_s)
    print(f"telemetry: {t.ticks} ticks, {t.metrics_file.count} server samples, {t.gpu_file.count} GPU samples in {args.out}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        from llmload.config import apply_config

        argv = list(sys.argv[1:] if argv is None else argv)
        apply_config(parser, argv)  # `run --config FILE`: the file's values become run's defaults
        args = parser.parse_args(argv)
        func: Callable[[argparse.Namespace], int] = args.func
        return func(args)
    except UsageError as exc:
        print(f"llmload: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("llmload: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
