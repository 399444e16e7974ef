"""``llmload demo --engine vllm-cpu`` (``make demo-vllm``): real vLLM on CPU, a step-load, the verdict.

Starts the ``tiny-cpu`` profile (tiny random-weight Qwen3, ``--max-num-seqs 4``) on a free port, steps
1..8 users with short fixed-length answers, prints the verdict with the server's queue per step (the knee
should sit at 4), and stops vLLM. About four minutes on two cores.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from llmload import rundir
from llmload.cpus import format_cpu_list, generator_cpus_beside
from llmload.errors import UsageError
from llmload.exit_codes import ExitCode
from llmload.load.launch import DEMO_STEP, DEMO_USERS
from llmload.processes import free_port
from llmload.serve.engines import VLLM
from llmload.serve.interpreter import engine_python
from llmload.serve.launcher import EngineServer, ServerStartError
from llmload.serve.serve_preflight import run_preflight
from llmload.serve.serve_profile import load_profile

VLLM_DEMO_USERS = "1,2,3,4,5,6,8"
VLLM_DEMO_STEP = "20s"
SIM_DEMO_DEFAULTS = {"users": DEMO_USERS, "step_duration": DEMO_STEP}  # `llmload demo` defaults (simulator)


def raise_priority(niceness: int = -10) -> bool:
    """Give this process (and the Locust it starts) CPU priority over a vLLM on the same small machine,
    as a load generator on its own host would have; False where the OS refuses (no CAP_SYS_NICE)."""
    try:
        os.nice(niceness)
    except OSError:
        return False
    return True


def demo_run_argv(url: str, users: str, step_duration: str, run_dir: Path, server_cpus: list[int] | None) -> list[str]:
    """The `llmload run` arguments of the vLLM demo (and of the real-vLLM test tier): the generator on the
    cores the server (pinned to `server_cpus`) leaves."""
    cpus = generator_cpus_beside(server_cpus)
    return [
        "run", "--host", url, "--users", users, "--step-duration", step_duration,
        "--max-tokens", "32", "--ignore-eos", "--batch-size", "5", "--no-score", "--out", str(run_dir),
        *(["--cpus", format_cpu_list(cpus)] if cpus else []),
    ]  # fmt: skip


def print_server_queue(run_dir: Path) -> None:
    summary = rundir.read_summary(run_dir)
    print("server queue per step (vLLM /metrics):  users  waiting mean  running mean  KV max")
    for step in summary["steps"]:
        server = step.get("server") or {}
        if server:
            print(
                f"{'':<40}{step['users']:>5}  {server['waiting_mean']:>12.2f}  {server['running_mean']:>12.2f}"
                f"  {server['kv_usage_max'] or 0:>6.3f}"
            )


def run_vllm_demo(args: argparse.Namespace) -> int:
    from llmload.load.launch import default_run_dir, run_headless
    from llmload.load.run_command import parse_run_args

    users = VLLM_DEMO_USERS if args.users == SIM_DEMO_DEFAULTS["users"] else args.users
    step = VLLM_DEMO_STEP if args.step_duration == SIM_DEMO_DEFAULTS["step_duration"] else args.step_duration
    run_dir = Path(args.out) if args.out else default_run_dir("demo-vllm-")
    profile = load_profile("tiny-cpu")
    port = free_port()
    check = run_preflight(profile, engine_python(VLLM, profile.device), port=port)
    if not check.ok:
        first = check.failures()[0]
        raise UsageError(f"vLLM demo preflight: {first.name}: {first.detail} (run `make vllm-env`)")
    print(f"llmload demo: vLLM {check.engine_version} (CPU), profile tiny-cpu, users {users}, {step} per step")
    server = EngineServer(profile, run_dir / rundir.SERVE_DIR, port=port)
    try:
        with server:
            print(f"vLLM ready at {server.base_url} after {server.startup_s:.0f} s", flush=True)
            raise_priority()  # after vLLM started: only the load generator gets the boost
            argv = demo_run_argv(server.base_url, users, step, run_dir, server.cpus)
            rc = run_headless(parse_run_args(argv[1:]))  # argv[0] is the command, "run"
    except ServerStartError as exc:
        print(f"llmload: vLLM failed to start: {exc}", file=sys.stderr)
        return ExitCode.GENERATOR
    if (run_dir / rundir.SUMMARY).exists():
        print_server_queue(run_dir)
    return rc
