"""Starts Locust the way Locust runs (`locust -f ... --headless`) for `llmload run` and `llmload demo`,
then reads back the run directory. Locust is a subprocess: this module never imports it."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmload.client.probe import TargetUnreachable, list_models
from llmload.cpus import parse_cpu_list, pin_process
from llmload.errors import UsageError
from llmload.load.options import check_max_tokens, is_auto
from llmload.load.supervise import check_host, exit_code, mark_stopped, run_locust, run_preflight
from llmload.processes import free_port, stop_process
from llmload.steps import parse_duration_s, parse_levels, parse_rates

if TYPE_CHECKING:
    from llmload.report.options import ReportOptions

LOCUSTFILE = Path(__file__).with_name("plate_detection.py")
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_GENERATOR = 0, 1, 2, 3, 4


def validate_run_args(args: argparse.Namespace) -> None:
    check_host(args.host)
    if args.slo:  # a bad SLO must fail now, not after the whole run
        from llmload.analysis.slo import parse_slo

        parse_slo(args.slo)
    if not is_auto(args.users):
        parse_levels(args.users, "--users")
    if args.rate:
        parse_rates(args.rate, "--rate")
    if args.max_users < 1:
        raise UsageError(f"--max-users: {args.max_users} must be at least 1")
    parse_duration_s(args.step_duration, "--step-duration")
    for name in ("connect_timeout", "first_token_timeout", "request_timeout"):
        parse_duration_s(getattr(args, name), "--" + name.replace("_", "-"))
    if args.warmup != "auto":
        parse_duration_s(args.warmup, "--warmup")
    if args.batch_size < 1:
        raise UsageError(f"--batch-size: {args.batch_size} must be at least 1")
    check_max_tokens(args.max_tokens, args.ignore_eos)
    if args.cpus:
        parse_cpu_list(args.cpus, "--cpus")
    from llmload.telemetry.run_telemetry import parse_interval_s

    parse_interval_s(getattr(args, "metrics_interval", "1s"))
    dataset = Path(args.dataset)
    if not dataset.exists() and args.dataset != "datasets/plate_comments.jsonl":
        raise UsageError(f"--dataset: {args.dataset}: no such file")
    if dataset.exists():
        from llmload.scenarios.plates.comment_dataset import load_dataset

        load_dataset(dataset)


def pin_generator(cpus: str) -> None:
    """`--cpus`: this process on those cores; Locust and its workers, started after, inherit them."""
    if cpus:
        pin_process(parse_cpu_list(cpus, "--cpus"))


def locust_argv(args: argparse.Namespace, run_dir: Path) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        args.host,
        "--llm-model",
        args.model,
        "--step-users",
        args.users,
        "--step-duration",
        args.step_duration,
        "--run-dir",
        str(run_dir),
        "--dataset",
        args.dataset,
        "--batch-size",
        str(args.batch_size),
        "--prompt-form",
        args.prompt_form,
        "--max-tokens",
        str(args.max_tokens),
        "--temperature",
        str(args.temperature),
        "--warmup",
        args.warmup,
        "--connect-timeout",
        args.connect_timeout,
        "--first-token-timeout",
        args.first_token_timeout,
        "--request-timeout",
        args.request_timeout,
        "--only-summary",
        "--stop-timeout",  # users being stopped (a step down, the end) finish the request they are in
        "120",
        "--loglevel",
        "WARNING",
    ]
    if args.slo:
        argv += ["--slo", args.slo]
    argv += ["--metrics-interval", getattr(args, "metrics_interval", "1s")]
    if args.rate:
        argv += ["--step-rates", args.rate, "--arrival", args.arrival, "--max-users", str(args.max_users)]
    if args.ignore_eos:
        argv.append("--ignore-eos")
    if args.no_score:
        argv.append("--no-score")
    return argv


def default_run_dir(prefix: str = "") -> Path:
    return Path("reports") / (prefix + time.strftime("%Y%m%d-%H%M%S"))


def run_headless(args: argparse.Namespace) -> int:
    validate_run_args(args)
    api_key = args.api_key or os.environ.get("OPENAI_API_KEY") or ""
    try:
        models = list_models(args.host, api_key or None)
    except TargetUnreachable as exc:
        print(f"llmload: target unreachable: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    if args.model and args.model not in models:
        raise UsageError(
            f"--model: {args.model!r} is not served by {args.host} (it serves: {', '.join(models)})"
        )
    run_dir = Path(args.out) if args.out else default_run_dir()
    if run_dir.exists() and (run_dir / "records.jsonl").exists():
        raise UsageError(f"--out: {run_dir} already holds a run; choose a new directory")
    if not run_preflight(args, args.model or (models[0] if models else ""), api_key or None):
        return EXIT_UNREACHABLE
    pin_generator(args.cpus)
    env = dict(os.environ, LLMLOAD_QUIET_LOCUST_STATS="1")
    if api_key:
        env["OPENAI_API_KEY"] = api_key  # through the environment: never on a command line or in a file
    print(
        f"llmload: {_step_count(args)} steps of "
        f"{args.step_duration} against {args.host} -> {run_dir}"
    )
    from llmload.load.cluster import distributed_master

    with distributed_master(args, env) as master_options:  # --workers/--master (load.cluster)
        locust_rc, signal_name = run_locust(locust_argv(args, run_dir) + master_options, env)
    reason = mark_stopped(run_dir, locust_rc, signal_name)
    from llmload.report.options import options_from_args

    return exit_code(finish(run_dir, locust_rc, options_from_args(args)), reason, signal_name)


def finish(run_dir: Path, locust_rc: int, options: ReportOptions | None = None) -> int:
    from llmload.report.build import build_report
    from llmload.report.options import ReportOptions
    from llmload.report.text import print_gate, print_verdict

    if not (run_dir / "records.jsonl").exists():
        print(f"llmload: the load generator wrote no records (locust exit {locust_rc})", file=sys.stderr)
        return EXIT_GENERATOR
    given = options is not None and options != ReportOptions()  # a baseline or APDEX: rebuild with them
    summary = None if given else _fresh_summary(run_dir)
    if summary is None:
        summary = build_report(run_dir, options).summary
    print_verdict(summary, sys.stdout)
    print(f"report: {run_dir / 'report.html'}")
    gate_rc = print_gate(summary, sys.stdout)  # 1: an SLO failed or a regression (report.gates)
    if locust_rc not in (0, 1):  # Locust exits 1 when any request failed; our verdict decides
        return EXIT_GENERATOR
    return gate_rc


def _fresh_summary(run_dir: Path) -> dict[str, Any] | None:
    """The summary Locust's process built at the end of the run, if nothing changed since (saves a
    second report build); None when it must be rebuilt."""
    paths = [run_dir / name for name in ("summary.json", "report.html", "records.jsonl", "meta.json")]
    if not all(p.exists() for p in paths):
        return None
    built_s = min(p.stat().st_mtime for p in paths[:2])
    if built_s < max(p.stat().st_mtime for p in paths[2:]):
        return None
    try:
        data = json.loads(paths[0].read_text(encoding="utf-8"))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


@contextmanager
def running_simulator(profile: str, time_scale: float | None, log_path: Path) -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, "-m", "llmload.cli", "sim", "--profile", profile, "--port", str(port)]
    if time_scale is not None:
        argv += ["--time-scale", str(time_scale)]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log_path)
        yield url
    finally:
        stop_process(proc)


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout_s: float = 30.0) -> None:
    from llmload.client.probe import http_get

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise UsageError(f"the simulator exited early: {log_path.read_text()[-500:].strip()}")
        try:
            if http_get(url + "/health", 1.0)[0] == 200:
                return
        except TargetUnreachable:
            pass
        time.sleep(0.1)
    raise UsageError(f"the simulator did not become healthy within {timeout_s:.0f} s (log: {log_path})")


def run_demo(args: argparse.Namespace) -> int:
    run_dir = Path(args.out) if args.out else default_run_dir("demo-")
    print(
        f"llmload demo: simulator profile {args.profile}, users {args.users}, {args.step_duration} per step"
    )
    with running_simulator(args.profile, args.time_scale, run_dir / "sim.log") as url:
        from llmload.cli import build_parser  # the demo is `llmload run` with its documented defaults

        argv = [
            "run",
            "--host",
            url,
            "--users",
            args.users,
            "--step-duration",
            args.step_duration,
            "--out",
            str(run_dir),
        ]
        run_args = build_parser().parse_args(argv)
        return run_headless(run_args)


def read_summary(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "summary.json").read_text())
    return data


def _step_count(args: argparse.Namespace) -> str:
    if args.rate:
        return str(len(parse_rates(args.rate)))
    return "adaptive" if is_auto(args.users) else str(len(parse_levels(args.users)))
