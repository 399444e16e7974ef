"""The knee rule's thresholds, one definition shared by the sweep analysis (`analysis.knee`, pandas) and
the adaptive plan that searches for the same knee while the test runs (`load.adaptive`, pure)."""

from __future__ import annotations

import math

PLATEAU_TOLERANCE = 0.02  # the knee: smallest level whose throughput is within 2% of the peak
SPIKE_TOLERANCE = 0.10  # a level more than 10% above (below) both neighbours is a spike (hole): despiked
LIMIT_LATENCY_FACTOR = 1.5  # the limit: largest level whose median E2E is at most 1.5x the knee's
SERVER_WAITING_THRESHOLD = 0.5  # a step queues when on average more than this many requests wait in vLLM
SERVER_PLATEAU_TOLERANCE = 0.10  # the last level before a server queue is the knee if within 10% of the peak...
ADMITTED_SLACK = 1.0  # ...or whatever its throughput, once the server admits no more than 1 request more past it


def admission_saturated(clean_running: float | None, queued_running: list[float | None]) -> bool:
    """The server stopped admitting more requests at once past the last level before its queue: the mean
    number running at every queued level is within ADMITTED_SLACK of that level's (max-num-seqs or the KV
    cache reached). Extra users then only wait; what throughput they still add is the queue hiding the
    client's turnaround and the server's own speed moving between steps, not capacity."""
    if clean_running is None or not queued_running or any(r is None for r in queued_running):
        return False
    return max(r for r in queued_running if r is not None) <= clean_running + ADMITTED_SLACK


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
