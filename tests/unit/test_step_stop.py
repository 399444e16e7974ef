"""`--step-duration auto` (llmload.step_stop): the in-flight warm-up, the two intervals, the stop decision, the
recorder that asks it while the test runs, and the report that keeps the same window and says why a step ended."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from helpers import T0, rec, write_run
from llmload.analysis.pipeline import analyze_run
from llmload.analysis.stats import bootstrap_percentile_ci
from llmload.load.context import join_delay_s
from llmload.load.recorder import RunRecorder
from llmload.records import StepMark, read_steps
from llmload.step_stop import (
    CONVERGED,
    MAX_DURATION,
    PAST_KNEE,
    Precision,
    StopRule,
    decide,
    inflight_warmup_end_s,
    precision,
)


def test_the_warm_up_ends_when_the_last_request_running_at_the_start_ended() -> None:
    # sent at 0, 5, 12 and ending at 14, 9, 30; the step starts at 10: the 0->14 request ran across it,
    # 5->9 ended before it, 12->30 was sent in it
    assert inflight_warmup_end_s(10.0, [0.0, 5.0, 12.0], [14.0, 9.0, 30.0]) == 14.0
    assert inflight_warmup_end_s(10.0, [12.0], [30.0]) == 10.0  # nothing ran across: steady at once


def test_identical_answers_pin_both_intervals_at_once() -> None:
    m = precision([40.0] * 30, [39.5] * 30, seed=0)
    assert (m.samples, m.rps_ci_rel, m.e2e_p95_s, m.e2e_p95_ci_rel) == (30, 0.0, 39.5, 0.0)
    assert m.within(StopRule(min_samples=30))
    assert not m.within(StopRule(min_samples=31))  # the floor holds whatever the intervals say


def test_the_throughput_interval_is_students_t_of_the_mean_hold() -> None:
    # holds 9, 10, 11 (x10): mean 10, sd 0.8303, t(29, 0.975) = 2.0452 -> 2.0452 x 0.8303 / sqrt(30) / 10
    holds = [9.0, 10.0, 11.0] * 10
    m = precision(holds, holds, seed=0)
    assert m.rps_ci_rel == pytest.approx(2.0452 * 0.83045 / 30**0.5 / 10, rel=1e-3)


def test_the_p95_interval_is_the_reports_bootstrap_of_the_same_samples() -> None:
    e2e = np.random.default_rng(7).normal(40.0, 4.0, size=60)
    m = precision(e2e, e2e, seed=3)
    low, high = bootstrap_percentile_ci(e2e, seed=3)["p95"] or [0.0, 0.0]
    p95 = float(np.percentile(e2e, 95))
    assert m.e2e_p95_ci_rel == pytest.approx(max(p95 - low, high - p95) / p95)
    assert 0.02 < (m.e2e_p95_ci_rel or 0) < 0.2  # 10% spread, 60 samples: not within 5% yet
    low, high = bootstrap_percentile_ci(e2e, seed=3)["p50"] or [0.0, 0.0]
    p50 = float(np.percentile(e2e, 50))
    assert m.e2e_p50_ci_rel == pytest.approx(max(p50 - low, high - p50) / p50)  # the median's, the same draws
    assert (m.e2e_p50_ci_rel or 1) < (m.e2e_p95_ci_rel or 0)  # pinned long before the tail


def test_a_step_runs_on_until_it_converges_or_reaches_its_bound() -> None:
    rule = StopRule(min_samples=30, tolerance=0.05, max_step_s=100.0)
    assert decide(rule, 50.0, None, None) is None  # still warming up
    few = precision([10.0] * 5, [10.0] * 5, seed=0)
    assert decide(rule, 50.0, few, T0) is None
    bound = decide(rule, 100.0, few, T0)
    assert bound is not None and (bound.reason, bound.samples) == (MAX_DURATION, 5)
    done = decide(rule, 60.0, precision([10.0] * 30, [10.0] * 30, seed=0), T0)
    assert done is not None and done.reason == CONVERGED
    assert decide(rule, 100.0, None, None) is not None  # the bound holds even while warming up


def test_near_the_knee_throughput_has_its_own_tolerance_and_past_it_the_median_will_do() -> None:
    rule = StopRule(min_samples=30, tolerance=0.05, max_step_s=900.0)
    # 40 samples: throughput to 2%, median E2E to 3%, but a p95 still 8% wide (preempted answers in its tail)
    m = Precision(samples=40, rps_ci_rel=0.02, e2e_p95_s=50.0, e2e_p95_ci_rel=0.08, e2e_p50_ci_rel=0.03)
    assert decide(rule, 100.0, m, T0) is None
    past = decide(replace(rule, past_knee=True), 100.0, m, T0)
    assert past is not None and (past.reason, past.e2e_p50_ci_rel, past.rps_tolerance) == (PAST_KNEE, 0.03, 0.05)
    pinned = replace(m, e2e_p95_ci_rel=0.04)
    near = replace(rule, rps_tolerance=0.015)
    assert decide(near, 100.0, pinned, T0) is None  # 2% is not yet the 1.5% a level near the knee needs
    done = decide(near, 100.0, replace(pinned, rps_ci_rel=0.014), T0)
    assert done is not None and (done.reason, done.rps_tolerance) == (CONVERGED, 0.015)
    assert replace(rule, rps_tolerance=0.08).throughput_tolerance == 0.05  # never looser than --tolerance


def _recorder(tmp_path: Path) -> tuple[RunRecorder, io.StringIO]:
    out = io.StringIO()
    recorder = RunRecorder(tmp_path, out=out)
    recorder.step_duration_s = None
    return recorder, out


def test_the_recorder_waits_for_the_previous_levels_requests_before_counting(tmp_path: Path) -> None:
    recorder, _ = _recorder(tmp_path)
    rule = StopRule(min_samples=4, tolerance=0.05, max_step_s=1000.0)
    recorder.start_step(0, 2, T0)
    for user in range(2):  # 2 users, 10 s answers from T0: 0->10, 10->20, and one running across 25
        for i, send in enumerate((0.0, 10.0, 20.0)):
            recorder.record(rec(10 * user + i, send, 10.0, user=user))
    decision = recorder.stop_check(T0 + 21.0, rule)
    assert decision is not None and decision.reason == CONVERGED and decision.warmup_end_s == T0
    recorder.end_step(T0 + 25.0, decision)
    recorder.start_step(1, 3, T0 + 25.0)  # 2 requests of the last level run until 30
    recorder.record(rec(100, 25.0, 10.0, user=2))  # the new user's first answer, 25->35
    assert recorder.warmup_end_s(T0 + 35.5) is None  # one request of the old level still unseen
    recorder.record(rec(101, 20.0, 10.0, user=0))
    recorder.record(rec(102, 20.0, 10.0, user=1))
    assert recorder.warmup_end_s(T0 + 35.5) == pytest.approx(T0 + 30.001)
    steps = [json.loads(line) for line in (tmp_path / "steps.jsonl").read_text().splitlines()]
    assert steps[1]["stop"]["reason"] == CONVERGED and "stop" not in steps[0]


def test_the_warm_up_waits_until_the_new_users_have_joined(tmp_path: Path) -> None:
    recorder, _ = _recorder(tmp_path)
    recorder.start_step(0, 2, T0)
    recorder.record(rec(0, 0.0, 10.0, user=0))
    recorder.record(rec(1, 0.0, 10.0, user=1))
    recorder.end_step(T0 + 8.0)  # 2 requests of this level still run until T0 + 10
    recorder.start_step(1, 6, T0 + 8.0, join_spread_s=15.0)  # 4 users join over 15 s (T0 + 23)
    recorder.record(rec(2, 0.0, 10.0, user=0))
    recorder.record(rec(3, 0.0, 10.0, user=1))
    assert recorder.warmup_end_s(T0 + 20.0) is None  # the old level's requests ended, a user may still join
    assert recorder.warmup_end_s(T0 + 23.5) == pytest.approx(T0 + 23.0)
    mark = json.loads((tmp_path / "steps.jsonl").read_text().splitlines()[-1])
    assert mark["join_spread_s"] == 15.0
    # the report takes the same window: warm-up 15 s, not the 2 s until the old level's requests ended
    recorder.end_step(T0 + 60.0)
    records = [rec(i, 25.0 + 5 * i, 5.0, user=2 + i % 4) for i in range(6)]
    analysis = analyze_run(write_run(tmp_path / "report", read_steps(tmp_path / "steps.jsonl"), records,
                                     {"options": {"model": "m", "step_stop": {"min_samples": 2}}}))  # fmt: skip
    assert analysis.steps[1].warmup_s == pytest.approx(15.0)


def test_users_that_join_together_take_one_part_of_the_spread_each() -> None:
    # 4 users over 40 s: one in each 10 s part, wherever the draws fall in it; without slots, anywhere
    delays = [join_delay_s(k, 4, draw, 40.0) for k, draw in enumerate((0.9, 0.0, 0.5, 0.99))]
    assert delays == pytest.approx([9.0, 10.0, 25.0, 39.9])
    assert join_delay_s(5, 4, 0.5, 40.0) == pytest.approx(15.0)  # a fifth of four slots (a worker's share, rounded)
    assert join_delay_s(7, 0, 0.25, 40.0) == pytest.approx(10.0)


def test_a_fixed_step_whose_window_held_no_answer_says_so_at_once(tmp_path: Path) -> None:
    recorder, out = _recorder(tmp_path)
    recorder.step_duration_s = 60.0
    recorder.start_step(0, 1, T0)
    recorder.record(rec(0, 0.0, 42.0))  # 42 s answers in a 60 s step: warm-up 30 s, window 30 s
    recorder.end_step(T0 + 60.0)
    (warning,) = recorder.warnings
    assert warning in out.getvalue()
    assert "step 1 (1 users): its steady window of 30.0 s held no complete request" in warning
    assert "the shortest answer took 42.0 s" in warning and "--step-duration auto" in warning


def test_the_report_flags_an_empty_window_and_marks_a_step_that_reached_its_bound(tmp_path: Path) -> None:
    bound = {"reason": MAX_DURATION, "samples": 3, "rps_ci_rel": 0.2, "e2e_p95_ci_rel": 0.3,
             "warmup_end_s": T0, "min_samples": 30, "tolerance": 0.05, "max_step_s": 100.0}  # fmt: skip
    steps = [StepMark(0, 1, T0, T0 + 60.0), StepMark(1, 1, T0 + 60.0, T0 + 160.0, stop=bound)]
    records = [rec(0, 0.0, 42.0), rec(1, 42.0, 42.0)] + [rec(2 + i, 84.0 + 25 * i, 25.0) for i in range(3)]
    analysis = analyze_run(write_run(tmp_path, steps, records))
    empty, capped = analysis.steps
    assert empty.requests_ok == 0 and empty.validity.empty_window is not None
    assert empty.validity.empty_window.shortest_e2e_s == pytest.approx(42.0)
    assert capped.validity.empty_window is None and capped.stop is not None
    assert capped.stop.less_certain and capped.stop.samples == 3 and empty.stop is None


def test_an_auto_run_is_reported_in_the_window_the_generator_stopped_on(tmp_path: Path) -> None:
    # auto steps: warm-up = until the request running across the start ended (at 14), not auto_warmup_s
    steps = [StepMark(0, 1, T0, T0 + 10.0), StepMark(1, 1, T0 + 10.0, T0 + 40.0)]
    records = [rec(0, 0.0, 4.0), rec(1, 4.0, 10.0), rec(2, 14.5, 8.0), rec(3, 22.5, 8.0), rec(4, 30.5, 8.0)]
    meta = {"options": {"model": "m", "warmup": "auto", "step_stop": {"min_samples": 2}}}
    analysis = analyze_run(write_run(tmp_path, steps, records, meta))
    step = analysis.steps[1]
    assert step.warmup_s == pytest.approx(4.001, abs=1e-5) and step.requests_ok == 3
