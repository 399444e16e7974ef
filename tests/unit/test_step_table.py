"""The step table and knee on hand-made record sets whose answers are known exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import T0, closed_loop, rec, write_run
from llmload.analysis.frame import load_run
from llmload.analysis.knee import find_knee
from llmload.analysis.pipeline import analyze_run
from llmload.analysis.step_stats import measure_steps
from llmload.records import StepMark


def test_single_step_exact_numbers(tmp_path: Path) -> None:
    # one step 0..100 s; warm-up auto = max(5 s, median E2E 2 s) = 5 s -> window 5..100 (95 s)
    records = [rec(i, send=float(i), e2e=2.0) for i in range(100)]  # sent at 0..99, end at 2..101
    run = load_run(write_run(tmp_path, [StepMark(0, 1, T0, T0 + 100)], records))
    (row,) = measure_steps(run)
    assert row.warmup_s == 5.0
    # steady: sent >= 5 and ended (send + 2.001) <= 100 -> sends 5..97 = 93 requests
    assert row.requests_ok == 93
    # completions inside [5, 100): ends at 5.0? ends are i+2 -> i = 3..97 -> 95 completions / 95 s
    assert row.completed_in_window == 95
    assert row.rps == pytest.approx(1.0)
    assert row.output_tokens_per_s == pytest.approx(11.0)
    assert row.e2e_s.p50 == pytest.approx(2.0)
    assert row.ttft_s.p95 == pytest.approx(0.1)
    assert row.tpot_s.p50 == pytest.approx((2.0 - 0.1) / 10)
    assert row.itl_s.p50 == pytest.approx(0.19)


def test_percentiles_are_exact_not_bucketed(tmp_path: Path) -> None:
    e2es = [1.0 + 0.01 * k for k in range(101)]  # 1.00 .. 2.00
    records = [rec(k, send=10.0 + 0.5 * k, e2e=e) for k, e in enumerate(e2es)]
    run = load_run(
        write_run(tmp_path, [StepMark(0, 4, T0, T0 + 200)], records, meta={"options": {"warmup": "5"}})
    )
    row = measure_steps(run)[0]
    assert row.e2e_s.p50 == pytest.approx(1.50)
    assert row.e2e_s.p99 == pytest.approx(1.99)
    assert row.e2e_s.p90 == pytest.approx(1.90)


def test_failures_count_and_error_rate(tmp_path: Path) -> None:
    records = [
        rec(i, send=float(10 + i), e2e=1.0, ok=(i % 4 != 0), error_kind=None if i % 4 else "http_status")
        for i in range(40)
    ]
    run = load_run(write_run(tmp_path, [StepMark(0, 1, T0, T0 + 60)], records))
    row = measure_steps(run)[0]
    assert row.requests_failed == 10
    assert row.error_rate == pytest.approx(0.25)
    assert row.errors_by_kind == {"http_status": 10}


def test_time_scale_maps_back_to_profile_time(tmp_path: Path) -> None:
    steps, records = closed_loop([1, 2], step_s=1.0, e2e_for={1: 0.1, 2: 0.1})
    run = load_run(write_run(tmp_path, steps, records, meta={"target": {"time_scale": 100.0}}))
    rows = measure_steps(run)
    assert rows[0].e2e_s.p50 == pytest.approx(10.0)  # 0.1 s wall x 100
    # 2 users / 10.1 s per request (client end), busy 165.2 of the window's 2 x 90 user-seconds: the helper's
    # users stop before the step's end (user 0 at 190.1 s, user 1 at 195.1 s)
    assert rows[1].rps == pytest.approx(165.2 / 10.1 / 90, rel=0.01)


def test_knee_and_limit_on_a_known_saturation_curve(tmp_path: Path) -> None:
    # capacity 8 concurrent: E2E 10 s up to 8 users, then grows in proportion (a queue forms)
    levels = list(range(1, 17))
    e2e = {u: 10.0 if u <= 8 else 10.0 * u / 8 for u in levels}
    steps, records = closed_loop(levels, step_s=400.0, e2e_for=e2e)
    knee = analyze_run(write_run(tmp_path, steps, records)).knee
    assert knee.knee is not None and knee.knee.users == 8
    assert knee.limit is not None and knee.limit.users == 12  # p50 E2E <= 1.5 x 10 s
    assert knee.signals is not None and knee.signals["marginal_gain"]["users"] == 8


def test_knee_needs_two_valid_steps() -> None:
    assert find_knee([]).knee is None
