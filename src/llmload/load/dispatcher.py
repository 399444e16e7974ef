"""Releases open-loop arrivals to free users at their intended times (one greenlet per process).

Arrivals go into a queue at their intended send time; a free user takes the next one. When every user
is busy, arrivals wait in the queue, and that wait is the client queue time of the request. The schedule is
a rate (load.arrivals: whichever request is next) or a trace (load.trace_schedule: a given request each).
"""

from __future__ import annotations

from typing import Protocol

import gevent
from gevent.event import Event
from gevent.queue import Queue

from llmload.client.clock import Clock
from llmload.load.trace_schedule import Arrival


class Schedule(Protocol):
    generation: int  # bumped when the schedule restarts (a new step): arrivals claimed before are dropped

    def claim_next(self) -> Arrival | None: ...


SLICE_S = 0.1  # longest sleep before re-reading the schedule (wake() makes a new step apply at once)


class ArrivalDispatcher:
    def __init__(self, schedule: Schedule, clock: Clock) -> None:
        self.schedule = schedule
        self.clock = clock
        self.queue: Queue[Arrival] = Queue()
        self._greenlet: gevent.Greenlet | None = None
        self._restarted = Event()

    def wake(self) -> None:
        """The schedule restarted (a new step): re-read it now, not after the current sleep (a trace's first
        request is due at the step's start)."""
        self._restarted.set()

    def next_arrival(self) -> Arrival:
        """Blocks until an arrival is due; returns its intended send time (epoch s) and request (or None)."""
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)
        arrival: Arrival = self.queue.get()
        return arrival

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None

    def _run(self) -> None:
        while True:
            generation = self.schedule.generation
            arrival = self.schedule.claim_next()
            if arrival is None:
                self._pause(SLICE_S)
                continue
            while (delay := arrival[0] - self.clock()) > 0 and self.schedule.generation == generation:
                self._pause(min(delay, SLICE_S))
            if self.schedule.generation == generation:
                self.queue.put(arrival)

    def _pause(self, seconds: float) -> None:
        """Sleeps `seconds`, or until wake()."""
        self._restarted.wait(seconds)
        self._restarted.clear()
