"""Open-loop arrivals: when each request SHOULD leave, independent of how fast the server answers.

Users claim intended send times from one schedule per process. A user that is free sleeps until its
claimed time; when every user is busy, claims fall behind real time and the request leaves late: its
latency is measured from the intended time (no coordinated omission) and the lateness is the client
queue time (`Record.intended_send_s`).
"""

from __future__ import annotations

import random

ARRIVAL_KINDS = ("constant", "poisson")


class ArrivalSchedule:
    def __init__(self, kind: str = "constant", seed: int = 0) -> None:
        if kind not in ARRIVAL_KINDS:
            raise ValueError(f"arrival kind must be one of {ARRIVAL_KINDS}, not {kind!r}")
        self.kind = kind
        self.rate_rps = 0.0
        self._next_s: float | None = None
        self._rng = random.Random(seed)
        self.generation = 0  # bumped at every rate change

    def set_rate(self, rate_rps: float, now_s: float) -> None:
        """A new step: arrivals continue from now at the new rate."""
        self.rate_rps = rate_rps
        self._next_s = now_s + self._gap_s()
        self.generation += 1

    def claim(self) -> float | None:
        """The next intended send time (epoch s), or None while no rate is set."""
        if self._next_s is None or self.rate_rps <= 0:
            return None
        intended = self._next_s
        self._next_s = intended + self._gap_s()
        return intended

    def claim_next(self) -> tuple[float, None] | None:
        """claim() as the dispatcher takes arrivals: (intended send time, None: whichever request is next)."""
        intended = self.claim()
        return None if intended is None else (intended, None)

    def _gap_s(self) -> float:
        if self.rate_rps <= 0:
            return 0.0
        if self.kind == "poisson":
            return self._rng.expovariate(self.rate_rps)
        return 1.0 / self.rate_rps
