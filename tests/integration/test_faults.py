"""Every injected fault becomes a failed record of the right category, and the run goes on."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from test_faults_support import fault_plan, records, run_llmload, sim_counts, sim_process, sim_thread

from llmload.client.stream import ChatStreamClient
from llmload.client.timeouts import Timeouts
from llmload.processes import free_port

BODY: dict[str, Any] = {
    "model": "sim/tiny",
    "messages": [{"role": "user", "content": "看到京A12345了"}],
    "stream": True,
    "stream_options": {"include_usage": True},
    "max_tokens": 16,
    "ignore_eos": True,
}
FAST = Timeouts(connect_s=2.0, first_token_s=5.0, total_s=10.0)


@pytest.mark.parametrize(
    ("fault", "timeouts", "kind", "status"),
    [
        ("http_500=1", FAST, "http_status", 500),
        ("http_503=1", FAST, "http_status", 503),
        ("http_429=1", FAST, "http_status", 429),
        ("slow_headers=1:1.5s", Timeouts(2.0, 0.4, 10.0), "first_token_timeout", None),
        ("stall_first=1:1.5s", Timeouts(2.0, 0.4, 10.0), "first_token_timeout", 200),
        ("stall=1:1.5s", Timeouts(2.0, 5.0, 0.5), "total_timeout", 200),
        ("disconnect=1", FAST, "disconnect", 200),
        ("malformed=1", FAST, "malformed", 200),
        ("no_done=1", FAST, "incomplete", 200),
    ],
)
def test_each_fault_is_one_failed_record_of_its_category(
    fault: str, timeouts: Timeouts, kind: str, status: int | None
) -> None:
    name = fault.split("=")[0]
    with sim_thread("tiny", fault_plan(fault)) as server:
        client = ChatStreamClient(f"http://127.0.0.1:{server.port}", timeouts=timeouts)
        outcomes = [client.chat_stream(BODY, keep_text=keep) for keep in (True, False)]  # scored and --no-score
        client.close()
        for outcome in outcomes:
            assert (outcome.error_kind, outcome.http_status) == (kind, status), outcome.error
            assert not outcome.ok and outcome.error
        if kind.endswith("timeout"):  # bounded by the timeout (0.4 or 0.5 s), not by the fault's 1.5 s
            limit = timeouts.total_s if kind == "total_timeout" else timeouts.first_token_s
            assert all(limit <= o.end_s - o.send_s < 1.5 for o in outcomes)
        info = settled_info(server)
    assert info["faults_injected"] == {name: 2}
    assert info["requests_received"] == 2 and info["completed_ok"] == 0 and info["in_flight"] == 0


def settled_info(server: Any, timeout_s: float = 2.0) -> dict[str, Any]:
    """The simulator's tally once its handlers are done: it counts a request after its last write, which
    the client may have read (and returned on) a moment earlier."""
    deadline = time.monotonic() + timeout_s
    while server.faults.info()["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.02)
    info: dict[str, Any] = server.faults.info()
    return info


def test_a_stall_shorter_than_the_timeouts_is_only_slow() -> None:
    with sim_thread("tiny", fault_plan("stall=1:0.3s")) as server:
        client = ChatStreamClient(f"http://127.0.0.1:{server.port}", timeouts=FAST)
        outcome = client.chat_stream(BODY)
        client.close()
        info = settled_info(server)
    assert outcome.ok and outcome.facts.output_tokens == 16
    gaps = [b - a for a, b in zip(outcome.facts.chunk_s, outcome.facts.chunk_s[1:], strict=False)]
    assert 0.28 <= max(gaps) <= 0.6
    assert info["completed_ok"] == 1 and info["faults_injected"] == {"stall": 1}


def test_refused_connection_is_a_connect_record() -> None:
    client = ChatStreamClient(f"http://127.0.0.1:{free_port()}", timeouts=FAST)
    outcome = client.chat_stream(BODY)
    second = client.chat_stream(BODY)  # the client is still usable after a failure
    client.close()
    assert outcome.error_kind == second.error_kind == "connect"


CATEGORY_OF = {
    "http_500": "http_status", "http_503": "http_status", "http_429": "http_status",
    "slow_headers": "first_token_timeout", "stall_first": "first_token_timeout",
    "stall": "total_timeout", "disconnect": "disconnect", "malformed": "malformed", "no_done": "incomplete",
}


def test_a_run_against_a_faulty_server_records_every_category_and_goes_on(tmp_path: Path) -> None:
    faults = ["http_500=0.04", "http_503=0.03", "http_429=0.03", "slow_headers=0.03:2s",
              "stall_first=0.03:2s", "stall=0.03:2s", "disconnect=0.05", "malformed=0.05", "no_done=0.05"]
    flags = [f"--fault={f}" for f in faults]
    run_dir = tmp_path / "run"
    with sim_process("tiny", tmp_path / "sim.log", *flags, "--seed", "3", time_scale=5.0) as (url, _):
        result = run_llmload(
            "run", "--host", url, "--users", "6,6", "--step-duration", "4s", "--batch-size", "5",
            "--first-token-timeout", "1s", "--request-timeout", "1s", "--out", str(run_dir), timeout_s=50,
        )
        time.sleep(0.3)
        counts = sim_counts(url)
    assert result.returncode == 0, result.stderr[-2000:]
    recs = records(run_dir)
    by_kind = Counter(r["error_kind"] for r in recs if not r["ok"])
    assert set(by_kind) == set(CATEGORY_OF.values()), by_kind
    # the simulator's own count: every request it received is a record, except the one preflight request
    assert counts["in_flight"] == 0
    assert len(recs) == counts["requests_received"] - 1
    assert sum(r["ok"] for r in recs) == counts["completed_ok"]
    expected = Counter()
    for fault, n in counts["faults_injected"].items():
        expected[CATEGORY_OF[fault]] += n
    # per category the records match the faults, but for the preflight request (at most one fault)
    assert all(expected[k] - 1 <= by_kind[k] <= expected[k] for k in expected), (expected, by_kind)
    assert sum(expected.values()) - sum(by_kind.values()) in (0, 1)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["requests"]["failed"] == sum(by_kind.values()) and summary["complete"] is True
    assert summary["requests"]["ok"] > 100


def test_preflight_rejection_exits_2_before_any_load(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    with sim_process("tiny", tmp_path / "sim.log") as (url, _):
        result = run_llmload("run", "--host", url, "--users", "4", "--step-duration", "5s",
                             "--max-tokens", "5000", "--out", str(run_dir))
        counts = sim_counts(url)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert "preflight" in lines[0] and "maximum context length is 2048 tokens" in lines[0]
    assert counts["requests_received"] == 1 and counts["rejected"] == 1  # one request, no load
    assert not (run_dir / "records.jsonl").exists()


def test_unreachable_target_exits_3_and_creates_nothing(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    started = time.monotonic()
    result = run_llmload(
        "run", "--host", f"http://127.0.0.1:{free_port()}", "--connect-timeout", "60s", "--out", str(run_dir)
    )
    assert result.returncode == 3 and "target unreachable" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not run_dir.exists()
    assert time.monotonic() - started < 60  # a refused connection is final: nothing waited for the timeout


def test_target_dying_mid_run_ends_the_run_early_marked_partial(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    with sim_process("tiny", tmp_path / "sim.log", "--fault", "exit_at=7s") as (url, sim):
        result = run_llmload(
            "run", "--host", url, "--users", "4,4,4,4,4", "--step-duration", "6s", "--batch-size", "5",
            "--connect-timeout", "2s", "--out", str(run_dir), timeout_s=55,
        )
        assert sim.wait(5) == 0
    log = (tmp_path / "sim.log").read_text()
    assert "fault exit_at: exiting after 7 s" in log and '"completed_ok"' in log
    assert result.returncode == 3, result.stderr[-2000:]
    recs = records(run_dir)
    died_s = max(r["end_s"] for r in recs if r["ok"])
    ended_s = json.loads((run_dir / "meta.json").read_text())["ended_s"]
    started_s = json.loads((run_dir / "steps.jsonl").read_text().splitlines()[0])["start_s"]
    assert ended_s - started_s < 30, ended_s - started_s  # by the run's own clock: not the 30 s plan
    # lost after 2 s of refused connections (--connect-timeout), + at most one 2 s backoff + the 1 s tick
    assert 2.0 <= ended_s - died_s <= 6.0, ended_s - died_s
    kinds = Counter(r["error_kind"] for r in recs)
    assert kinds[None] > 50 and kinds["connect"] >= 3, kinds
    assert kinds["connect"] < 60  # users back off: no hot loop against a dead server
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["complete"] is False and summary["stopped_reason"].startswith("target lost")
    assert (run_dir / "report.html").exists()
