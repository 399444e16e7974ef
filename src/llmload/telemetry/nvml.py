"""NVIDIA's management library (``pynvml`` from nvidia-ml-py): the GPUs of this machine and the ones a
process may use. No NVML (no package, no driver) is not an error: callers get None and a reason."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("llmload")


@dataclass(frozen=True, slots=True)
class GpuInfo:
    index: int  # NVML (physical) index
    total_bytes: int
    free_bytes: int
    name: str = ""
    uuid: str = ""


def nvml_text(value: Any) -> str:
    """A name or UUID as NVML returns it (bytes in older bindings) as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


def visible_indices(count: int, uuids: list[str], cuda_visible_devices: str | None) -> list[int]:
    """NVML indices a process sees, in CUDA order, given a ``CUDA_VISIBLE_DEVICES`` value (None: all).

    Entries are indices or UUIDs (or unique prefixes such as ``GPU-8f2c``); as CUDA does, the list stops at
    the first entry that names no device (an index out of range, an unknown or ambiguous UUID prefix) and at
    a device named a second time."""
    if cuda_visible_devices is None:
        return list(range(count))
    chosen: list[int] = []
    for raw in (part.strip() for part in cuda_visible_devices.split(",")):
        index = _entry_index(raw, count, uuids)
        if index is None or index in chosen:
            break
        chosen.append(index)
    return chosen


def _entry_index(entry: str, count: int, uuids: list[str]) -> int | None:
    if not entry:
        return None
    if entry.lstrip("-").isdigit():
        return int(entry) if 0 <= int(entry) < count else None
    matches = [i for i, uuid in enumerate(uuids) if uuid and uuid.startswith(entry)]
    return matches[0] if len(matches) == 1 else None


def read_nvml_inventory() -> tuple[list[GpuInfo] | None, str]:
    """(inventory, detail); inventory is None when NVML cannot be used (no driver, no pynvml)."""
    try:
        import pynvml
    except ImportError:
        return None, "pynvml not installed (pip install nvidia-ml-py)"
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # NVMLError subclasses; no driver on this machine
        return None, f"NVML unavailable: {exc}"
    try:
        gpus = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
            name = pynvml.nvmlDeviceGetName(handle)
            uuid = pynvml.nvmlDeviceGetUUID(handle)
            gpus.append(GpuInfo(index, int(mem.total), int(mem.free), nvml_text(name), nvml_text(uuid)))
        return gpus, f"{len(gpus)} GPU(s) via NVML"
    finally:
        pynvml.nvmlShutdown()


def open_nvml(cuda_visible_devices: str | None = None) -> tuple[Any, list[int]] | None:
    """(pynvml module, visible indices) after nvmlInit, or None when there is no NVML or no visible GPU.
    ``cuda_visible_devices`` None: this process's ``CUDA_VISIBLE_DEVICES``."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001 - ImportError or NVMLError (no driver): no GPU telemetry
        log.info("GPU telemetry off: NVML not available (%s)", exc)
        return None
    count = int(pynvml.nvmlDeviceGetCount())
    uuids = [nvml_text(pynvml.nvmlDeviceGetUUID(pynvml.nvmlDeviceGetHandleByIndex(i))) for i in range(count)]
    env = os.environ.get("CUDA_VISIBLE_DEVICES") if cuda_visible_devices is None else cuda_visible_devices
    indices = visible_indices(count, uuids, env)
    if not indices:
        log.info("GPU telemetry off: no visible GPU (%d present)", count)
        pynvml.nvmlShutdown()
        return None
    return pynvml, indices
