"""What every telemetry sampler is, the JSON-lines file it writes into, and the one sampling cadence.

Another source is a class with ``sample_once`` and ``close`` that hands its JSON lines to the sink it was
built with, and an opener that returns None where its library or device is absent; ``run_telemetry.Telemetry``
opens it beside ``open_gpu_sampler`` and ticks it. The case in view is an NPU sampler for the Ascend
profiles (``serve/profiles/vllm-ascend-*.toml``; none exists, llmload is untested on Ascend): it would read
the cards through Huawei's DCMI library (what ``npu-smi`` shows), honour ``ASCEND_RT_VISIBLE_DEVICES`` as
the NVML sampler honours ``CUDA_VISIBLE_DEVICES``, and write into gpu.jsonl one line per card and sample
with the fields of ``gpu_sampler.GpuSample`` (``t_s``, ``host``, ``gpu`` as the card index,
``util_percent``, memory, power, temperature, clock; None where a value is not read), so that the
analysis's per-step GPU columns and the report's GPU panel take it as they are.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Protocol

Sink = Callable[[str], None]  # receives one JSON line (no newline)


class Sampler(Protocol):
    def sample_once(self) -> bool:
        """One sample into the sink; False when the source turned out to be absent (it is sampled no more)."""
        ...

    def close(self) -> None:
        """Release what the sampler holds (a library handle); called once, when sampling ends."""
        ...


class LineFile:
    """Appends JSON lines; flushed once per sampling tick (not per line)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[str] | None = None
        self.count = 0

    def write_line(self, line: str) -> None:
        if self._file is None:  # created on the first line: no empty file when nothing is sampled
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write(line + "\n")
        self.count += 1

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def run_on_cadence(
    tick: Callable[[], bool], interval_s: float, sleep: Callable[[float], None], should_stop: Callable[[], bool]
) -> None:
    """Call ``tick`` every ``interval_s`` until ``should_stop()`` or ``tick()`` returns False. Deadlines sit
    on a fixed grid from the start, so a slow tick does not shift the later ones."""
    next_s = time.monotonic()
    while not should_stop():
        if not tick():
            return
        next_s += interval_s
        sleep(max(0.0, next_s - time.monotonic()))
