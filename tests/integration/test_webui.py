"""`llmload ui`: Locust's web UI with the scenario's start form, the LLM live tabs fed while the test runs,
and the run's report reachable from the UI once the test stops (by the shape, or from the UI)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
from simulator import simulator
from test_distributed import server_successes

from llmload.processes import free_port

PLANTED_KEY = "sk-planted-web-ui-key-7f3a"


def http(url: str, data: dict[str, str] | None = None, timeout_s: float = 10) -> tuple[int, bytes]:
    body = None if data is None else urllib.parse.urlencode(data).encode()
    try:
        with urllib.request.urlopen(url, data=body, timeout=timeout_s) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_for(what: str, check: Callable[[], Any], timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            value = check()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@contextmanager
def web_ui(target: str, cwd: Path, *extra: str) -> Iterator[str]:
    """`llmload ui` on a free loopback port, run from `cwd` (its runs go to cwd/reports/)."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmload.cli", "ui", "--host", target, "--port", str(port),
         "--api-key", PLANTED_KEY, "--dataset", str(Path(__file__).resolve().parents[2] / "datasets" /
                                                     "plate_comments.jsonl"), *extra],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for("the web UI", lambda: http(url + "/")[0] == 200, 30)
        yield url
    finally:
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGTERM)  # llmload forwards it to Locust, which stops its workers
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for child in children:  # nothing may be left behind
            if child.is_running() and child.status() != psutil.STATUS_ZOMBIE:
                child.kill()
                raise AssertionError(f"process {child.pid} outlived `llmload ui`")


def template_args(url: str) -> dict[str, Any]:
    page = http(url + "/")[1].decode()
    start = page.index("window.templateArgs = ") + len("window.templateArgs = ")
    args: dict[str, Any] = json.loads(page[start : page.index("\n", start)])
    return args


def live_rows(url: str) -> dict[str, str]:
    stats = json.loads(http(url + "/stats/requests")[1])
    tables = {t["key"]: t["data"] for t in stats["extended_stats"]}
    return {row["metric"]: row["value"] for row in tables["llmload"]}


def test_start_form_live_tabs_and_report_after_the_shape_ends(tmp_path: Path) -> None:
    with simulator("tiny", tmp_path) as target, web_ui(target, tmp_path) as url:
        args = template_args(url)
        form = args["extra_options"]
        assert form["step_users"]["default_value"] == "1:40:1"
        assert form["batch_size"]["default_value"] == 100 and form["arrival"]["choices"] == ["constant", "poisson"]
        assert form["api_key"]["is_secret"] is True and form["api_key"]["default_value"] == ""
        assert PLANTED_KEY not in http(url + "/")[1].decode()
        assert args["hide_common_options"] is True  # the step shape decides the users
        assert [t["key"] for t in args["extended_tabs"]] == ["llmload", "llmsteps"]
        assert any(f["href"] == "/llmload/report" for f in args["extended_csv_files"])
        assert http(url + "/llmload/report")[0] == 404  # nothing has run yet

        before = server_successes(target)
        form_data = {"host": target, "step_users": "2,3,4", "step_duration": "3s", "batch_size": "5",
                     "api_key": ""}
        assert json.loads(http(url + "/swarm", form_data)[1])["success"] is True
        running = wait_for(
            "live TTFT in the LLM live tab",
            lambda: (rows := live_rows(url))["TTFT p50 / p95 (step, steady)"] != "-" and rows, 20,
        )
        assert running["state"].startswith("running") and running["step"].startswith(("1/3", "2/3"))
        assert float(running["output tokens/s (last 10 s)"]) > 0
        live = wait_for("the report", lambda: (s := json.loads(http(url + "/llmload/live")[1]))["report_ready"]
                        and s, 40)
        status, report = http(url + "/llmload/report")
        served = server_successes(target) - before
    assert status == 200 and b"<html" in report[:500].lower()
    assert [s["users"] for s in live["steps"]] == [2, 3, 4] and all(s["finished"] for s in live["steps"])
    assert live["knee"]["finished_steps"] == 3 and live["knee"]["users"] in (2, 3, 4)
    run_dir = tmp_path / live["last_run_dir"]
    lines = (run_dir / "records.jsonl").read_text().splitlines()
    assert len(lines) == served == live["requests"] > 20
    for path in run_dir.iterdir():
        assert PLANTED_KEY not in path.read_text(errors="replace"), path


def test_stop_from_the_ui_with_two_workers_keeps_every_record(tmp_path: Path) -> None:
    with simulator("tiny", tmp_path) as target, web_ui(target, tmp_path, "--workers", "2") as url:
        wait_for("2 workers", lambda: template_args(url)["worker_count"] == 2, 30)
        before = server_successes(target)
        form_data = {"host": target, "step_users": "4,8", "step_duration": "60s", "batch_size": "5"}
        assert json.loads(http(url + "/swarm", form_data)[1])["success"] is True
        wait_for("100 records", lambda: json.loads(http(url + "/llmload/live")[1])["requests"] >= 100, 30)
        assert http(url + "/stop", {}, timeout_s=60)[0] == 200
        live = wait_for("the report", lambda: (s := json.loads(http(url + "/llmload/live")[1]))["report_ready"]
                        and s, 40)
        served = server_successes(target) - before
    run_dir = tmp_path / live["last_run_dir"]
    lines = (run_dir / "records.jsonl").read_text().splitlines()
    assert len(lines) == served == live["requests"]
    meta = json.loads((run_dir / "meta.json").read_text())
    assert len(meta["workers"]) == 2 and sum(w["received"] for w in meta["workers"].values()) == len(lines)
    assert all(w["sent"] == w["received"] > 0 for w in meta["workers"].values()), meta["workers"]
