"""What scale_out.py and master_load.py sample while an `llmload run --workers N` (or `--master`) runs:
the CPU seconds of its master and of its workers, apart, and the records the master has written so far."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil


def role(proc: psutil.Process) -> str | None:
    """'master' or 'worker' for a Locust process of llmload's, None for anything else (the CLI itself). A
    run without --workers has one Locust process that sends the requests: it counts as the worker."""
    try:
        argv = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    if "locust" not in " ".join(argv):
        return None
    return "master" if "--master" in argv else "worker"


class CpuByRole:
    """CPU seconds (user + system) of every master/worker process below `roots`, summed per role. A process
    that has exited keeps its last reading (its CPU was spent)."""

    def __init__(self, roots: list[int]) -> None:
        self.roots = [psutil.Process(pid) for pid in roots]
        self._last: dict[int, tuple[str, float]] = {}

    def read(self) -> dict[str, float]:
        for root in self.roots:
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            for proc in procs:
                kind = self._last[proc.pid][0] if proc.pid in self._last else role(proc)
                if kind is None:
                    continue
                try:
                    times = proc.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                self._last[proc.pid] = (kind, times.user + times.system)
        out = {"master": 0.0, "worker": 0.0}
        for kind, cpu_s in self._last.values():
            out[kind] += cpu_s
        return out

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self._last.values() if k == kind)


class LineCounter:
    """Lines appended to a file so far, read incrementally (the file may not exist yet)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.lines = 0

    def read(self) -> int:
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return self.lines
        end = data.rfind(b"\n") + 1  # a line being written counts once it is whole
        self.lines += data.count(b"\n", 0, end)
        self.offset += end
        return self.lines


@dataclass
class Sample:
    t_s: float  # wall clock (time.time: the feeders' logs use it too)
    master_cpu_s: float
    worker_cpu_s: float
    records: int  # lines in records.jsonl
    extra: dict[str, float] = field(default_factory=dict)


class RunSampler(threading.Thread):
    """Every `every_s`: the CPU of the run's master and workers and the records written; `probe` adds
    figures of its own (the fake server's counters)."""

    def __init__(self, roots: list[int], records: Path, every_s: float = 0.2,
                 probe: Callable[[], dict[str, float]] | None = None) -> None:
        super().__init__(daemon=True)
        self.cpu = CpuByRole(roots)
        self.lines = LineCounter(records)
        self.every_s = every_s
        self.probe = probe
        self.samples: list[Sample] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            t_s = time.time()
            cpu = self.cpu.read()
            extra = self.probe() if self.probe is not None else {}
            self.samples.append(Sample(t_s, cpu["master"], cpu["worker"], self.lines.read(), extra))
            self._halt.wait(self.every_s)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def at(samples: list[Sample], t_s: float) -> Sample:
    """The last sample taken at or before t_s (the first one if none was)."""
    best = samples[0]
    for sample in samples:
        if sample.t_s > t_s:
            break
        best = sample
    return best
