"""Nothing lost: a killed runner keeps every finished request; Ctrl-C/SIGTERM close the run properly;
`llmload report` works on any partial run directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from test_faults_support import REPO, llmload_cmd, records, run_llmload, sim_counts, sim_process, stop_group

USERS = 4


def _start_run(url: str, run_dir: Path, log_dir: Path) -> subprocess.Popen[bytes]:
    argv = llmload_cmd("run", "--host", url, "--users", str(USERS), "--step-duration", "40s",
                       "--batch-size", "5", "--out", str(run_dir))
    with (log_dir / "run.out").open("wb") as out, (log_dir / "run.err").open("wb") as err:
        return subprocess.Popen(argv, cwd=REPO, stdout=out, stderr=err, start_new_session=True)


def _wait_for_records(run_dir: Path, proc: subprocess.Popen[bytes], count: int) -> None:
    path = run_dir / "records.jsonl"
    deadline = time.monotonic() + 25
    while not (path.exists() and path.read_bytes().count(b"\n") >= count):
        assert proc.poll() is None, "the run ended early"
        assert time.monotonic() < deadline, "no records"
        time.sleep(0.1)


def _locust_child(proc: subprocess.Popen[bytes]) -> psutil.Process:
    children = [c for c in psutil.Process(proc.pid).children() if "locust" in " ".join(c.cmdline())]
    assert len(children) == 1
    return children[0]


def test_sigkill_of_the_runner_loses_at_most_the_requests_in_flight(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    with sim_process("tiny", tmp_path / "sim.log", time_scale=2.0) as (url, _):
        proc = _start_run(url, run_dir, tmp_path)
        try:
            _wait_for_records(run_dir, proc, 150)
            locust = _locust_child(proc)
            os.killpg(locust.pid, signal.SIGKILL)  # Locust runs in its own process group
            rc = proc.wait(45)
        finally:
            stop_group(proc)
        time.sleep(0.3)
        counts = sim_counts(url)
    assert rc == 4  # the load generator failed; the partial report is still written
    recs = records(run_dir)
    ok = sum(r["ok"] for r in recs)
    # the simulator completed these; the records miss at most the requests that were in flight
    assert 0 <= counts["completed_ok"] - ok <= USERS, (counts, ok)
    assert 0 <= counts["requests_received"] - 1 - len(recs) <= USERS  # -1: the preflight request
    assert counts["in_flight"] == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["complete"] is False and "SIGKILL" in summary["stopped_reason"]
    assert summary["requests"]["total"] == len(recs) >= 150
    assert "partial run" in (tmp_path / "run.err").read_text()


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_sigterm_finishes_the_records_and_writes_a_partial_report(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    run_dir = tmp_path / "run"
    with sim_process("tiny", tmp_path / "sim.log", time_scale=2.0) as (url, _):
        proc = _start_run(url, run_dir, tmp_path)
        try:
            _wait_for_records(run_dir, proc, 100)
            os.kill(proc.pid, sig)  # as a terminal's Ctrl-C or a service manager's stop would
            rc = proc.wait(45)
        finally:
            stop_group(proc)
        time.sleep(0.3)
        counts = sim_counts(url)
    assert rc == code, (tmp_path / "run.err").read_text()[-2000:]
    recs = records(run_dir)
    # users finished the request they were in: every request the simulator saw is a record
    assert len(recs) == counts["requests_received"] - 1
    assert sum(r["ok"] for r in recs) == counts["completed_ok"]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["complete"] is False and sig.name in summary["stopped_reason"]
    assert summary["requests"]["total"] == len(recs)
    assert (run_dir / "report.html").exists()
    meta = json.loads((run_dir / "meta.json").read_text())
    assert "ended_s" in meta and meta["records"] == len(recs)


def test_report_works_on_a_torn_partial_run_directory(tmp_path: Path) -> None:
    from helpers import closed_loop, write_run

    steps, recs = closed_loop([2, 4], 20.0, {2: 2.0, 4: 2.5})
    steps[-1].end_s = None  # killed during the last step
    run_dir = write_run(tmp_path / "run", steps, recs)
    meta = json.loads((run_dir / "meta.json").read_text())
    del meta["ended_s"]
    (run_dir / "meta.json").write_text(json.dumps(meta))
    with (run_dir / "records.jsonl").open("a") as f:
        f.write('{"request_id":"torn","user_id":0,"send_s":17000')  # the writer died mid-line
    (run_dir / "generator.jsonl").write_text('{"t_s": 1700000001.0, "cpu_perc')
    result = run_llmload("report", str(run_dir))
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["requests"]["total"] == len(recs) and summary["complete"] is False
    assert (run_dir / "report.html").stat().st_size > 1000
    # a corrupt line that is not the last one is bad input: one line, exit 2
    lines = (run_dir / "records.jsonl").read_text().splitlines()
    (run_dir / "records.jsonl").write_text("\n".join([lines[0], "{oops", *lines[1:]]) + "\n")
    bad = run_llmload("report", str(run_dir))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "records.jsonl:2: corrupt record" in bad.stderr


def test_report_of_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for folder, needle in ((tmp_path / "nope", "not a run directory"), (tmp_path / "empty", "no records.jsonl")):
        result = run_llmload("report", str(folder))
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.count("\n") == 1 and needle in result.stderr
