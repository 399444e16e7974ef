"""`--users auto` on a KV-bound server (pure): aim at the KV cache's capacity instead of climbing to it.

Below capacity vLLM's KV-cache usage (`vllm:kv_cache_usage_perc`) grows in proportion to the users, each
holding its prompt and its answer so far, so a level of N users filling a share u of the cache estimates the
KV-bound concurrency B = N / u. Near it the cache overfills now and then (answers of random phases), vLLM
preempts, and throughput falls: the peak is the last level whose mean usage leaves that headroom, KV_PEAK
of the cache (the seed simulator: 29 users fill 90-93% and run clean, 30 preempt; knee 28 by a full sweep).
After its first level the plan (load.adaptive) takes this path when that level filled at least
KV_EVIDENCE_MIN of the cache and B lies past KV_HEADROOM times it:

1. Aim: KV_PEAK x B of the first level (low there: each user holds more of the cache at low load, the seed
   4 / 0.146 = 27 users where 25 users read 31), then up to KV_PEAK x B re-read at the highest level measured
   (at least one user more) until that level is the predicted peak, or one past it preempts
   (level_measurement.PREEMPTING_SHARE of its answers) or reads more than the plateau tolerance below a
   lower level.
2. Below: the knee is the lowest level within the plateau tolerance of the best throughput (the rule of
   analysis.knee); while the measured level under it lies more than STRIDE users away (or 2 users with the
   knee more than SPIKE_TOLERANCE above it and the next level up: the report would despike so sharp a peak),
   a level in between (STRIDE, then 2, 4, ... x STRIDE users under it, then bisecting). Done before any step
   past the peak where it can be, as a level run after a preempting one inherits its clumped answers.
3. An aim already past the peak: the levels between the highest clean one and it, the same way down.
So the knee lies within one user of the levels measured around it, which are NEAR_KNEE: their throughput
to adaptive.NEAR_KNEE_TOLERANCE (AdaptivePlan.stop_rule). The limit: a level STRIDE users past B, where the cache overfills and
answers wait or are recomputed, then (while its median E2E is still within the latency bound) where the
median E2E line meets the bound (Little's law, or faster while throughput still falls); the limit is
interpolated between the last level within the bound and the first past it (knee_rule.interpolate_limit).
Levels past the peak are PAST_KNEE: they end on their median E2E (step_stop). Without KV evidence (no vLLM
/metrics, an unbounded cache, a capacity near the first level), or when the aim's users queue in vLLM instead
(Measurement.admission_full: --max-num-seqs binds first), the plan climbs (load.adaptive, which reads the queue).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import Protocol

from llmload.knee_rule import LIMIT_LATENCY_FACTOR, PLATEAU_TOLERANCE, SPIKE_TOLERANCE, interpolate_limit
from llmload.load.level_measurement import Measurement

KV_EVIDENCE_MIN = 0.02  # the first level filled at least 2% of the KV cache
KV_PEAK = 0.93  # the seed: 29 users fill 90-93% of the cache and run clean, 30 preempt
KV_HEADROOM = 2.0  # an estimate within 2 x the first level: the climb (load.adaptive) gets there as fast
STRIDE = 2  # users between the levels around the knee: the knee within one user
NEAR_KNEE, PAST_KNEE = "near knee", "past knee"  # what a level is measured for (AdaptivePlan.stop_rule)

Levels = dict[int, Measurement]


class Plan(Protocol):
    start: int
    max_users: int
    measured: Levels

    def measure(self, users: int, role: str = "") -> Generator[int, Measurement, Measurement]: ...


@dataclass
class Gallop:
    """Users between a level and the next probe under it: STRIDE, then doubling (module doc, 2 and 3)."""

    gap: int = STRIDE

    def probe(self, low: int, high: int) -> int:
        """A level strictly between low and high (high - low >= 2): high - gap while that lies above low,
        else the middle."""
        if high - self.gap > low:
            probe, self.gap = high - self.gap, 2 * self.gap
            return probe
        return (low + high) // 2


def kv_bound_users(m: Measurement) -> float | None:
    """The KV-bound concurrency a level estimates: users / KV usage (None without evidence)."""
    if m.kv_usage_mean is None or m.kv_usage_mean < KV_EVIDENCE_MIN or m.preempting:
        return None
    return m.users / m.kv_usage_mean


def edge(measured: Levels) -> int | None:
    """The lowest level past the edge: preempting, or its throughput more than the plateau tolerance below
    a lower level's; None while every level is still under it."""
    best = 0.0
    for users in sorted(measured):
        m = measured[users]
        if m.preempting or m.rps < (1 - PLATEAU_TOLERANCE) * best:
            return users
        best = max(best, m.rps)
    return None


def plateau_start(measured: Levels) -> tuple[int, int]:
    """(the measured level under the plateau's lowest, 0 if none; that lowest): the rule's knee over the
    levels under the edge, and what lies below it."""
    top = edge(measured)
    clean = [u for u in measured if top is None or u < top]
    best = max(measured[u].rps for u in clean)
    knee = min(u for u in clean if measured[u].rps >= (1 - PLATEAU_TOLERANCE) * best)
    return max((u for u in clean if u < knee), default=0), knee


def next_level(measured: Levels, below: Gallop, down: Gallop, max_users: int) -> int | None:
    """The next level of the search (module doc), None once the knee is bracketed and the peak reached."""
    top = edge(measured)
    highest_clean = max(u for u in measured if top is None or u < top)
    if top is not None and top - highest_clean > STRIDE:
        return down.probe(highest_clean, top)
    peak = predicted_peak(measured[highest_clean])
    at_peak = top is not None or peak is not None and peak <= highest_clean
    low, knee = plateau_start(measured)
    if _open_below(measured, low, knee) and (knee < highest_clean or at_peak):
        return below.probe(low, knee)
    if at_peak or highest_clean >= max_users:
        return None
    return min(max_users, max(highest_clean + 1, peak or highest_clean + STRIDE))


def _open_below(measured: Levels, low: int, knee: int) -> bool:
    """The knee not yet bracketed from below: the level under it more than STRIDE users away, or (2 users
    away) the knee more than SPIKE_TOLERANCE above it and the next level up, as a sharp KV-bound peak between
    a level under it and one past it: the report would take it for a single-step spike
    (analysis.knee_plateau.despike)."""
    if knee - low > STRIDE and knee > 1:
        return True
    if knee - low < 2 or low == 0:
        return False
    above = [measured[u].rps for u in sorted(measured) if u > knee][:1]
    return measured[knee].rps > (1 + SPIKE_TOLERANCE) * max([measured[low].rps, *above])


def predicted_peak(m: Measurement) -> int | None:
    """The most users whose mean KV usage stays within KV_PEAK on this level's KV usage per user."""
    bound = kv_bound_users(m)
    return None if bound is None else math.floor(KV_PEAK * bound)


def kv_aimed(plan: Plan) -> Generator[int, Measurement, tuple[int, int] | None]:
    """(knee, limit) by the KV path, or None without KV evidence (the first level measured either way)."""
    first = yield from plan.measure(plan.start)
    bound = kv_bound_users(first)
    if bound is None or bound < KV_HEADROOM * plan.start or plan.max_users <= plan.start:
        return None
    users: int | None = min(plan.max_users, max(plan.start + 1, math.floor(KV_PEAK * bound)))
    below, down = Gallop(), Gallop()
    while users is not None:
        if (yield from plan.measure(users, NEAR_KNEE)).admission_full and len(plan.measured) == 2:
            return None  # the aim queued: admission (--max-num-seqs) binds before the cache: the climb
        users = next_level(plan.measured, below, down, plan.max_users)
    knee = plateau_start(plan.measured)[1]
    limit = yield from _limit(plan, knee)
    return knee, limit


def _limit(plan: Plan, knee: int) -> Generator[int, Measurement, int]:
    """The limit past the knee: levels up until one's median E2E exceeds the latency bound, then interpolated
    (module doc)."""
    bound_s = LIMIT_LATENCY_FACTOR * plan.measured[knee].e2e_p50_s
    while True:
        points = [(u, plan.measured[u].e2e_p50_s) for u in sorted(plan.measured) if u >= knee]
        top = points[-1][0]
        if any(e2e_s > bound_s for _, e2e_s in points) or top >= plan.max_users:
            return interpolate_limit(points, bound_s)
        yield from plan.measure(min(plan.max_users, max(top + STRIDE, _past(plan.measured, bound_s))), PAST_KNEE)


def _past(measured: Levels, bound_s: float) -> int:
    """A level past the latency bound: STRIDE users past the KV bound while the top level is clean; past
    it, where the median E2E reaches bound_s by Little's law at the top (N = bound_s x X), or sooner on the
    line through the top two levels when it rises faster (throughput still falling)."""
    (low, a), (top, b) = sorted(measured.items())[-2:]
    kv_bound = kv_bound_users(b)
    if kv_bound is not None:
        return math.ceil(kv_bound) + STRIDE
    little = bound_s * b.rps
    slope = (b.e2e_p50_s - a.e2e_p50_s) / (top - low)
    line = top + (bound_s - b.e2e_p50_s) / slope if slope > 0 else little
    return math.ceil(min(little, line))
