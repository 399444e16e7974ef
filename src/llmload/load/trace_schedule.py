"""Trace replay's arrivals: request i of the trace leaves at the step's start + its trace time / the step's
speed-up, the same open-loop path as --rate (load.dispatcher: latency from the intended time, client queueing
reported). A step replays the trace from its first request and stops at the step's end (`cut_s`): a trace
longer than the step is cut there.

With several load processes, the master gives each one part of the requests (part k of n: the requests whose
position is k mod n), so every request of the trace leaves exactly once, from one process.
"""

from __future__ import annotations

from collections.abc import Sequence

Arrival = tuple[float, int | None]  # intended send time (epoch s), and the request to send (None: the next one)


class TraceSchedule:
    def __init__(self, arrivals_s: Sequence[float]) -> None:
        self.arrivals_s = list(arrivals_s)  # trace time of each request, in order
        self.generation = 0  # bumped at every step
        self._plan: list[Arrival] = []
        self._next = 0

    def start(self, speed: float, now_s: float, cut_s: float, part: int = 0, parts: int = 1) -> None:
        """A new step: the trace from its start at `speed`, this process's part of it, up to `cut_s`."""
        self._plan = [
            (now_s + at_s / speed, index)
            for index, at_s in enumerate(self.arrivals_s)
            if index % parts == part and at_s / speed < cut_s
        ]
        self._next = 0
        self.generation += 1

    def claim_next(self) -> Arrival | None:
        """The next request of the step and when it should leave; None once the step's part is all out."""
        if self._next >= len(self._plan):
            return None
        self._next += 1
        return self._plan[self._next - 1]

    def offered_rps(self, speed: float, cut_s: float) -> float:
        """The rate a step at `speed` offers: the requests it replays (every process's together) over the time
        they arrive in (the step, or the whole trace at that speed where it ends before the step does)."""
        replayed = [at_s / speed for at_s in self.arrivals_s if at_s / speed < cut_s]
        span_s = cut_s if len(replayed) < len(self.arrivals_s) else replayed[-1]
        return len(replayed) / span_s if span_s > 0 else len(replayed) / cut_s
