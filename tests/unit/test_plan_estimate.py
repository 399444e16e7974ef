"""The estimate of a plan of auto steps (load.plan_estimate): the model's step times, the plan replayed on
the model, and the range while saturation has not shown."""

from __future__ import annotations

import pytest

from llmload.load.adaptive import AUTO_STEPS_START, AdaptivePlan
from llmload.load.level_measurement import Measurement
from llmload.load.plan_estimate import (
    KvServerModel,
    ServerModel,
    adaptive_left,
    adaptive_levels,
    before_any_answer,
    fit,
    fixed_left,
    left_text,
    step_s,
)

SEEDLIKE = ServerModel(answer_s=16.0, capacity_users=29.0)


def test_a_step_lasts_the_previous_levels_answer_then_enough_answers_of_its_own() -> None:
    # 4 users after none: 30 samples = 7.5 rounds of 16 s; 58 users after 29: warm-up 16 s, then one round
    # of 32 s answers (58 users give 30 samples at once)
    assert step_s(SEEDLIKE, 4, 0, 30) == pytest.approx(7.5 * 16.0)
    assert step_s(SEEDLIKE, 58, 29, 30) == pytest.approx(16.0 + 32.0)


def test_the_fit_is_a_range_until_throughput_stops_growing_in_proportion() -> None:
    early = {u: SEEDLIKE.measurement(u) for u in (4, 8)}
    low, high = fit(early, max_users=256)
    assert (low.answer_s, low.capacity_users, high.capacity_users) == (16.0, 16.0, 64.0)
    late = {u: SEEDLIKE.measurement(u) for u in (4, 8, 16, 58)}
    (one,) = fit(late, max_users=256)
    assert one.capacity_users == pytest.approx(29.0)
    assert fit({}, max_users=256) == []


def test_the_replayed_plan_is_the_plan_the_run_takes_on_that_server() -> None:
    plan = AdaptivePlan(start=AUTO_STEPS_START, max_users=256)
    steps, levels = plan.steps(), []
    users = next(steps)
    try:
        while True:
            levels.append(users)
            users = steps.send(SEEDLIKE.measurement(users))
    except StopIteration:
        pass
    assert adaptive_levels({}, SEEDLIKE, 256) == levels and levels[0] == 4
    measured = {u: SEEDLIKE.measurement(u) for u in levels[:3]}
    (count, _), (low_s, high_s) = adaptive_left({u: m for u, m in measured.items()}, levels[2], 256, 30) or (
        (0, 0), (0.0, 0.0))  # fmt: skip
    assert count >= len(levels) - 3 - 1 and 0 < low_s <= high_s


def test_a_fixed_plan_is_timed_level_by_level() -> None:
    measured = {4: SEEDLIKE.measurement(4), 8: SEEDLIKE.measurement(8), 16: SEEDLIKE.measurement(16),
                40: SEEDLIKE.measurement(40)}  # fmt: skip
    estimate = fixed_left(measured, [29, 32], 40, 256, 30)
    assert estimate is not None
    (steps, _), (low_s, high_s) = estimate
    # after 40 users (22.1 s answers): 29 users: 22.1 + 16 x 30/29; 32 users: 16 + 17.7
    expected = 16.0 * 40 / 29 + 16.0 * 30 / 29 + 16.0 + 16.0 * 32 / 29
    assert steps == 2 and low_s == pytest.approx(expected, rel=0.01) and high_s == low_s
    assert left_text(estimate, 10.0).startswith(
        "plan estimate: 2 more steps, about 72 s of target time (7 s wall)"
    )


def test_before_any_answer_the_estimate_is_in_answer_lengths() -> None:
    text = before_any_answer([], 256, 30, 900.0)
    assert (
        text.startswith("8 to 17 steps (servers saturating at 8-64 users)")
        and "at most 17 x 15.0 min" in text
    )
    assert before_any_answer([1, 2], 256, 30, 60.0).startswith(
        "2 steps, about 46 times one user's answer time"
    )


def test_with_kv_usage_the_plan_is_replayed_on_a_kv_bound_server() -> None:
    # a run at time scale 10 on the seed: 4 users filled 14.6% of the cache, 25 users 78.9%
    measured = {4: Measurement(4, 0.21, 18.5, kv_usage_mean=0.146, preemptions=0.0),
                25: Measurement(25, 0.659, 37.3, kv_usage_mean=0.789, preemptions=0.0)}  # fmt: skip
    (model,) = fit(measured, max_users=256)
    assert isinstance(model, KvServerModel) and model.kv_bound_users == pytest.approx(25 / 0.789)
    assert model.measurement(33).preempting and not model.measurement(29).preempting
    assert model.answer_at(29) == pytest.approx(37.3 + 4 * (37.3 - 18.5) / 21)  # the line through both levels
    # the run took 4, 25, 29, 27, 34; the model (no thrashing past the bound) adds a level for the limit
    assert adaptive_levels(measured, model, 256)[:5] == [4, 25, 29, 27, 34]
    estimate = adaptive_left(measured, 25, 256, 30)
    assert estimate is not None and estimate[0][0] == len(adaptive_levels(measured, model, 256)) - 2
