"""`llmload run`, `llmload ui` and `llmload demo`: check the options, start Locust the way Locust runs
(`locust -f ... --headless`, or its web UI), and after a headless run build its report once Locust has
ended. Locust is a subprocess: this module never imports it."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from llmload.client.blocking_http import TargetUnreachable, http_get, served_models
from llmload.errors import UsageError
from llmload.exit_codes import ExitCode
from llmload.load.cluster import (
    distributed_master,
    locust_env,
    pin_generator,
    start_workers,
    stop_processes,
    validate_distributed_args,
)
from llmload.load.locust_command import LAUNCHED_BY_RUN, headless_argv, master_options, ui_argv
from llmload.load.plan_estimate import before_any_answer
from llmload.load.run_command import parse_run_args
from llmload.load.run_options import parse_run_values
from llmload.load.settings import LoadSettings, settings_from
from llmload.load.supervise import exit_code, mark_stopped, run_locust, run_preflight
from llmload.load.workload_choice import check_trace_context
from llmload.processes import free_port, stop_process
from llmload.report.gate_options import ReportOptions, options_from_args
from llmload.rundir import RECORDS, SIM_LOG
from llmload.target_time import duration_text


def default_run_dir(prefix: str = "") -> Path:
    return Path("reports") / (prefix + time.strftime("%Y%m%d-%H%M%S"))


def run_headless(args: argparse.Namespace) -> int:
    """`llmload run` (args as `parse_run_args` gives them): everything is checked before any load."""
    values = parse_run_values(vars(args))
    settings = settings_from(values, default_run_dir())
    report_options = options_from_args(args)
    try:
        models, warning = served_models(settings.host, settings.api_key, settings.model)
    except TargetUnreachable as exc:
        print(f"llmload: target unreachable: {exc}", file=sys.stderr)
        return ExitCode.UNREACHABLE
    if warning:
        print(f"llmload: warning: {warning}", file=sys.stderr)
    if settings.model and settings.model not in models:
        raise UsageError(
            f"--model: {settings.model!r} is not served by {settings.host} (it serves: {', '.join(models)})"
        )
    run_dir = settings.run_dir
    if (run_dir / RECORDS).exists():
        raise UsageError(f"--out: {run_dir} already holds a run; choose a new directory")
    settings = replace(settings, model=settings.model or (models[0] if models else ""))
    if settings.trace:
        check_trace_context(settings)
    # a locustfile's requests are its own, made as it runs: there is no first request to try beforehand
    if not values["locustfile"] and not run_preflight(settings):
        return ExitCode.UNREACHABLE
    pin_generator(values["cpus"])
    env = dict(locust_env(settings.api_key), **{LAUNCHED_BY_RUN: "1"})
    print(f"llmload: {_plan_text(settings)} against {settings.host} -> {run_dir}")
    if settings.auto_steps:
        rule = settings.stop_rule
        estimate = before_any_answer(settings.levels, settings.max_users, rule.min_samples, rule.max_step_s)
        print(f"llmload: plan estimate: {estimate}")
    with distributed_master(args, env) as master_options:  # --workers/--master (load.cluster)
        locust_rc, signal_name = run_locust(headless_argv(vars(args), run_dir) + master_options, env)
    reason = mark_stopped(run_dir, locust_rc, signal_name)
    return exit_code(finish(run_dir, locust_rc, report_options), reason, signal_name)


def finish(run_dir: Path, locust_rc: int, options: ReportOptions) -> int:
    """The run's report (built here, once), its verdict and the exit code of the gates."""
    # imported here: the report loads pandas and matplotlib, which no other part of a run needs
    from llmload.report.build import build_report
    from llmload.report.text import print_gate, print_verdict

    if not (run_dir / RECORDS).exists():
        print(f"llmload: the load generator wrote no records (locust exit {locust_rc})", file=sys.stderr)
        return ExitCode.GENERATOR
    result = build_report(run_dir, options)
    print_verdict(result.summary, sys.stdout)
    print(f"report: {result.html_path}")
    gate_rc = print_gate(result.summary, sys.stdout)  # 1: an SLO failed or a regression (report.gates)
    if locust_rc not in (0, 1):  # Locust exits 1 when any request failed; our verdict decides
        return ExitCode.GENERATOR
    return gate_rc


def run_ui(args: argparse.Namespace) -> int:
    """`llmload ui`: Locust's web UI (with --workers N: a master and N local workers) until Ctrl-C,
    which stops a running test the graceful way (load.supervise.run_locust)."""
    validate_distributed_args(args)  # before the run's values: as `llmload run` checks them
    values = parse_run_values(vars(args))
    pin_generator(values["cpus"])
    env = locust_env(values["api_key"])
    argv = ui_argv(vars(args), args.web_host, args.port)
    print(f"llmload ui: http://{args.web_host}:{args.port}  (Ctrl-C to stop)", flush=True)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        if args.master:  # workers join from elsewhere (`llmload run --worker --master-host H`)
            argv += master_options(args.master_bind_host, args.master_port)
        elif args.workers:
            port = free_port()
            argv += master_options("127.0.0.1", port)
            workers = start_workers(args.workers, port, env, args.locustfile)
        return run_locust(argv, env)[0]
    finally:
        stop_processes(workers, timeout_s=10.0)


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


# `llmload demo` (the simulator): the seed at 25x, where the generator's turnaround between two requests
# (~3 ms wall: read the end, score, record, send) is 0.1-0.3% of a user's cycle; at the profile's 100x it was
# ~1%, the bound of the generator-health rule (analysis.validity), and the demo flagged its own steps. 22 levels
# of 8 s (200 s of target time: ~4 answers per user at the knee), dense around the seed's knee and limit.
DEMO_USERS = "1,2,4,8,12,16,20,22:34:1,36,40"
DEMO_STEP = "8s"
DEMO_TIME_SCALE = 25.0


def run_demo(args: argparse.Namespace) -> int:
    """`llmload demo`: the simulator, and `llmload run` against it with its documented defaults."""
    run_dir = Path(args.out) if args.out else default_run_dir("demo-")
    print(
        f"llmload demo: simulator profile {args.profile} at time scale {args.time_scale:g}x, users {args.users}, "
        f"{args.step_duration} per step"
    )
    with running_simulator(args.profile, args.time_scale, run_dir / SIM_LOG) as url:
        argv = [
            "--host",
            url,
            "--users",
            args.users,
            "--step-duration",
            args.step_duration,
            "--out",
            str(run_dir),
        ]
        return run_headless(parse_run_args(argv))


def _plan_text(settings: LoadSettings) -> str:
    """`14 steps of 60 s`, `adaptive steps of auto length (at least 30 answers, within ±5%, at most 15 min)`."""
    steps = "adaptive steps" if settings.adaptive else f"{settings.step_count} steps"
    if settings.step_duration_s is not None:
        return f"{steps} of {settings.step_duration_s:g} s"
    rule = settings.stop_rule
    return (
        f"{steps} of auto length (at least {rule.min_samples} answers, within ±{rule.tolerance:.0%}, at most "
        f"{duration_text(rule.max_step_s)})"
    )
