"""The web UI's rolling aggregator: steady-window statistics per step and the knee so far."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmload.load.live import LiveStats
from llmload.records import Record, StepMark
from llmload.step_stop import INFLIGHT


def _record(i: int, send_s: float, e2e_s: float, ttft_s: float = 0.1, ok: bool = True) -> Record:
    return Record(
        request_id=f"w-{i}", user_id=0, send_s=send_s, end_s=send_s + e2e_s, ok=ok,
        first_token_s=send_s + ttft_s, output_tokens=10,
    )


def _write_steps(run_dir: Path, marks: list[StepMark]) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "steps.jsonl").write_text("".join(m.to_json() + "\n" for m in marks))


def test_steady_window_rate_ttft_and_a_knee_from_finished_steps(tmp_path: Path) -> None:
    # step 1: 1 user, one 1-s request after another for 20 s; step 2: 2 users, no more throughput;
    # step 3 is still running. Warm-up auto = 5 s (the step is 20 s, the median E2E 1 s).
    _write_steps(tmp_path, [StepMark(0, 1, 0.0, 20.0), StepMark(1, 2, 20.0, 40.0), StepMark(2, 4, 40.0)])
    live = LiveStats(tmp_path)
    n = 0
    for t in range(20):
        live.add(_record(n := n + 1, float(t), 1.0))
    for t in range(20):
        live.add(_record(n := n + 1, 20.0 + t, 2.0, ttft_s=0.5))  # the second user only fails
        live.add(_record(n := n + 1, 20.0 + t + 0.5, 2.0, ttft_s=0.5, ok=False))
    live.add(_record(n := n + 1, 41.0, 1.0))
    snap = live.snapshot(now_s=46.0)
    one, two, running = snap["steps"]
    assert one["rps"] == pytest.approx(15 / 15)  # the work in [5, 20): 15 requests; steady: sent at 5..19
    assert one["requests_ok"] == 15 and one["ttft_s"]["p95"] == pytest.approx(0.1)
    assert two["failed"] == 20 and two["rps"] == pytest.approx(1.0) and two["ttft_s"]["p50"] == pytest.approx(0.5)
    assert snap["current"] is running and running["users"] == 4 and not running["finished"]
    assert snap["output_tokens_per_s_now"] == pytest.approx(7 * 10 / 10)  # 7 ok requests ended in [36, 46)
    # 2 users do not beat 1 user by more than 3 %: the knee is 1 user
    assert snap["knee"]["users"] == 1 and snap["knee"]["finished_steps"] == 2


def test_time_scale_reports_the_target_time_base(tmp_path: Path) -> None:
    _write_steps(tmp_path, [StepMark(0, 1, 0.0, 4.0)])
    live = LiveStats(tmp_path, time_scale=10.0)
    for t in range(40):
        live.add(_record(t, t * 0.1, 0.1, ttft_s=0.01))
    step = live.snapshot(now_s=10.0)["steps"][0]
    assert step["ttft_s"]["p50"] == pytest.approx(0.1) and step["e2e_s"]["p50"] == pytest.approx(1.0)
    assert step["rps"] == pytest.approx(1.0, rel=0.05)  # 10 per wall second = 1 per target second
    assert step["elapsed_s"] == pytest.approx(40.0)


def test_throughput_counts_the_work_in_the_window_as_the_report_does(tmp_path: Path) -> None:
    # 1 user, 4-s requests back to back for 20 s: the steady window is [5, 20) (warm-up: the median E2E, 4 s,
    # below 5 s). Completions in it: 3 (at 8, 12, 16), 0.2/s; the work in it: 0.75 + 1 + 1 + 1 requests, 0.25/s,
    # which is 1 user / 4 s (the response-time law) and what summary.json says (llmload.steady).
    _write_steps(tmp_path, [StepMark(0, 1, 0.0, 20.0)])
    live = LiveStats(tmp_path)
    for i, send_s in enumerate((0.0, 4.0, 8.0, 12.0, 16.0)):
        live.add(_record(i, send_s, 4.0))
    step = live.snapshot(now_s=30.0)["steps"][0]
    assert step["rps"] == pytest.approx(0.25) and step["output_tokens_per_s"] == pytest.approx(2.5)
    assert step["requests_ok"] == 3 and step["e2e_s"]["p50"] == pytest.approx(4.0)  # sent at 8, 12, 16


def test_a_poll_keeps_only_what_steps_still_running_need(tmp_path: Path) -> None:
    # 3 finished steps settled long ago and a running one: the settled steps' requests are dropped after a
    # poll (a poll then costs what the running step holds), their figures and the run's totals stay
    _write_steps(tmp_path, [StepMark(i, 1, 20.0 * i, 20.0 * (i + 1)) for i in range(3)] + [StepMark(3, 1, 60.0)])
    live = LiveStats(tmp_path)
    for t in range(75):
        live.add(_record(t, float(t), 1.0, ok=t % 10 != 0))
    first = live.snapshot(now_s=76.0)
    assert len(live.done.send_s) == 16  # ended at 60 s or later: the running step's requests
    again = live.snapshot(now_s=76.0)
    assert again["steps"][:3] == first["steps"][:3]
    assert (again["requests"], again["failed"]) == (75, 8)


def test_auto_steps_are_steady_once_the_previous_levels_requests_ended(tmp_path: Path) -> None:
    # step 2 starts at 10 while a 1-user request runs 8 -> 13: its window is [13, 30), not the auto warm-up
    _write_steps(tmp_path, [StepMark(0, 1, 0.0, 10.0), StepMark(1, 2, 10.0, 30.0)])
    live = LiveStats(tmp_path, warmup=INFLIGHT)
    live.add(_record(0, 8.0, 5.0))
    for i, send in enumerate((10.0, 13.5, 17.0, 20.5, 24.0)):
        live.add(_record(10 + i, send, 3.0))
    step = live.snapshot(now_s=31.0)["steps"][1]
    assert step["requests_ok"] == 4  # sent at 13.5 .. 24: the one sent at 10 started before the window
    assert step["rps"] == pytest.approx(4 / 17)  # the 10 -> 13 request did all its work before the window
