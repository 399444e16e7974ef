"""Server (/metrics) and GPU (NVML) telemetry for a run, or standalone beside a remote server.

During ``llmload run`` the local or master Locust process starts ``Telemetry`` in a gevent greenlet and
stops it at the end: server_metrics.jsonl (and gpu.jsonl when GPUs are local) land in the run directory.
``llmload telemetry --out DIR --host URL`` runs the same loop in the foreground on another machine (e.g.
the GPU server); ``llmload report RUN_DIR --telemetry DIR`` (``merge_telemetry``) appends its files to the
run's before the report is rebuilt. Copying the two files into the run directory by hand and running
``llmload report RUN_DIR`` is equivalent.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from llmload import rundir
from llmload.errors import UsageError
from llmload.steps import parse_duration_s
from llmload.telemetry.gpu_sampler import open_gpu_sampler
from llmload.telemetry.metrics_sampler import MetricsSampler
from llmload.telemetry.sampler import LineFile, Sampler, run_on_cadence

log = logging.getLogger("llmload")
DEFAULT_INTERVAL_S = 1.0
TELEMETRY_FILES = (rundir.SERVER_METRICS, rundir.GPU)


class Telemetry:
    """The samplers on one cadence. ``host`` None: no /metrics; ``gpus`` False: no NVML."""

    def __init__(
        self, out_dir: Path, host: str | None, interval_s: float = DEFAULT_INTERVAL_S, gpus: bool = True
    ) -> None:
        self.out_dir = Path(out_dir)
        self.interval_s = interval_s
        self.metrics_file = LineFile(self.out_dir / rundir.SERVER_METRICS)
        self.gpu_file = LineFile(self.out_dir / rundir.GPU)
        # the /metrics sampler also keeps the server's queue for the adaptive plan (None once it stopped)
        self.metrics = MetricsSampler(host, self.metrics_file.write_line) if host else None
        gpu = open_gpu_sampler(self.gpu_file.write_line) if gpus else None
        self.samplers: list[Sampler] = [s for s in (self.metrics, gpu) if s is not None]
        self._stop = threading.Event()
        self._greenlet: Any = None
        self.ticks = 0

    @property
    def active(self) -> bool:
        return bool(self.samplers)

    def tick(self) -> None:
        """One sample of each sampler still running; a sampler whose source is absent stops."""
        for sampler in list(self.samplers):
            if not sampler.sample_once():
                self._drop(sampler)
        self.metrics_file.flush()
        self.gpu_file.flush()
        self.ticks += 1

    def _drop(self, sampler: Sampler) -> None:
        self.samplers.remove(sampler)
        sampler.close()
        if sampler is self.metrics:
            self.metrics = None

    def run(self, sleep: Callable[[float], None], duration_s: float | None = None) -> None:
        """Sample every ``interval_s`` until ``stop()``, ``duration_s`` or nothing is left to sample."""
        start = time.monotonic()

        def should_stop() -> bool:
            return self._stop.is_set() or (duration_s is not None and time.monotonic() - start >= duration_s)

        def tick() -> bool:
            if not self.active:
                return False
            self.tick()
            return True

        run_on_cadence(tick, self.interval_s, sleep, should_stop)

    def start_greenlet(self) -> None:
        """Inside a Locust process: sample in a greenlet (its HTTP calls yield to the event loop)."""
        import gevent  # only inside Locust processes, where gevent is loaded already

        if self.active and self._greenlet is None:
            self._greenlet = gevent.spawn(self.run, gevent.sleep)

    def stop(self) -> None:
        self._stop.set()
        if self._greenlet is not None:
            self._greenlet.kill(block=True, timeout=2.0)
            self._greenlet = None
        self.close()

    def close(self) -> None:
        self.metrics_file.close()
        self.gpu_file.close()
        for sampler in self.samplers:
            sampler.close()
        self.samplers = []


def parse_interval_s(text: str, what: str = "--metrics-interval") -> float:
    """A sampling interval (``1s``, ``500ms``, ``2``); ``0`` or ``off`` turns telemetry off (0.0)."""
    if str(text).strip().lower() in ("0", "0s", "off"):
        return 0.0
    return parse_duration_s(text, what)


def start_run_telemetry(run_dir: Path, host: str, interval_s: float) -> Telemetry | None:
    """Started by the load side for a run; None when ``interval_s`` <= 0 (telemetry off)."""
    if interval_s <= 0:
        return None
    telemetry = Telemetry(run_dir, host, interval_s)
    telemetry.start_greenlet()
    return telemetry


def run_standalone(out_dir: Path, host: str | None, interval_s: float, duration_s: float | None) -> Telemetry:
    """``llmload telemetry``: sample in the foreground until the duration ends, Ctrl-C or SIGTERM."""
    telemetry = Telemetry(out_dir, host, interval_s)

    def _stop(signum: int, frame: FrameType | None) -> None:
        telemetry._stop.set()

    def _sleep(seconds: float) -> None:
        telemetry._stop.wait(seconds)

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        telemetry.run(_sleep, duration_s)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        telemetry.close()
    return telemetry


def merge_telemetry(src_dir: Path, run_dir: Path) -> dict[str, int]:
    """Append ``src_dir``'s telemetry files to ``run_dir``'s; returns lines added per file. Lines the run
    already holds are skipped, so merging twice adds nothing.

    Lines are appended as they are: timestamps are epoch seconds, so the analysis places them in the run's
    steps whatever machine sampled them (keep the clocks NTP-synchronised)."""
    src_dir, run_dir = Path(src_dir), Path(run_dir)
    found = [name for name in TELEMETRY_FILES if (src_dir / name).is_file()]
    if not found:
        raise UsageError(f"--telemetry: {src_dir} holds neither {' nor '.join(TELEMETRY_FILES)}")
    added: dict[str, int] = {}
    for name in found:
        target = run_dir / name
        have = set(target.read_text(encoding="utf-8").splitlines()) if target.is_file() else set()
        text = (src_dir / name).read_text(encoding="utf-8")
        lines = [line for line in text.splitlines() if line.strip() and line not in have]
        with target.open("a", encoding="utf-8") as out:
            out.writelines(line + "\n" for line in lines)
        added[name] = len(lines)
    return added
