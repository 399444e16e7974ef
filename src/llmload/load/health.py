"""Load-generator health, sampled inside every Locust process that sends requests.

Each second: this process's CPU (psutil, percent of one core), the whole machine's CPU (percent of all
cores) and the event loop's lag — how late a greenlet that asked to wake after LAG_PROBE_S actually woke.
A late loop delays reads and sends; the analysis (analysis.validity) judges the damage from the records
and uses these samples to name the cause: the generator's own CPU, or other processes taking the machine.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import gevent
import psutil

SAMPLE_EVERY_S = 1.0
LAG_PROBE_S = 0.05


class HealthSampler:
    def __init__(self, sink: Callable[[str], None], worker: str) -> None:
        self.sink = sink
        self.worker = worker
        self.process = psutil.Process()
        self._greenlet: gevent.Greenlet | None = None
        self.process.cpu_percent(None)  # prime the counters
        psutil.cpu_percent(None)

    def start(self) -> None:
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._loop)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None

    def _loop(self) -> None:
        while True:
            lags = []
            start = time.perf_counter()
            while time.perf_counter() - start < SAMPLE_EVERY_S:
                asked = time.perf_counter()
                gevent.sleep(LAG_PROBE_S)
                lags.append(max(0.0, time.perf_counter() - asked - LAG_PROBE_S))
            self.sink(
                json.dumps(
                    {
                        "t_s": time.time(),
                        "worker": self.worker,
                        "cpu_percent": self.process.cpu_percent(None),
                        "system_cpu_percent": psutil.cpu_percent(None),
                        "loop_lag_max_s": max(lags),
                        "loop_lag_mean_s": sum(lags) / len(lags),
                    }
                )
            )
