"""Locust's master/worker model as processes, for `llmload run --workers N | --master | --worker` and
`llmload ui` (load.launch). Like launch.py this module never imports Locust: every Locust is a subprocess.

- `--workers N`: a master on loopback (its step shape, recorder and report) plus N local worker processes
  that send the requests; the workers quit when the master does.
- `--master --workers N`: only the master, bound to --master-bind-host:--master-port, waiting up to
  WORKER_WAIT_S for N workers started elsewhere with `llmload run --worker --master-host H`.
- `--worker --master-host H`: only a worker; the master sends it the scenario options. The API key comes
  from the worker's own --api-key or $OPENAI_API_KEY (never through the master), and a --locustfile of one's
  own from the worker's own --locustfile (the same file as the master's).
"""

from __future__ import annotations

import argparse
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from llmload.cpus import pin_process
from llmload.errors import UsageError
from llmload.load.locust_command import master_options, worker_argv
from llmload.load.option_values import API_KEY_ENV, check_locustfile
from llmload.processes import free_port, stop_process

DEFAULT_MASTER_PORT = 5557
WORKER_EXIT_S = 30.0  # after the master exits, workers get this long to quit before they are terminated


def add_distributed_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="Locust worker processes: N local workers (with --master: N workers started elsewhere)",
    )
    p.add_argument("--master", action="store_true", help="Run only the master; workers join from other hosts")
    p.add_argument("--worker", action="store_true", help="Run only a worker of the master at --master-host")
    p.add_argument("--master-host", default="127.0.0.1", help="The master a --worker connects to")
    p.add_argument("--master-port", type=int, default=DEFAULT_MASTER_PORT, help="Master port (default 5557)")
    p.add_argument("--master-bind-host", default="*", help="Interface a --master listens on (default *: all)")


def validate_distributed_args(args: argparse.Namespace) -> None:
    if args.workers < 0:
        raise UsageError(f"--workers: {args.workers} must be 0 or more")
    if args.master and args.worker:
        raise UsageError("--master and --worker exclude each other")
    if args.master and args.workers < 1:
        raise UsageError("--master needs --workers N: how many workers to wait for")
    if args.worker and args.workers:
        raise UsageError("--worker runs one worker; start more with more commands (or use --workers N)")
    if not 0 < args.master_port < 65536:
        raise UsageError(f"--master-port: {args.master_port} is not a port number")


def is_distributed(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "workers", 0) or getattr(args, "master", False))


def pin_generator(cpus: list[int] | None) -> None:
    """`--cpus`: this process on those cores; Locust and its workers, started after, inherit them."""
    if cpus:
        pin_process(cpus)


def locust_env(api_key: str | None) -> dict[str, str]:
    """Locust's environment: the API key travels here, never on a command line (the start form would show it)."""
    env = dict(os.environ)
    if api_key:
        env[API_KEY_ENV] = api_key
    return env


def start_workers(
    count: int, port: int, env: dict[str, str], locustfile: str = ""
) -> list[subprocess.Popen[bytes]]:
    """Local workers of a master on loopback:port (on the master's --locustfile), in their own session: Ctrl-C
    reaches only the master, which then stops them after their last records (load.distributed)."""
    return [
        subprocess.Popen(worker_argv("127.0.0.1", port, locustfile), env=env, start_new_session=True)
        for _ in range(count)
    ]


@contextmanager
def distributed_master(args: argparse.Namespace, env: dict[str, str]) -> Iterator[list[str]]:
    """Yields the options that make `llmload run`'s Locust a master (none when not distributed) and,
    with --workers N alone, keeps N local workers running beside it."""
    if not is_distributed(args):
        yield []
        return
    if args.master:
        print(f"llmload: master waiting for {args.workers} workers on port {args.master_port}", flush=True)
        yield master_options(args.master_bind_host, args.master_port, args.workers)
        return
    port = free_port()
    workers = start_workers(args.workers, port, env, args.locustfile)
    try:
        yield master_options("127.0.0.1", port, args.workers)
    finally:
        stop_processes(workers)


def run_worker(args: argparse.Namespace) -> int:
    argv = worker_argv(args.master_host, args.master_port, check_locustfile(args.locustfile))
    env = locust_env(args.api_key)
    print(f"llmload: worker of the master at {args.master_host}:{args.master_port}", flush=True)
    return subprocess.run(argv, env=env, check=False).returncode


def stop_processes(procs: list[subprocess.Popen[bytes]], timeout_s: float = WORKER_EXIT_S) -> None:
    """Wait for each process to exit on its own (workers quit with their master), then terminate/kill."""
    for proc in procs:
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            stop_process(proc)
        timeout_s = 1.0  # the first wait covered the time the others had too
