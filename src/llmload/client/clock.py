"""One clock for all timestamps: monotonic (perf_counter) anchored once to the wall clock.

Timestamps are epoch seconds so records from several processes line up, but they advance with
perf_counter, so an NTP step during a run cannot make a latency negative.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


def make_wall_clock() -> Clock:
    anchor_wall = time.time()
    anchor_perf = time.perf_counter()
    perf = time.perf_counter

    def now() -> float:
        return anchor_wall + (perf() - anchor_perf)

    return now


wall_clock: Clock = make_wall_clock()
