"""Releases open-loop arrivals to free users at their intended times (one greenlet per process).

Arrivals go into a queue at their intended send time; a free user takes the next one. When every user
is busy, arrivals wait in the queue, and that wait is the client queue time of the request.
"""

from __future__ import annotations

import gevent
from gevent.queue import Queue

from llmload.client.clock import Clock
from llmload.load.arrivals import ArrivalSchedule

SLICE_S = 0.1  # longest sleep before re-reading the schedule (a new step's rate applies at once)


class ArrivalDispatcher:
    def __init__(self, schedule: ArrivalSchedule, clock: Clock) -> None:
        self.schedule = schedule
        self.clock = clock
        self.queue: Queue[float] = Queue()
        self._greenlet: gevent.Greenlet | None = None

    def next_arrival(self) -> float:
        """Blocks until an arrival is due; returns its intended send time (epoch s)."""
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)
        return float(self.queue.get())

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None

    def _run(self) -> None:
        while True:
            generation = self.schedule.generation
            intended = self.schedule.claim()
            if intended is None:
                gevent.sleep(SLICE_S)
                continue
            while (delay := intended - self.clock()) > 0 and self.schedule.generation == generation:
                gevent.sleep(min(delay, SLICE_S))
            if self.schedule.generation == generation:
                self.queue.put(intended)
