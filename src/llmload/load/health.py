"""Load-generator health, sampled inside every Locust process that sends requests.

Each second: this process's CPU (psutil, percent of one core), how long its main thread waited for a CPU
(the kernel's run-queue wait, /proc/self/schedstat, percent of the second; Linux), the whole machine's CPU
(percent of all cores) and the event loop's lag — how late a greenlet that asked to wake after LAG_PROBE_S
actually woke. CPU used plus CPU waited for is the generator's own demand: near a whole core, it is
saturated however busy the machine is; well below, a late loop means others took the CPU.
A late loop delays reads and sends; the analysis (analysis.validity) judges the damage from the records
and uses these samples to name the cause: the generator's own CPU, or other processes taking the machine.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import gevent
import psutil

SAMPLE_EVERY_S = 1.0
LAG_PROBE_S = 0.05
SCHEDSTAT = Path("/proc/self/schedstat")  # ns on a CPU, ns waiting on a run queue, timeslices


def runqueue_wait_s() -> float | None:
    """Seconds this process's main thread has waited on a run queue so far; None where the kernel says not."""
    try:
        return int(SCHEDSTAT.read_text().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


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
        waited_s = runqueue_wait_s()
        while True:
            lags = []
            start = time.perf_counter()
            while time.perf_counter() - start < SAMPLE_EVERY_S:
                asked = time.perf_counter()
                gevent.sleep(LAG_PROBE_S)
                lags.append(max(0.0, time.perf_counter() - asked - LAG_PROBE_S))
            before_s, waited_s = waited_s, runqueue_wait_s()
            elapsed_s = time.perf_counter() - start
            wait = None if before_s is None or waited_s is None else 100.0 * (waited_s - before_s) / elapsed_s
            self.sink(
                json.dumps(
                    {
                        "t_s": time.time(),
                        "worker": self.worker,
                        "cpu_percent": self.process.cpu_percent(None),
                        "runqueue_wait_percent": wait,
                        "system_cpu_percent": psutil.cpu_percent(None),
                        "loop_lag_max_s": max(lags),
                        "loop_lag_mean_s": sum(lags) / len(lags),
                    }
                )
            )
