"""The knee rule's thresholds, one definition shared by the sweep analysis (`analysis.knee`, pandas) and
the adaptive plan that searches for the same knee while the test runs (`load.adaptive`, pure)."""

from __future__ import annotations

import math

PLATEAU_TOLERANCE = 0.02  # the knee: smallest level whose throughput is within 2% of the peak
LIMIT_LATENCY_FACTOR = 1.5  # the limit: largest level whose median E2E is at most 1.5x the knee's
SERVER_WAITING_THRESHOLD = 0.5  # a step queues when on average more than this many requests wait in vLLM
SERVER_PLATEAU_TOLERANCE = 0.10  # the last level before a server queue is the knee if within 10% of the peak


def interpolate_limit(points: list[tuple[int, float]], bound_s: float) -> int:
    """points: (users, p50 E2E s) from the knee up, sorted by users. The last level within bound_s, moved
    up to where the line to the next level crosses it (floor) when that level lies more than one user
    away; a 1-by-1 sweep gets exactly the last level within the bound."""
    within = points[0]
    for users, e2e_s in points[1:]:
        if e2e_s > bound_s:
            (u0, e0), span = within, users - within[0]
            if span > 1 and e2e_s > e0:
                return u0 + min(span - 1, math.floor(span * (bound_s - e0) / (e2e_s - e0)))
            return u0
        within = (users, e2e_s)
    return within[0]
