"""How long a plan of auto steps will take (pure): said before the run and refined after every step.

Model of the target, a closed loop: answers take R1 up to the server's capacity of K users, then grow with the
users, R(N) = R1 x max(1, N / K), so throughput N / R(N) rises and flattens at K / R1. An auto step at N users
after one at N' lasts about R(N') (warm-up: the previous level's answers end) + R(N) x max(1, min_samples / N)
(the first steady answers, then enough of them; it assumes the intervals are within the tolerance by then).
Fitted to the steps measured so far: R1 the median E2E of the lowest level, K the best throughput x R1. While
throughput still grows in proportion to the users, K is not known: the estimate is a range, from saturation
at the next doubling to saturation at TYPICAL_CAPACITIES' top (or further). For `--users auto` the plan itself
(load.adaptive) is replayed on the model: measured levels keep their measurements, the rest get the model's,
and the steps it would still take are counted and timed. Times in the target's time base. Where a level's
KV usage shows vLLM's cache capacity (load.kv_aim), the model is that KV-bound server (KvServerModel), so
that the plan's KV path replays on it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from llmload.load.adaptive import AUTO_STEPS_START, AdaptivePlan
from llmload.load.kv_aim import kv_bound_users
from llmload.load.level_measurement import PREEMPTING_MIN, Measurement, expected_answer_s
from llmload.target_time import duration_text

TYPICAL_CAPACITIES = (8, 64)  # users: the range the estimate before any answer spans
STILL_PROPORTIONAL = 0.9  # best throughput x R1 within this of the top level's users: no saturation seen yet

Estimate = tuple[tuple[int, int], tuple[float, float]]  # (steps low, high), (target seconds low, high)


@dataclass(frozen=True)
class ServerModel:
    answer_s: float  # R1
    capacity_users: float  # K

    def answer_at(self, users: int) -> float:
        return self.answer_s * max(1.0, users / self.capacity_users)

    def measurement(self, users: int) -> Measurement:
        return Measurement(users, users / self.answer_at(users), self.answer_at(users))


@dataclass(frozen=True)
class KvServerModel:
    """A server whose KV cache holds `kv_bound_users` (load.kv_aim): answers as the levels measured so far
    extend (level_measurement.expected_answer_s) up to the bound, past it in proportion to the users (the
    bound's throughput, Little's law); KV usage in proportion to the users, preemptions past the bound."""

    levels: tuple[Measurement, ...]
    kv_bound_users: float

    def answer_at(self, users: int) -> float:
        bound = max(1, math.floor(self.kv_bound_users))
        at_bound = expected_answer_s({m.users: m for m in self.levels}, min(users, bound)) or 0.0
        return at_bound * max(1.0, users / bound)

    def measurement(self, users: int) -> Measurement:
        answer_s, over = self.answer_at(users), users > self.kv_bound_users
        kv = min(1.0, users / self.kv_bound_users)
        return Measurement(users, users / answer_s, answer_s, kv_usage_mean=kv, preemptions=PREEMPTING_MIN * over)


Model = ServerModel | KvServerModel


def fit(measured: Mapping[int, Measurement], max_users: int) -> list[Model]:
    """One model once saturation showed (or the KV cache's bound: load.kv_aim); two (the range) while it
    has not; none before any answer."""
    usable = {u: m for u, m in measured.items() if 0 < m.e2e_p50_s < float("inf")}
    if not usable:
        return []
    bounds = [b for b in (kv_bound_users(usable[u]) for u in sorted(usable)) if b is not None]
    if bounds:
        return [KvServerModel(tuple(usable.values()), bounds[-1])]
    answer_s, top = usable[min(usable)].e2e_p50_s, max(usable)
    capacity = max(m.rps for m in usable.values()) * answer_s
    if capacity < STILL_PROPORTIONAL * top:
        return [ServerModel(answer_s, max(capacity, 1.0))]
    high = max(2.0 * top, float(TYPICAL_CAPACITIES[1]))
    return [ServerModel(answer_s, min(c, float(max_users))) for c in (2.0 * top, high)]


def step_s(model: Model, users: int, previous_users: int, min_samples: int) -> float:
    warmup = model.answer_at(previous_users) if previous_users else 0.0
    return warmup + model.answer_at(users) * max(1.0, min_samples / users)


def plan_s(model: Model, levels: Sequence[int], previous_users: int, min_samples: int) -> float:
    """The time of these levels run in order after one at `previous_users` (0: none)."""
    total = 0.0
    for users in levels:
        total += step_s(model, users, previous_users, min_samples)
        previous_users = users
    return total


def adaptive_levels(measured: Mapping[int, Measurement], model: Model, max_users: int) -> list[int]:
    """Every level `--users auto` with auto steps runs on this target, in order."""
    steps = AdaptivePlan(start=AUTO_STEPS_START, max_users=max_users).steps()
    levels: list[int] = []
    try:
        users = next(steps)
        while True:
            levels.append(users)
            users = steps.send(measured.get(users) or model.measurement(users))
    except StopIteration:
        return levels


def _span(values: Sequence[float]) -> tuple[float, float]:
    return min(values), max(values)


def adaptive_left(
    measured: Mapping[int, Measurement], previous_users: int, max_users: int, min_samples: int
) -> Estimate | None:
    """The steps `--users auto` still takes after the one at `previous_users`, and their time."""
    plans = [
        (m, [u for u in adaptive_levels(measured, m, max_users) if u not in measured])
        for m in fit(measured, max_users)
    ]
    if not plans:
        return None
    counts = [len(levels) for _, levels in plans]
    times = [plan_s(m, levels, previous_users, min_samples) for m, levels in plans]
    return (min(counts), max(counts)), _span(times)


def fixed_left(
    measured: Mapping[int, Measurement],
    levels: Sequence[int],
    previous_users: int,
    max_users: int,
    min_samples: int,
) -> Estimate | None:
    """The steps of a fixed plan still to come, and their time."""
    times = [plan_s(m, levels, previous_users, min_samples) for m in fit(measured, max_users)]
    return ((len(levels), len(levels)), _span(times)) if times else None


def before_any_answer(levels: Sequence[int], max_users: int, min_samples: int, max_step_s: float) -> str:
    """The estimate `llmload run` prints before the load starts (no answer timed yet), in lengths of one
    user's answer: a fixed plan's levels, or `--users auto` on servers saturating at TYPICAL_CAPACITIES."""
    capacities = [float(max(levels))] if levels else [float(c) for c in TYPICAL_CAPACITIES]
    plans = [
        list(levels) if levels else adaptive_levels({}, ServerModel(1.0, c), max_users) for c in capacities
    ]
    answers = _span(
        [plan_s(ServerModel(1.0, c), p, 0, min_samples) for c, p in zip(capacities, plans, strict=True)]
    )
    counts = (min(len(p) for p in plans), max(len(p) for p in plans))
    where = (
        "" if levels else f" (servers saturating at {TYPICAL_CAPACITIES[0]}-{TYPICAL_CAPACITIES[1]} users)"
    )
    return (
        f"{_range(counts)} steps{where}, about {_range((round(answers[0]), round(answers[1])))} times one user's "
        f"answer time; at most {counts[1]} x {duration_text(max_step_s)}; refined after every step"
    )


def left_text(estimate: Estimate, time_scale: float) -> str:
    """`plan estimate: 6 to 9 more steps, about 12.5 min to 20.1 min of target time (7.5 s to 12 s wall)`."""
    steps, (low_s, high_s) = estimate
    wall = f" ({_time_range(low_s / time_scale, high_s / time_scale)} wall)" if time_scale != 1 else ""
    return (
        f"plan estimate: {_range(steps)} more steps, about {_time_range(low_s, high_s)} of target time{wall}"
    )


def _range(span: tuple[int, int]) -> str:
    return str(span[0]) if span[0] == span[1] else f"{span[0]} to {span[1]}"


def _time_range(low_s: float, high_s: float) -> str:
    low, high = duration_text(low_s), duration_text(high_s)
    return low if low == high else f"{low} to {high}"
