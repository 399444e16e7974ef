"""The Locust command lines llmload starts: a headless run, the web UI, a master's options, a worker. Locust
always runs as a child process of `llmload run` / `llmload ui`; this module never imports it."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llmload.load.run_options import locust_option_argv

LOCUSTFILE = Path(__file__).with_name("plate_detection.py")
# set in the environment of a Locust that `llmload run` started: the parent prints the exact figures and builds
# the report once Locust has ended, so Locust does neither
LAUNCHED_BY_RUN = "LLMLOAD_LAUNCHED_BY_RUN"
STOP_TIMEOUT_S = 120  # users being stopped (a step down, the end) finish the request they are in
WORKER_WAIT_S = 120  # how long a master waits for its workers to connect


def _locust(locustfile: str = "") -> list[str]:
    """Locust on llmload's locustfile, or on `locustfile` (--locustfile: one's own)."""
    return [sys.executable, "-m", "locust", "-f", locustfile or str(LOCUSTFILE)]


def headless_argv(values: Mapping[str, Any], run_dir: Path) -> list[str]:
    """`llmload run`'s Locust: the run's values (keyed as RUN_OPTIONS), its records going to `run_dir`."""
    options = locust_option_argv({**values, "out": str(run_dir)})
    return [*_locust(values.get("locustfile") or ""), "--headless", *options, "--only-summary", "--stop-timeout",
            str(STOP_TIMEOUT_S), "--loglevel", "WARNING"]  # fmt: skip


def ui_argv(values: Mapping[str, Any], web_host: str, web_port: int) -> list[str]:
    """`llmload ui`'s Locust: the values become the start form's defaults; each run started from the form
    gets its own reports/<run-id> directory."""
    options = locust_option_argv(values, leave_out=("out",))
    return [*_locust(values.get("locustfile") or ""), *options, "--stop-timeout", str(STOP_TIMEOUT_S),
            "--web-host", web_host, "--web-port", str(web_port), "--loglevel", "INFO"]  # fmt: skip


def worker_argv(master_host: str, master_port: int, locustfile: str = "") -> list[str]:
    return [*_locust(locustfile), "--worker", "--master-host", master_host, "--master-port", str(master_port),
            "--loglevel", "WARNING"]  # fmt: skip


def master_options(bind_host: str, port: int, workers: int | None = None) -> list[str]:
    """A master bound to bind_host:port; headless (`workers` given), it starts the plan once that many workers
    are connected (or gives up after WORKER_WAIT_S, exit 1)."""
    options = ["--master", "--master-bind-host", bind_host, "--master-bind-port", str(port)]
    if workers is not None:
        options += ["--expect-workers", str(workers), "--expect-workers-max-wait", str(WORKER_WAIT_S)]
    return options
