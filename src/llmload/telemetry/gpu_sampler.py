"""Per-GPU telemetry through NVML (``pynvml`` from nvidia-ml-py), written to gpu.jsonl.

One JSON line per GPU per sample: utilisation, memory used/total, power, temperature and SM clock.
Only the GPUs this process may use are sampled: ``CUDA_VISIBLE_DEVICES`` (indices or UUIDs) is honoured.
No NVML or no GPU is not an error: ``open_gpu_sampler()`` returns None and says so once at info level.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from llmload.telemetry.nvml import nvml_text, open_nvml
from llmload.telemetry.sampler import Sink

log = logging.getLogger("llmload")


@dataclass(frozen=True, slots=True)
class GpuSample:
    t_s: float
    host: str
    gpu: int  # NVML (physical) index
    uuid: str
    name: str
    util_percent: float | None
    mem_util_percent: float | None
    mem_used_bytes: int | None
    mem_total_bytes: int | None
    power_w: float | None
    temp_c: float | None
    sm_clock_mhz: float | None

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


def _safe(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except Exception:  # noqa: BLE001 - NVMLError_NotSupported and friends: that field is unknown
        return None


def read_gpu(nvml: Any, index: int, t_s: float, host: str) -> GpuSample:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    util = _safe(lambda: nvml.nvmlDeviceGetUtilizationRates(handle))
    mem = _safe(lambda: nvml.nvmlDeviceGetMemoryInfo(handle))
    power_mw = _safe(lambda: nvml.nvmlDeviceGetPowerUsage(handle))
    temp = _safe(lambda: nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))
    clock = _safe(lambda: nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM))
    return GpuSample(
        t_s=t_s,
        host=host,
        gpu=index,
        uuid=nvml_text(_safe(lambda: nvml.nvmlDeviceGetUUID(handle)) or ""),
        name=nvml_text(_safe(lambda: nvml.nvmlDeviceGetName(handle)) or ""),
        util_percent=float(util.gpu) if util is not None else None,
        mem_util_percent=float(util.memory) if util is not None else None,
        mem_used_bytes=int(mem.used) if mem is not None else None,
        mem_total_bytes=int(mem.total) if mem is not None else None,
        power_w=power_mw / 1000.0 if power_mw is not None else None,
        temp_c=float(temp) if temp is not None else None,
        sm_clock_mhz=float(clock) if clock is not None else None,
    )


class GpuSampler:
    """Samples the visible GPUs once per ``sample_once``; ``sink`` receives one JSON line per GPU."""

    def __init__(
        self, nvml: Any, indices: list[int], sink: Sink, clock: Callable[[], float] = time.time
    ) -> None:
        self.nvml = nvml
        self.indices = indices
        self.sink = sink
        self.clock = clock
        self.host = socket.gethostname()
        self.samples_written = 0

    def sample_once(self) -> bool:
        t_s = self.clock()
        for index in self.indices:
            self.sink(read_gpu(self.nvml, index, t_s, self.host).to_json())
            self.samples_written += 1
        return True

    def close(self) -> None:
        try:
            self.nvml.nvmlShutdown()
        except Exception:  # noqa: BLE001 - already shut down
            log.debug("nvmlShutdown failed", exc_info=True)


def open_gpu_sampler(sink: Sink) -> GpuSampler | None:
    """A sampler of this process's visible GPUs, or None without NVML or without a visible GPU."""
    nvml = open_nvml()
    return GpuSampler(nvml[0], nvml[1], sink) if nvml else None
