"""The adaptive plan against curves with known knees: same knee as a 1-by-1 sweep, in far fewer steps."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from llmload.load.adaptive import AdaptivePlan, Measurement

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


def run(plan: AdaptivePlan, curve: Curve) -> list[int]:
    levels: list[int] = []
    gen = plan.steps()
    try:
        users = next(gen)
        while True:
            levels.append(users)
            rps, p50 = curve(users)
            users = gen.send(Measurement(users, rps, p50))
    except StopIteration:
        pass
    return levels


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
