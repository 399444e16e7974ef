"""`--step-duration auto` end to end against the simulator: each step runs until its throughput's and p95 E2E's
95% intervals are within the tolerance (or its bound), and the report keeps the window the generator stopped
on; a fixed step too short for one answer is warned about at once and flagged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from simulator import llmload, simulator, summary

# run with no other test beside them (mark alone): they stop steps on measured intervals, which a neighbour's
# jitter widens
TOLERANCE = 0.05


def _steps_jsonl(run_dir: Path) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in (run_dir / "steps.jsonl").read_text().splitlines()]
    return [line for line in lines if line.get("end_s")]


def _p95_ci_rel(step: dict[str, Any]) -> float:
    low, high = step["e2e_s"]["ci95"]["p95"]
    p95 = step["e2e_s"]["p95"]
    return float(max(p95 - low, high - p95) / p95)


def _first_sends_after(run_dir: Path, start_s: float) -> list[float]:
    """Seconds from `start_s` to the first request of each user that began after it."""
    first: dict[tuple[str, int], float] = {}
    for line in (run_dir / "records.jsonl").read_text().splitlines():
        record = json.loads(line)
        key = (record["worker"], record["user_id"])
        first[key] = min(first.get(key, record["send_s"]), record["send_s"])
    return sorted(t - start_s for t in first.values() if t >= start_s)


def _auto_run(profile: str, tmp_path: Path, users: str, max_step: str, *extra: str) -> dict[str, Any]:
    run_dir = tmp_path / "run"
    with simulator(profile, tmp_path) as url:
        result = llmload(
            "run", "--host", url, "--users", users, "--step-duration", "auto", "--max-step-duration", max_step,
            "--batch-size", "5", "--out", str(run_dir), *extra,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return {"summary": summary(run_dir), "marks": _steps_jsonl(run_dir), "stdout": result.stdout, "dir": run_dir}


@pytest.mark.alone
def test_fixed_timing_steps_stop_once_30_answers_pin_both_intervals(tmp_path: Path) -> None:
    # 1.36 s answers: 2 users need 15 cycles (~20 s) for 30 samples, 6 users 5 cycles after a warm-up of one
    run = _auto_run("fixed-100ms-20ms", tmp_path, "2,6", "60s")
    for step, mark in zip(run["summary"]["steps"], run["marks"], strict=True):
        stop = step["stop"]
        assert stop["reason"] == "converged" and not stop["less_certain"], step["users"]
        assert stop["samples"] >= 30 and step["requests_ok"] >= 30
        assert stop["rps_ci_rel"] <= TOLERANCE and stop["e2e_p95_ci_rel"] <= TOLERANCE
        assert _p95_ci_rel(step) <= TOLERANCE  # the report's own interval of the same window
        assert mark["end_s"] - mark["start_s"] < 60.0 * 0.6  # it stopped well before its bound
    lines = run["stdout"].splitlines()
    assert lines[1].startswith("llmload: plan estimate: 2 steps, about 21 times one user's answer time")
    assert lines[3].startswith("plan estimate: 1 more steps, about ")  # after the first step, in seconds
    two, six = run["summary"]["steps"]
    assert two["warmup_s"] == 0.0 and 0.0 < six["warmup_s"] <= 1.4  # until the 2 users' answers in flight ended
    # no batching: throughput grows with users; each step's rps is known to ±TOLERANCE (its stopping rule), so
    # their ratio to about ±2 x TOLERANCE (a fresh clone once read 2.895: 6 users' answers 3.5% slower)
    assert abs(six["rps"] / two["rps"] - 3.0) <= 3.0 * 2 * TOLERANCE
    joined = _first_sends_after(run["dir"], run["marks"][1]["start_s"])
    assert len(joined) == 4 and joined[-1] > 0.2  # spread over one 1.36 s answer, not sent at once
    assert joined[-1] < 1.36 + 0.2


@pytest.mark.alone
def test_kv_bound_steps_stop_within_their_bounds(tmp_path: Path) -> None:
    # kv-12: throughput peaks at 12 users; past it preemptions make answers vary (the interval narrows slower)
    run = _auto_run("kv-12", tmp_path, "6,12,16", "40s")
    for step, mark in zip(run["summary"]["steps"], run["marks"], strict=True):
        stop = step["stop"]
        assert mark["end_s"] - mark["start_s"] <= 40.0 + 1.5, step["users"]  # one shape tick past the bound
        if stop["reason"] == "converged":
            assert stop["samples"] >= 30 and stop["rps_ci_rel"] <= TOLERANCE
            assert stop["e2e_p95_ci_rel"] <= TOLERANCE and _p95_ci_rel(step) <= TOLERANCE
        else:
            assert stop["less_certain"] and stop["reason"] == "max duration"
    below = run["summary"]["steps"][0]
    assert below["stop"]["reason"] == "converged"  # 6 users: no preemption, answers alike


@pytest.mark.alone
def test_users_auto_aims_at_the_kv_caches_capacity(tmp_path: Path) -> None:
    # kv-12: 4 users fill about a third of the cache (12 fit): the plan aims near 11 instead of climbing 4, 8,
    # 16, brackets the knee from below and ends on a level past the cache's capacity, which preempts
    run = _auto_run("kv-12", tmp_path, "auto", "40s", "--metrics-interval", "0.25s")
    levels = [mark["users"] for mark in run["marks"]]
    steps = {step["users"]: step for step in run["summary"]["steps"]}
    assert levels[0] == 4 and 9 <= levels[1] <= 12 and len(levels) <= 6, levels
    assert abs(run["summary"]["knee"]["users"] - 12) <= 1, levels
    assert steps[levels[-1]]["server"]["preemptions"] > 0  # past the capacity
    assert steps[levels[1]]["stop"]["rps_tolerance"] == 0.015  # near the knee: 1.5%, not the 5% of the others
    assert run["summary"]["limit"]["users"] > run["summary"]["knee"]["users"]


@pytest.mark.alone  # 2 s steps of 1.36 s answers: a late shape tick would let an answer into the window
def test_a_fixed_step_too_short_for_one_answer_is_warned_about_and_flagged(tmp_path: Path) -> None:
    # 1.36 s answers, 2 s steps: warm-up 1 s (half the step), a window of 1 s holds none
    run_dir = tmp_path / "run"
    with simulator("fixed-100ms-20ms", tmp_path) as url:
        result = llmload(
            "run", "--host", url, "--users", "1,2", "--step-duration", "2s", "--batch-size", "5",
            "--out", str(run_dir),
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    warnings = [line for line in result.stdout.splitlines() if line.startswith("llmload: warning: step")]
    assert len(warnings) == 2 and "held no complete request" in warnings[0]
    step_line = result.stdout.splitlines().index(warnings[0]) - 1
    assert result.stdout.splitlines()[step_line].startswith("step   1/2")  # said as the step ended
    for step in summary(run_dir)["steps"]:
        assert step["requests_ok"] == 0
        flag = step["validity"]["empty_window"]
        # the window is the step's own (its marks less the warm-up), shorter than any answer: why it is empty.
        # Not its planned 1 s to the millisecond: that is Locust's shape tick on time (a quiet fresh clone read
        # 0.950 s once).
        assert flag["window_s"] == pytest.approx(step["window_s"]) and flag["window_s"] < flag["shortest_e2e_s"]
        assert 1.3 < flag["shortest_e2e_s"] < 1.5 and "--step-duration auto" in flag["reason"]
