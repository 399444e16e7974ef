"""Distributed runs: a Locust master plus workers; every request any worker made is in records.jsonl
exactly once, counted against the simulator's own tally of the requests that reached it."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from simulator import REPO, llmload, simulator

from llmload.processes import free_port

RUN = ("--users", "2,4", "--step-duration", "2s", "--batch-size", "5")


def server_successes(url: str) -> float:
    """The simulator's count of completed requests (all finish reasons)."""
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("vllm:request_success_total{")
    )


def server_received(url: str) -> int:
    """The simulator's own tally of requests that reached it (every POST, whatever became of it)."""
    with urllib.request.urlopen(url + "/llmload/sim", timeout=5) as response:
        return int(json.loads(response.read())["requests_received"])


def records(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]


def assert_exactly_once(run_dir: Path, server_count: float, workers: int) -> None:
    rows = records(run_dir)
    assert len(rows) == server_count > 20
    assert len({r["request_id"] for r in rows}) == len(rows)
    assert len({r["worker"] for r in rows}) == workers  # every worker sent requests
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["records"] == len(rows)
    per_worker = meta["workers"]
    assert len(per_worker) == workers
    assert all(w["sent"] == w["received"] > 0 for w in per_worker.values()), per_worker
    assert sum(w["received"] for w in per_worker.values()) == len(rows)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["requests"]["total"] == len(rows)  # the report saw the last batches too
    samples = [json.loads(line) for line in (run_dir / "generator.jsonl").read_text().splitlines()]
    assert len({s["worker"] for s in samples if "worker" in s}) == workers  # health from every worker


def test_two_local_workers_record_every_request_exactly_once(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    with simulator("tiny", tmp_path) as url:
        before = server_received(url)
        result = llmload("run", "--host", url, *RUN, "--out", str(run_dir), "--workers", "2", timeout_s=55)
        # every request that reached the server, less the preflight's (it may even complete there first:
        # counting completions, a busy machine once saw 301 for 300 records)
        sent = server_received(url) - before - 1
    assert result.returncode == 0, result.stderr[-2000:]
    assert_exactly_once(run_dir, sent, workers=2)
    # headless output in distributed mode: a progress line per step, then the verdict table
    assert "step   1/2  users    2" in result.stdout and "step   2/2  users    4" in result.stdout
    assert "optimal concurrency" in result.stdout and "requests " in result.stdout
    # the report is built once, by `llmload run` after the master ended (not by the master before)
    assert result.stdout.count("report: ") == 1 and "llmload report:" not in result.stderr


def test_master_and_worker_started_separately_as_on_two_hosts(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    port = str(free_port())
    with simulator("tiny", tmp_path) as url:
        before = server_received(url)
        worker = subprocess.Popen(
            [sys.executable, "-m", "llmload.cli", "run", "--worker", "--master-host", "127.0.0.1",
             "--master-port", port],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        try:
            result = llmload(
                "run", "--host", url, *RUN, "--out", str(run_dir), "--master", "--workers", "1",
                "--master-bind-host", "127.0.0.1", "--master-port", port, timeout_s=55,
            )
            worker_out, _ = worker.communicate(timeout=20)  # the worker quits with its master
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        sent = server_received(url) - before - 1  # less the master's preflight
    assert result.returncode == 0, result.stderr[-2000:]
    assert worker.returncode == 0, worker_out[-2000:]
    assert "master waiting for 1 workers" in result.stdout
    assert_exactly_once(run_dir, sent, workers=1)


def test_distributed_flags_are_checked_before_anything_starts() -> None:
    for args, message in (
        (("--master",), "--master needs --workers N"),
        (("--master", "--worker", "--workers", "1"), "exclude each other"),
        (("--workers", "-1"), "--workers: -1 must be 0 or more"),
        (("--worker", "--master-port", "0"), "--master-port: 0 is not a port number"),
    ):
        result = llmload("run", "--host", "http://127.0.0.1:9", *args, timeout_s=30)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr
