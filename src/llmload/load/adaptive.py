"""`--users auto`: an adaptive step plan that finds the knee and the limit in few steps (pure; no Locust).

The plan is a generator: it yields the next user level, receives that step's measurement, and returns
when it has bracketed both numbers to one user.

1. Climb: 1, 2, 4, ... (x GROWTH) until a step is saturated: it gained less than MARGINAL of the throughput
   a proportional increase would have given (or throughput fell).
2. Peak: golden-section search for the throughput maximum between the last unsaturated level and the
   saturated one (closed-loop throughput is unimodal in users: it rises, flattens, and falls once a
   server thrashes).
3. Knee: binary search below the peak for the smallest level within the plateau tolerance of the peak
   throughput (the same rule `analysis.knee` applies to a full sweep).
4. Limit: binary search above the knee for the largest level whose median E2E is within the limit factor
   of the knee's, climbing further first if no measured level exceeds it yet.
Every level is measured at most once; decisions use all measurements so far.

With auto steps (llmload.step_stop) the climb starts at AUTO_STEPS_START users: a step of N users needs
min-samples / N answer times, so 1 and 2 users would take 45 of the 30-sample plan's answer times (the
seed: 12 of ~35 minutes). A knee below it is still found: the knee search goes down to 1 user.

With vLLM's own queue sampled (/metrics: requests waiting and running), steps 2-4 start from the server's
word instead: when the saturated level queued (mean waiting > SERVER_WAITING_THRESHOLD and at least
CAPACITY_QUEUE_SHARE of its users), the knee is the last level before the queue (rule 3b of
`analysis.knee`), searched for from the server's admitted concurrency (mean requests running at the
saturated level) outward; a queue-free level at or above that concurrency closes the search, since every
user past it must wait. The limit is then read off the
measured latencies: median E2E grows linearly with users once the server queues (Little's law), so it is
interpolated between the last level within the bound and the first past it instead of searched for.
A server queue whose last clean level is not within SERVER_PLATEAU_TOLERANCE of the peak throughput, while
the server still admitted more requests at once above it (knee_rule.admission_saturated), falls back to the
throughput search, as rule 3b does.

With vLLM's KV-cache usage sampled, the first level's usage per user places the cache's capacity, and the
plan aims at the throughput peak just under it instead of climbing (load.kv_aim: the seed in 5 steps, not
12). With auto steps each level's stop rule follows what it is measured for (stop_rule): throughput to
NEAR_KNEE_TOLERANCE near the knee; past it, the median E2E in place of the p95 (step_stop.PAST_KNEE).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import replace

from llmload.knee_rule import (
    LIMIT_LATENCY_FACTOR,
    PLATEAU_TOLERANCE,
    SERVER_PLATEAU_TOLERANCE,
    admission_saturated,
    interpolate_limit,
)
from llmload.load.kv_aim import NEAR_KNEE, PAST_KNEE, kv_aimed
from llmload.load.level_measurement import Measurement
from llmload.step_stop import StopRule

AUTO_STEPS_START = 4  # with --step-duration auto the climb starts here (module doc)
GROWTH = 2.0
MARGINAL = 0.5
GOLDEN = (1 + 5**0.5) / 2
# auto steps (step_stop): the throughput of a level near the knee to 1.5%, as the knee rule ranks levels 2%
# apart (on the seed, half the plateau tolerance took 4 more minutes of target time and no better knee)
NEAR_KNEE_TOLERANCE = 0.75 * PLATEAU_TOLERANCE


Plan = Generator[int, Measurement, None]


class _OutOfSteps(Exception):
    """The step budget ran out before both numbers were bracketed."""


class AdaptivePlan:
    def __init__(self, start: int = 1, max_users: int = 1024, max_steps: int = 40) -> None:
        self.start = max(1, start)
        self.max_users = max(self.start, max_users)
        self.max_steps = max_steps
        self.measured: dict[int, Measurement] = {}
        self.knee: int | None = None
        self.limit: int | None = None
        self.roles: dict[int, str] = {}  # NEAR_KNEE or PAST_KNEE: what a level was measured for
        self.running: int | None = None  # the level measured now

    def steps(self) -> Plan:
        """Yields levels to run; send() each step's Measurement back."""
        try:
            aimed = yield from kv_aimed(self)
            if aimed is not None:
                self.knee, self.limit = aimed
                return
            bracket = yield from self._climb()
            if bracket is None:
                return
            knee = yield from self._server_knee(bracket[1])
            if knee is not None:
                self.knee, self.limit = knee, self._interpolated_limit(knee)
                return
            peak = yield from self._peak(*bracket)
            self.knee = yield from self._knee(peak)
            self.limit = yield from self._limit(self.knee)
        except _OutOfSteps:
            return

    def measure(self, users: int, role: str = "") -> Generator[int, Measurement, Measurement]:
        """The level's measurement, running it first unless measured already; `role` (NEAR_KNEE, PAST_KNEE)
        sets its auto-step rule (stop_rule)."""
        if users not in self.measured:
            if len(self.measured) >= self.max_steps:
                raise _OutOfSteps
            self.roles[users], self.running = role, users
            self.measured[users] = yield users
        return self.measured[users]

    def stop_rule(self, rule: StopRule, so_far: Measurement | None) -> StopRule:
        """The auto-step rule for the level running now: its throughput to NEAR_KNEE_TOLERANCE near the knee,
        unless it reads far under a level measured already (more than twice the plateau tolerance: no closer
        reading would put it on the plateau); past the knee (a level above one that preempted, or this one
        preempting so far: `so_far`) its median E2E may stand in for its p95 (step_stop.PAST_KNEE)."""
        role = self.roles.get(self.running or 0, "")
        if role == PAST_KNEE or (so_far is not None and so_far.preempting):
            return replace(rule, past_knee=True)
        best = max((m.rps for m in self.measured.values()), default=0.0)
        if so_far is not None and so_far.rps < (1 - 2 * PLATEAU_TOLERANCE) * best:
            return rule
        if role == NEAR_KNEE:
            return replace(rule, rps_tolerance=NEAR_KNEE_TOLERANCE)
        return rule

    def _climb(self) -> Generator[int, Measurement, tuple[int, int] | None]:
        users = self.start
        previous = yield from self.measure(users)
        while users < self.max_users:
            users = min(self.max_users, max(users + 1, math.ceil(users * GROWTH)))
            current = yield from self.measure(users)
            if _saturated(previous, current):
                return previous.users, current.users
            previous = current
        return None  # never saturated within max_users: no knee to find

    def _server_knee(self, high: int) -> Generator[int, Measurement, int | None]:
        """The last level before the server's queue (module doc), or None without that evidence."""
        saturated = self.measured[high]
        if not saturated.admission_full or saturated.running_mean is None:
            return None  # no queue, or a request or so waiting for admission at many users: not a full server
        clean_levels = [u for u, m in self.measured.items() if u < high and m.waiting_mean is not None and not m.queued]
        if not clean_levels:
            return None
        clean = max(clean_levels)
        queued = min(u for u, m in self.measured.items() if u > clean and m.queued)
        guess: int | None = max(1, round(saturated.running_mean))  # the server's admitted concurrency
        while queued - clean > 1 and not (guess is not None and clean >= guess):
            probe = min(max(guess, clean + 1), queued - 1) if guess is not None else (clean + queued) // 2
            if (yield from self.measure(probe)).queued:
                queued, guess = probe, None  # it admitted fewer at this level: bisect what is left
            else:
                clean = probe
        queued_running = [m.running_mean for u, m in self.measured.items() if u > clean]
        if admission_saturated(self.measured[clean].running_mean, queued_running):
            return clean
        if self.measured[clean].rps < (1 - SERVER_PLATEAU_TOLERANCE) * self._peak_rps():
            return None
        return clean

    def _interpolated_limit(self, knee: int) -> int:
        """Largest users whose median E2E is within the limit factor of the knee's, interpolated linearly
        between the last measured level within the bound and the first past it."""
        bound = LIMIT_LATENCY_FACTOR * self.measured[knee].e2e_p50_s
        levels = sorted(u for u in self.measured if u >= knee)
        return interpolate_limit([(u, self.measured[u].e2e_p50_s) for u in levels], bound)

    def _rps(self, users: int) -> Generator[int, Measurement, float]:
        return (yield from self.measure(users)).rps

    def _peak(self, low: int, high: int) -> Generator[int, Measurement, int]:
        a, b = low, high
        while b - a > 2:
            step = round((b - a) / GOLDEN)
            c, d = b - step, a + step
            if c >= d:
                c, d = (a + b) // 2, (a + b) // 2 + 1
            rps_c, rps_d = (yield from self._rps(c)), (yield from self._rps(d))
            if min(rps_c, rps_d) >= (1 - PLATEAU_TOLERANCE) * max(rps_c, rps_d):
                break  # both on the plateau: the knee search below finds where it starts
            if rps_c < rps_d:
                a = c
            else:
                b = d
        if b - a <= 2:
            for users in range(a, b + 1):
                yield from self.measure(users)
        return max((m for m in self.measured.values()), key=lambda m: m.rps).users

    def _knee(self, peak: int) -> Generator[int, Measurement, int]:
        floor = (1 - PLATEAU_TOLERANCE) * self.measured[peak].rps
        below = [u for u, m in self.measured.items() if u < peak and m.rps < floor]
        low = max(below) if below else 0  # a level known to be under the plateau (0: none measured)
        high = peak  # a level known to be on it
        while high - low > 1:
            mid = (low + high) // 2
            if mid < 1:
                break
            if (yield from self._rps(mid)) >= (1 - PLATEAU_TOLERANCE) * self._peak_rps():
                high = mid
            else:
                low = mid
        return high

    def _peak_rps(self) -> float:
        return max(m.rps for m in self.measured.values())

    def _limit(self, knee: int) -> Generator[int, Measurement, int]:
        bound = LIMIT_LATENCY_FACTOR * self.measured[knee].e2e_p50_s
        above = [u for u, m in self.measured.items() if u > knee and m.e2e_p50_s > bound]
        while not above:
            top = max(self.measured)
            if top >= self.max_users:
                return max(u for u, m in self.measured.items() if m.e2e_p50_s <= bound)
            nxt = min(self.max_users, max(top + 1, math.ceil(top * 1.25)))
            if (yield from self.measure(nxt)).e2e_p50_s > bound:
                above = [nxt]
        high = min(above)
        within = [u for u, m in self.measured.items() if knee <= u < high and m.e2e_p50_s <= bound]
        low = max(within)
        while high - low > 1:
            mid = (low + high) // 2
            if (yield from self.measure(mid)).e2e_p50_s <= bound:
                low = mid
            else:
                high = mid
        return low


def _saturated(previous: Measurement, current: Measurement) -> bool:
    """Adding users bought less than MARGINAL of a proportional throughput gain."""
    proportional = previous.rps * (current.users / previous.users - 1)
    return current.rps - previous.rps < MARGINAL * proportional
