"""Helpers for the fault, nothing-lost and security tests: a faulty simulator in a thread or a process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from llmload.client.blocking_http import TargetUnreachable, get_json, http_get
from llmload.processes import free_port
from llmload.sim.app import SimServer, start_sim_server
from llmload.sim.faults import FaultPlan, build_plan, flag_items
from llmload.sim.sim_profile import load_profile

REPO = Path(__file__).resolve().parents[2]


def fault_plan(*flags: str) -> FaultPlan:
    return build_plan(flag_items(list(flags)))


@contextmanager
def sim_thread(profile: str, plan: FaultPlan | None = None, api_key: str | None = None,
               seed: int = 0) -> Iterator[SimServer]:
    """The simulator on an ephemeral loopback port, served by an event loop in a daemon thread."""
    loop = asyncio.new_event_loop()
    box: dict[str, SimServer] = {}
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        box["s"] = loop.run_until_complete(
            start_sim_server(load_profile(profile), port=0, seed=seed, faults=plan, api_key=api_key)
        )
        ready.set()
        loop.run_forever()
        loop.run_until_complete(box["s"].close())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield box["s"]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@contextmanager
def sim_process(profile: str, log_path: Path, *flags: str, env: dict[str, str] | None = None,
                time_scale: float | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`llmload sim` as a subprocess (its own process group); yields (url, process); always cleaned up."""
    port = free_port()
    argv = [sys.executable, "-m", "llmload.cli", "sim", "--profile", profile, "--port", str(port), *flags]
    if time_scale is not None:
        argv += ["--time-scale", str(time_scale)]
    with log_path.open("w") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, log_path.read_text()
            try:
                if http_get(url + "/health", 1.0)[0] == 200:
                    break
            except TargetUnreachable:
                pass
            assert time.monotonic() < deadline, "simulator did not start"
            time.sleep(0.05)
        yield url, proc
    finally:
        stop_group(proc)


def stop_group(proc: subprocess.Popen[Any], timeout_s: float = 10) -> None:
    """SIGTERM the process group of ``proc`` (started with start_new_session), SIGKILL if it lingers."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass


def sim_counts(url: str) -> dict[str, Any]:
    status, data = get_json(url + "/llmload/sim", 5.0)
    assert status == 200 and isinstance(data, dict)
    return data


def records(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines() if line.strip()]


def llmload_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "llmload.cli", *args]


def run_llmload(*args: str, timeout_s: float = 60, env: dict[str, str] | None = None
                ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(llmload_cmd(*args), cwd=REPO, capture_output=True, text=True, timeout=timeout_s,
                          env=env, check=False)
