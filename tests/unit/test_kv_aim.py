"""`--users auto` on a KV-bound server (load.kv_aim): scripted measurements of the seed simulator (throughput and
median E2E of a long phase-spread sweep, KV usage as a run at time scale 10 read it) and of other shapes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from helpers import drive_plan
from llmload.load.adaptive import AUTO_STEPS_START, NEAR_KNEE_TOLERANCE, AdaptivePlan
from llmload.load.kv_aim import NEAR_KNEE, PAST_KNEE, Gallop, edge, kv_bound_users, next_level, plateau_start
from llmload.load.level_measurement import Measurement, expected_answer_s
from llmload.step_stop import StopRule

Server = Callable[[int], Measurement]

# the seed (qwen3-32b-awq-2x4090): users -> (req/s, median E2E s), 3,600 s a level (predict_closed_loop)
SEED = {4: (0.2122, 18.8), 8: (0.3569, 22.4), 16: (0.5372, 29.8), 20: (0.5994, 33.4), 24: (0.6489, 37.0),
        25: (0.6583, 38.0), 26: (0.6689, 38.9), 27: (0.6789, 39.8), 28: (0.6883, 40.7), 29: (0.6972, 41.6),
        30: (0.5789, 51.6), 31: (0.5383, 57.1), 32: (0.5206, 60.8), 33: (0.5042, 64.2), 34: (0.4906, 68.1)}  # fmt: skip


def seed(users: int, kv: bool = True) -> Measurement:
    """The seed at `users`: between tabled levels on the line, past 34 users +3.9 s a user; KV usage 0.0316 a
    user + 0.02 (a run read 0.146 at 4 users, 0.789 at 25, 0.93 at 29); preemptions from 30 users on."""
    known = sorted(SEED)
    if users in SEED:
        rps, e2e_s = SEED[users]
    elif users > known[-1]:
        e2e_s = SEED[34][1] + 3.9 * (users - 34)
        rps = users / e2e_s
    else:
        low = max(u for u in known if u < users)
        high = min(u for u in known if u > users)
        f = (users - low) / (high - low)
        rps, e2e_s = (a + f * (b - a) for a, b in zip(SEED[low], SEED[high], strict=True))
    if not kv:
        return Measurement(users, rps, e2e_s, completed=60)
    preempted = 20.0 if users >= 30 else 0.0
    return Measurement(users, rps, e2e_s, kv_usage_mean=min(1.0, 0.0316 * users + 0.02), preemptions=preempted,
                       completed=60)  # fmt: skip


def sweep(server: Server, low: int, top: int) -> tuple[int, int]:
    """A 1-by-1 sweep's knee (the rule: smallest level within 2% of the peak) and limit (largest level from the
    knee up with median E2E within 1.5 x the knee's)."""
    points = {n: server(n) for n in range(low, top + 1)}
    peak = max(m.rps for m in points.values())
    knee = min(n for n, m in points.items() if m.rps >= 0.98 * peak)
    bound = 1.5 * points[knee].e2e_p50_s
    limit = knee
    while limit + 1 <= top and points[limit + 1].e2e_p50_s <= bound:
        limit += 1
    return knee, limit


def test_the_seed_in_five_steps_aimed_by_its_kv_cache() -> None:
    # 4 users fill 14.6% of the cache: 27.4 users fit, aim 0.93 x 27.4 = 25; 25 users fill 81%: 30.9 fit, the
    # peak 28 (0.93 x 30.9); the knee bracketed from below (26: 2.8% under 28); the limit past the KV bound
    # (33 users: 64.2 s, past 1.5 x 40.7 s), interpolated: 28 + 5 x (61.05 - 40.7) / (64.2 - 40.7) = 32.3
    plan = AdaptivePlan(start=AUTO_STEPS_START, max_users=256)
    assert drive_plan(plan, seed) == [4, 25, 28, 26, 33]
    assert (plan.knee, plan.limit) == (28, 32) == sweep(seed, 4, 40)
    assert plan.roles == {4: "", 25: NEAR_KNEE, 28: NEAR_KNEE, 26: NEAR_KNEE, 33: PAST_KNEE}


def test_without_kv_metrics_the_same_server_takes_the_climb() -> None:
    plan = AdaptivePlan(start=AUTO_STEPS_START, max_users=256)
    levels = drive_plan(plan, lambda n: seed(n, kv=False))
    assert levels[:4] == [4, 8, 16, 32] and len(levels) >= 10  # twice the KV path's steps
    unbounded = AdaptivePlan(start=AUTO_STEPS_START, max_users=256)  # a cache that never fills: no estimate
    assert drive_plan(unbounded, lambda n: Measurement(n, n / 10.0, 10.0, kv_usage_mean=0.0, preemptions=0.0))[:3] == [4, 8, 16]


def test_an_aim_past_the_peak_is_searched_down_from() -> None:
    # the first level overstates the room (4 users read 8%: 50 fit): the aim, 46 users, preempts; the search
    # gallops down from it to the clean levels and brackets the seed's knee as before
    def understated(n: int) -> Measurement:
        m = seed(n)
        return Measurement(n, m.rps, m.e2e_p50_s, kv_usage_mean=0.08, preemptions=m.preemptions, completed=60) if n == 4 else m

    plan = AdaptivePlan(start=AUTO_STEPS_START, max_users=256)
    assert drive_plan(plan, understated) == [4, 46, 44, 40, 32, 16, 24, 28, 30, 26]  # down 2, 4, 8, 16; then bisected
    assert (plan.knee, plan.limit) == (28, 32)


def test_a_plateau_far_under_the_kv_bound_is_galloped_down_to() -> None:
    # compute-bound at 16 users (throughput flat past it), the cache full at 60 users
    def compute_bound(n: int) -> Measurement:
        rps = min(n, 16) / 10.0
        return Measurement(n, rps, n / rps, kv_usage_mean=min(1.0, n / 60), preemptions=20.0 * (n > 60), completed=60)

    plan = AdaptivePlan(start=AUTO_STEPS_START, max_users=256)
    assert drive_plan(plan, compute_bound) == [4, 55, 53, 49, 41, 25, 14, 19, 16]
    assert (plan.knee, plan.limit) == sweep(compute_bound, 1, 80) == (16, 24)


def test_the_gallop_doubles_its_step_then_bisects() -> None:
    gallop = Gallop()
    assert [gallop.probe(4, 55), gallop.probe(4, 53), gallop.probe(4, 49), gallop.probe(4, 41)] == [53, 49, 41, 25]
    assert gallop.probe(4, 25) == 14  # 32 users under 25 would pass 4: the middle
    assert Gallop().probe(26, 29) == 27


def test_the_edge_is_the_first_level_that_preempts_or_falls_below_the_plateau() -> None:
    levels = {u: seed(u) for u in (4, 25, 28)}
    assert edge(levels) is None and plateau_start(levels) == (25, 28)
    assert edge({**levels, 31: seed(31)}) == 31  # preempting
    fell = Measurement(30, 0.66, 45.0)  # no preemption counted, but 4% under 28's throughput
    assert edge({**levels, 30: fell}) == 30
    assert kv_bound_users(seed(4)) == pytest.approx(4 / 0.1464) and kv_bound_users(seed(31)) is None


def test_next_level_looks_below_before_it_passes_the_peak() -> None:
    # 25 and 28 measured, 28 the predicted peak: the plateau's start is bracketed from below first
    levels = {u: seed(u) for u in (4, 25, 28)}
    assert next_level(levels, Gallop(), Gallop(), 256) == 26
    assert next_level({**levels, 26: seed(26)}, Gallop(), Gallop(), 256) is None
    assert next_level({u: seed(u) for u in (4, 25)}, Gallop(), Gallop(), 256) == 28  # up to the predicted peak
    assert next_level({u: seed(u) for u in (4, 25)}, Gallop(), Gallop(), 26) == 26  # --max-users


def test_the_step_rule_follows_what_the_level_is_measured_for() -> None:
    base = StopRule(min_samples=30, tolerance=0.05, max_step_s=900.0)
    plan = AdaptivePlan(start=AUTO_STEPS_START, max_users=256)
    steps = plan.steps()
    next(steps)
    assert plan.stop_rule(base, None) == base  # the first level: the user's rule
    assert steps.send(seed(4)) == 25
    near = plan.stop_rule(base, Measurement(25, 0.65, 38.0))
    assert near.throughput_tolerance == NEAR_KNEE_TOLERANCE == 0.015 and not near.past_knee
    preempting = Measurement(25, 0.6, 45.0, preemptions=5.0, completed=40)
    assert plan.stop_rule(base, preempting).past_knee  # it turned out past the knee: its median will do
    assert steps.send(seed(25)) == 28
    far_under = Measurement(28, 0.6, 45.0)  # 9% under 25's 0.658: no closer reading puts it on the plateau
    assert plan.stop_rule(base, far_under) == base
    assert steps.send(seed(28)) == 26 and steps.send(seed(26)) == 33
    assert plan.stop_rule(base, None).past_knee


@pytest.mark.parametrize(
    ("preemptions", "completed", "preempting"), [(None, 60, False), (2.0, 10, False), (3.0, 60, True), (4.0, 100, False)]
)
def test_a_level_preempts_with_3_and_5_percent_of_its_answers(preemptions: float | None, completed: int,
                                                               preempting: bool) -> None:  # fmt: skip
    assert Measurement(30, 0.6, 50.0, preemptions=preemptions, completed=completed).preempting is preempting


def test_the_answer_expected_at_a_level_spreads_its_new_users() -> None:
    levels = {4: Measurement(4, 0.21, 18.7)}
    assert expected_answer_s({}, 4) is None
    assert expected_answer_s(levels, 26) == pytest.approx(18.7 * (26 / 4) ** 0.35)  # one level: the prior
    assert expected_answer_s(levels, 2) == 18.7
    levels[26] = Measurement(26, 0.66, 39.0)
    assert expected_answer_s(levels, 20) == pytest.approx(18.7 + 20.3 * 16 / 22)  # between two: the line
    assert expected_answer_s(levels, 28) == pytest.approx(39.0 + 20.3 * 2 / 22)  # above: the line on


def test_an_aim_that_queues_hands_the_search_to_the_climb() -> None:
    # --max-num-seqs 4 with a cache for 20 users (5% each): the aim, 18 users, waits in vLLM's queue (14 of
    # them): admission binds before the cache, and the climb's server path reads the queue
    def four_slots(n: int) -> Measurement:
        running = min(n, 4)
        return Measurement(n, running / 10.0 * (1.0 if n > 4 else 0.95), 10.0 * max(1.0, n / 4),
                           waiting_mean=float(n - running), running_mean=float(running),
                           kv_usage_mean=0.05 * running, preemptions=0.0)  # fmt: skip

    plan = AdaptivePlan(start=AUTO_STEPS_START, max_users=256)
    assert drive_plan(plan, four_slots)[:3] == [4, 18, 8]
    assert plan.knee == 4
