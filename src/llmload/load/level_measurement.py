"""What the adaptive plan (load.adaptive) learns from one step: the client's throughput and median E2E over the
step's steady window, and the server's own view of it where vLLM's /metrics are sampled (pure)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from llmload.knee_rule import SERVER_WAITING_THRESHOLD

# a level preempts (vLLM's KV cache over-full) when at least 5% of its answers, and 3 or more, were preempted:
# the seed simulator preempts ~1 in 2,500 answers at 29 users, 21% at 30
PREEMPTING_SHARE = 0.05
PREEMPTING_MIN = 3
# a level's queue says "the server is full" only when a real share of its users wait: on the seed simulator
# 1 of 32 users waited for admission (prefill budget) while throughput still had 15% to go
CAPACITY_QUEUE_SHARE = 0.1
# from one measured level, answers are expected to grow about as users ** 0.35 (the seed: 18.7 s at 4 users,
# 39 s at 26; a GPU whose decode step barely grows with the batch: less, so its new users join a little late)
ANSWER_GROWTH = 0.35


@dataclass(frozen=True)
class Measurement:
    users: int
    rps: float
    e2e_p50_s: float
    window_start_s: float = 0.0  # wall clock: where the steady window began (its end: when measured)
    waiting_mean: float | None = None  # vLLM's queue over the window (/metrics), None when not sampled
    running_mean: float | None = None
    kv_usage_mean: float | None = None  # vLLM's KV-cache usage (0..1) over the window
    preemptions: float | None = None  # vLLM's preemptions in the window
    completed: int = 0  # answers that ended in the window

    @property
    def queued(self) -> bool:
        return self.waiting_mean is not None and self.waiting_mean > SERVER_WAITING_THRESHOLD

    @property
    def admission_full(self) -> bool:
        """At least CAPACITY_QUEUE_SHARE of the users wait in vLLM's queue: it admits no more at once."""
        return self.queued and (self.waiting_mean or 0.0) >= CAPACITY_QUEUE_SHARE * self.users

    @property
    def preempting(self) -> bool:
        """vLLM preempted a real share of the window's answers: its KV cache is over-full."""
        floor = max(PREEMPTING_MIN, PREEMPTING_SHARE * self.completed)
        return self.preemptions is not None and self.preemptions >= floor


def expected_answer_s(measured: Mapping[int, Measurement], users: int) -> float | None:
    """The median E2E expected at `users` (the adaptive plan spreads a step's new users over it): on the line
    between the measured levels around it; above them on the line through the top two (at least the top's),
    or from a single level, its answer x (users / its users) ** ANSWER_GROWTH; below them the lowest's. None
    before any answer."""
    known = sorted((u, m.e2e_p50_s) for u, m in measured.items() if 0 < m.e2e_p50_s < math.inf)
    below = [point for point in known if point[0] < users]
    above = [point for point in known if point[0] >= users]
    if not below:
        return above[0][1] if above else None
    if above:
        (u0, r0), (u1, r1) = below[-1], above[0]
        return r0 + (r1 - r0) * (users - u0) / (u1 - u0)
    if len(below) == 1:
        u1, r1 = below[0]
        return r1 * float((users / u1) ** ANSWER_GROWTH)
    (u0, r0), (u1, r1) = below[-2:]
    return max(r1, r1 + (r1 - r0) * (users - u1) / (u1 - u0))
