"""Per-GPU telemetry through NVML (``pynvml`` from nvidia-ml-py), written to ``gpu.jsonl``.

One JSON line per GPU per sample: utilisation, memory used/total, power, temperature and SM clock.
Only the GPUs this process may use are sampled: ``CUDA_VISIBLE_DEVICES`` (indices or UUIDs) is honoured.
No NVML or no GPU is not an error: ``open_nvml()`` returns None and says so once at info level.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

log = logging.getLogger("llmload")

GPU_FILE = "gpu.jsonl"


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


def visible_indices(count: int, uuids: list[str], env: str | None) -> list[int]:
    """NVML indices allowed by a ``CUDA_VISIBLE_DEVICES`` value (None: all). Entries stop at the first
    invalid one, as CUDA does; UUIDs (or unique prefixes such as ``GPU-8f2c``) select by UUID."""
    if env is None:
        return list(range(count))
    chosen: list[int] = []
    for raw in (part.strip() for part in env.split(",")):
        if not raw:
            break
        if raw.lstrip("-").isdigit():
            index = int(raw)
            if not 0 <= index < count:
                break
        else:
            matches = [i for i, u in enumerate(uuids) if u.startswith(raw)]
            if len(matches) != 1:
                break
            index = matches[0]
        if index not in chosen:
            chosen.append(index)
    return chosen


def _safe(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except Exception:  # noqa: BLE001 - NVMLError_NotSupported and friends: that field is unknown
        return None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


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
        uuid=_text(_safe(lambda: nvml.nvmlDeviceGetUUID(handle)) or ""),
        name=_text(_safe(lambda: nvml.nvmlDeviceGetName(handle)) or ""),
        util_percent=float(util.gpu) if util is not None else None,
        mem_util_percent=float(util.memory) if util is not None else None,
        mem_used_bytes=int(mem.used) if mem is not None else None,
        mem_total_bytes=int(mem.total) if mem is not None else None,
        power_w=power_mw / 1000.0 if power_mw is not None else None,
        temp_c=float(temp) if temp is not None else None,
        sm_clock_mhz=float(clock) if clock is not None else None,
    )


def open_nvml(env: str | None = None) -> tuple[Any, list[int]] | None:
    """(pynvml module, visible indices) after nvmlInit, or None when there is no NVML or no visible GPU."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001 - ImportError or NVMLError (no driver): no GPU telemetry
        log.info("GPU telemetry off: NVML not available (%s)", exc)
        return None
    count = int(pynvml.nvmlDeviceGetCount())
    uuids = [_text(pynvml.nvmlDeviceGetUUID(pynvml.nvmlDeviceGetHandleByIndex(i))) for i in range(count)]
    indices = visible_indices(count, uuids, os.environ.get("CUDA_VISIBLE_DEVICES") if env is None else env)
    if not indices:
        log.info("GPU telemetry off: no visible GPU (%d present)", count)
        pynvml.nvmlShutdown()
        return None
    return pynvml, indices


class GpuSampler:
    """Samples the visible GPUs every ``interval_s``; ``sink`` receives one JSON line per GPU."""

    def __init__(
        self,
        nvml: Any,
        indices: list[int],
        sink: Callable[[str], None],
        interval_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.nvml = nvml
        self.indices = indices
        self.sink = sink
        self.interval_s = interval_s
        self.clock = clock
        self.host = socket.gethostname()
        self.samples_written = 0

    def sample_once(self) -> bool:
        t_s = self.clock()
        for index in self.indices:
            self.sink(read_gpu(self.nvml, index, t_s, self.host).to_json())
            self.samples_written += 1
        return True

    def run(self, sleep: Callable[[float], None], should_stop: Callable[[], bool]) -> None:
        next_s = time.monotonic()
        while not should_stop():
            self.sample_once()
            next_s += self.interval_s
            sleep(max(0.0, next_s - time.monotonic()))

    def close(self) -> None:
        try:
            self.nvml.nvmlShutdown()
        except Exception:  # noqa: BLE001 - already shut down
            log.debug("nvmlShutdown failed", exc_info=True)
