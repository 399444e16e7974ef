"""The adaptive plan against curves with known knees: same knee as a 1-by-1 sweep, in far fewer steps."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from helpers import drive_plan
from llmload.knee_rule import interpolate_limit
from llmload.load.adaptive import AUTO_STEPS_START, AdaptivePlan
from llmload.load.level_measurement import Measurement
from llmload.load.recorder import measure_step

Curve = Callable[[int], tuple[float, float]]  # users -> (rps, p50 E2E s)


def slots(capacity: int, service_s: float = 10.0) -> Curve:
    """Only `capacity` requests run at once: throughput flat past it, latency grows in proportion."""
    return lambda n: (min(n, capacity) / service_s, service_s * max(1.0, n / capacity))


def thrashing(knee: int = 29) -> Curve:
    """Like the seed: latency creeps up with the batch, then preemptions make throughput fall."""

    def curve(n: int) -> tuple[float, float]:
        if n <= knee:
            r = 16.0 + 0.9 * n
            return n / r, r
        x = knee / (16.0 + 0.9 * knee) * max(0.3, 1 - 0.04 * (n - knee))
        return x, n / x

    return curve


def run(plan: AdaptivePlan, curve: Curve, queue: Queue | None = None) -> list[int]:
    def measure(users: int) -> Measurement:
        rps, p50 = curve(users)
        waiting, running = queue(users) if queue else (None, None)
        return Measurement(users, rps, p50, 0.0, waiting, running)

    return drive_plan(plan, measure)


Queue = Callable[[int], tuple[float, float]]  # users -> vLLM's (mean waiting, mean running)


def slot_server(capacity: int, turnaround: float = 0.05, service_s: float = 10.0) -> tuple[Curve, Queue]:
    """vLLM with --max-num-seqs `capacity`: below it, each client's turnaround leaves its slot idle for a
    `turnaround` share of the time; past it, the queue keeps every slot busy (a few % more throughput)
    and the extra users wait, E2E growing in proportion."""

    def curve(n: int) -> tuple[float, float]:
        if n <= capacity:
            return n / (service_s * (1 + turnaround)), service_s
        return capacity / service_s, service_s * n / capacity

    return curve, lambda n: (float(max(0, n - capacity)), float(min(n, capacity)))


def sweep_knee(curve: Curve, top: int) -> tuple[int, int]:
    points = {n: curve(n) for n in range(1, top + 1)}
    peak = max(r for r, _ in points.values())
    knee = min(n for n, (r, _) in points.items() if r >= 0.97 * peak)
    bound = 1.5 * points[knee][1]
    limit = max(n for n, (_, p50) in points.items() if n >= knee and p50 <= bound)
    return knee, limit


@pytest.mark.parametrize("capacity", [1, 4, 8, 13, 64])
def test_slot_bound_server(capacity: int) -> None:
    plan = AdaptivePlan(max_users=400)
    levels = run(plan, slots(capacity))
    assert (plan.knee, plan.limit) == sweep_knee(slots(capacity), 400)
    assert len(levels) == len(set(levels))  # no level measured twice
    assert len(levels) <= 2 * max(3, capacity).bit_length() + 8


def test_seed_like_thrashing_server_in_under_half_the_sweep() -> None:
    curve = thrashing(29)
    plan = AdaptivePlan(max_users=40)
    levels = run(plan, curve)
    knee, limit = sweep_knee(curve, 40)
    assert abs(plan.knee - knee) <= 1 if plan.knee is not None else False
    assert plan.limit is not None and abs(plan.limit - limit) <= 1  # the limit follows the knee (±1)
    assert len(levels) <= 20  # the 1-by-1 sweep of 1..40 takes 40 steps


def test_noisy_step_does_not_move_the_knee_far() -> None:
    base = slots(8)

    def noisy(n: int) -> tuple[float, float]:
        rps, p50 = base(n)
        return (rps * 1.02 if n == 12 else rps), p50  # one step measured 2% high

    plan = AdaptivePlan(max_users=64)
    run(plan, noisy)
    assert plan.knee == 8


def test_never_saturating_server_stops_at_max_users() -> None:
    plan = AdaptivePlan(max_users=32)
    levels = run(plan, lambda n: (n / 10.0, 10.0))
    assert levels == [1, 2, 4, 8, 16, 32]
    assert plan.knee is None


def test_step_budget_is_respected() -> None:
    plan = AdaptivePlan(max_users=400, max_steps=5)
    assert len(run(plan, thrashing(29))) == 5


@pytest.mark.parametrize(("capacity", "levels", "limit"), [(4, [1, 2, 4, 8], 6), (13, [1, 2, 4, 8, 16, 32, 13], 19)])
def test_server_queue_stops_the_search_at_the_admitted_concurrency(capacity: int, levels: list[int], limit: int) -> None:
    # the plateau rule alone needs 5% more throughput than the slots-full level gives (turnaround): the
    # queue says where the slots fill, and E2E past it is linear in users, so the limit is interpolated
    curve, queue = slot_server(capacity)
    plan = AdaptivePlan(max_users=400)
    assert run(plan, curve, queue) == levels
    assert (plan.knee, plan.limit) == (capacity, limit)
    sweep_limit = max(n for n in range(capacity, 400) if curve(n)[1] <= 1.5 * curve(capacity)[1])
    assert plan.limit == sweep_limit


def test_without_queue_evidence_the_same_server_takes_the_throughput_search() -> None:
    curve, _ = slot_server(4)
    plan = AdaptivePlan(max_users=400)
    levels = run(plan, curve)
    assert len(levels) > 4 and plan.knee is not None and abs(plan.knee - 4) <= 1


def test_a_queue_far_below_the_peak_falls_back_to_the_throughput_search_while_admission_grows() -> None:
    curve, _ = slot_server(4, turnaround=0.25)  # the last clean level is 20% below the peak
    # a request waits from 5 users on, but the server still admits more at once as users grow (a per-step
    # token budget admitting a few at a time): not a full server
    plan = AdaptivePlan(max_users=400)
    levels = run(plan, curve, lambda n: (1.0 if n > 4 else 0.0, float(n - 1 if n > 4 else n)))
    assert len(levels) > 4 and plan.knee == 5  # the rule's plateau knee, as a sweep finds it


def test_a_full_admission_is_the_knee_whatever_throughput_the_queue_adds() -> None:
    curve, queue = slot_server(4, turnaround=0.25)  # 25% more throughput once a queue hides the turnaround
    plan = AdaptivePlan(max_users=400)
    assert run(plan, curve, queue) == [1, 2, 4, 8]  # running stays at 4 past 4 users: extra users only wait
    assert plan.knee == 4


def test_a_level_that_queues_below_the_guess_is_bisected_to_one_user() -> None:
    curve, _ = slot_server(13)
    # the server admitted 13 at the saturated level, but requests already waited from 11 users on
    levels = run(AdaptivePlan(max_users=400), curve, lambda n: (float(max(0, n - 10)), float(min(n, 13))))
    assert levels[:6] == [1, 2, 4, 8, 16, 32] and {13, 10, 11} <= set(levels)  # the guess, then bisection


@pytest.mark.parametrize(
    ("points", "expected"),
    [([(4, 10.0), (5, 12.5), (6, 15.0), (7, 17.5)], 6),  # 1-by-1: the last level within the bound
     ([(4, 10.0), (8, 20.0)], 6),  # crosses 15 s at 6 users
     ([(4, 10.0), (8, 14.0)], 8),  # never over the bound: the last level
     ([(4, 10.0), (5, 16.0)], 4)],
)
def test_interpolate_limit(points: list[tuple[int, float]], expected: int) -> None:
    assert interpolate_limit(points, 15.0) == expected


def test_one_request_waiting_for_admission_at_many_users_is_not_a_full_server() -> None:
    # the seed simulator: rps 0.535 at 16 users, 0.523 at 32 (preemptions) and 0.675 at its peak (27) in
    # between; at 32, 1 request waited for the prefill budget while 31 ran. Taken for a full server, the
    # queue would have closed the search at 15 (within 10% of the best level measured so far)
    def curve(n: int) -> tuple[float, float]:
        m = min(n, 27)
        r = m / (16.0 + 0.9 * m) * (1 - 0.046 * max(0, n - 27))
        return r, n / r

    plan = AdaptivePlan(max_users=40)
    levels = run(plan, curve, lambda n: (1.0 if n >= 16 else 0.0, n - 1.0 if n >= 16 else float(n)))
    knee, _ = sweep_knee(curve, 40)
    assert len(levels) > 7 and plan.knee is not None and abs(plan.knee - knee) <= 1


def test_a_step_is_measured_in_the_reports_steady_window() -> None:
    # 2 users, 3-s requests back to back over a 30-s step: warm-up auto = 5 s (longer than the median E2E),
    # window [5, 30). Completions in it: ends at 6, 9, ..., 30 exclusive, twice (8 x 2 = 16) -> 16/25 per s;
    # the steady requests (sent at 6..24, ended by 30) have a median E2E of 3 s. At time scale 10 the requests
    # take 30 target seconds, so the warm-up is one median E2E (3 wall s): 18 completions in 270 target s.
    spans = [(t + u * 0.5, t + u * 0.5 + 3.0) for u in range(2) for t in range(0, 30, 3) if t + 3.0 <= 30]
    m = measure_step(2, 0.0, 30.0, spans, 1.0)
    assert m is not None and m.window_start_s == pytest.approx(5.0)
    assert m.rps == pytest.approx(16 / 25) and m.e2e_p50_s == pytest.approx(3.0)
    scaled = measure_step(2, 0.0, 30.0, spans, 10.0)
    assert scaled is not None and scaled.rps == pytest.approx(18 / 270) and scaled.e2e_p50_s == pytest.approx(30.0)
    assert measure_step(2, 0.0, 30.0, [], 1.0) is None


def test_with_auto_steps_the_climb_starts_at_4_and_still_finds_a_knee_below_it() -> None:
    # a server that saturates at 2 users: 4 and 8 read the same throughput, the knee search goes down to 2
    def curve(n: int) -> tuple[float, float]:
        return min(n, 2) / 10.0, 10.0 * max(1.0, n / 2)

    plan = AdaptivePlan(start=AUTO_STEPS_START, max_users=64)
    levels = run(plan, curve)
    assert levels[:2] == [4, 8] and plan.knee == 2


def test_with_auto_steps_a_step_reads_its_throughput_from_the_steady_holds() -> None:
    # 2 users from a warm-up at 4 s: holds of 3 and 5 s one after the other; steady (sent from 4, ended by 30):
    # user 0 at 4, 7, 12, 15, 20, 23 (ends 28), user 1 at 4, 9, 12, 17, 20, 25 (ends 28): mean hold 4 s, so
    # X = 2 / 4 s = 0.5/s (closed loop), and at time scale 10, 0.05/s of target time
    spans = [(4.0 + 8 * k + off, 4.0 + 8 * k + off + hold) for k in range(3) for off, hold in ((0, 3), (3, 5))]
    spans += [(4.0 + 8 * k + off, 4.0 + 8 * k + off + hold) for k in range(3) for off, hold in ((0, 5), (5, 3))]
    m = measure_step(2, 0.0, 30.0, spans, 1.0, warm_start_s=4.0)
    assert m is not None and m.rps == pytest.approx(0.5) and m.completed == 12
    scaled = measure_step(2, 0.0, 30.0, spans, 10.0, warm_start_s=4.0)
    assert scaled is not None and scaled.rps == pytest.approx(0.05)
