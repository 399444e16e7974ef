"""Checks run before starting vLLM: each gives a name, ok and one line of detail.

GPU checks read NVML (``pynvml`` from nvidia-ml-py) when it is present; the logic itself is a pure
function over an inventory of ``GpuInfo`` so that it can be tested without a GPU.
"""

from __future__ import annotations

import errno
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from llmload.serve.profile import ServeProfile, missing_model_message
from llmload.serve.vllm_env import vllm_version

GIB = 1024**3


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class GpuInfo:
    index: int
    total_bytes: int
    free_bytes: int
    name: str = ""
    uuid: str = ""


@dataclass(slots=True)
class PreflightResult:
    checks: list[Check] = field(default_factory=list)
    vllm_version: str | None = None
    gpus: list[GpuInfo] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def table(self) -> str:
        """A plain-text table: one row per check."""
        width = max((len(c.name) for c in self.checks), default=5)
        rows = [f"{'check':<{width}}  ok    detail"]
        rows += [f"{c.name:<{width}}  {'ok' if c.ok else 'FAIL':<4}  {c.detail}" for c in self.checks]
        return "\n".join(rows)


def check_vllm(python: str | Path) -> tuple[Check, str | None]:
    version, detail = vllm_version(python)
    return Check("vllm", version is not None, detail), version


def check_model(profile: ServeProfile) -> Check:
    path = Path(profile.model)
    if (path / "config.json").is_file():
        return Check("model", True, str(path))
    if path.is_dir():
        return Check("model", False, f"{path} has no config.json (incomplete download?)")
    return Check("model", False, missing_model_message(profile))


def check_port(host: str, port: int) -> Check:
    """Free when we can bind it ourselves (SO_REUSEADDR off, as the server will do on the same host)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return Check("port", False, f"{host}:{port} is already in use (pick another port)")
            return Check("port", False, f"cannot bind {host}:{port}: {exc.strerror}")
    return Check("port", True, f"{host}:{port} is free")


def visible_gpus(inventory: list[GpuInfo], cuda_visible_devices: str | None) -> list[GpuInfo]:
    """The GPUs a process would see, in CUDA order, given CUDA_VISIBLE_DEVICES (None: all of them).

    Entries are indices or UUIDs (or UUID prefixes); as CUDA does, parsing stops at the first entry
    that names no device.
    """
    if cuda_visible_devices is None:
        return list(inventory)
    by_index = {g.index: g for g in inventory}
    chosen: list[GpuInfo] = []
    for raw in cuda_visible_devices.split(","):
        entry = raw.strip()
        gpu: GpuInfo | None = None
        if entry.isdigit():
            gpu = by_index.get(int(entry))
        elif entry:
            gpu = next((g for g in inventory if g.uuid and g.uuid.startswith(entry)), None)
        if gpu is None or gpu in chosen:
            break
        chosen.append(gpu)
    return chosen


def check_gpus(
    inventory: list[GpuInfo],
    tensor_parallel_size: int,
    gpu_memory_utilization: float,
    cuda_visible_devices: str | None,
) -> list[Check]:
    """Enough visible GPUs for the tensor-parallel size, and enough free memory on the ones vLLM takes."""
    visible = visible_gpus(inventory, cuda_visible_devices)
    cvd = f" (CUDA_VISIBLE_DEVICES={cuda_visible_devices})" if cuda_visible_devices is not None else ""
    if len(visible) < tensor_parallel_size:
        detail = f"{len(visible)} GPU(s) visible{cvd}, tensor-parallel-size needs {tensor_parallel_size}"
        return [Check("gpu-count", False, detail)]
    used = visible[:tensor_parallel_size]
    checks = [Check("gpu-count", True, f"{len(visible)} visible{cvd}, using {[g.index for g in used]}")]
    for gpu in used:
        need = gpu_memory_utilization * gpu.total_bytes
        detail = (
            f"GPU {gpu.index}: {gpu.free_bytes / GIB:.1f} GiB free of {gpu.total_bytes / GIB:.1f} GiB,"
            f" needs {need / GIB:.1f} GiB for utilisation {gpu_memory_utilization}"
        )
        checks.append(Check(f"gpu{gpu.index}-memory", gpu.free_bytes >= need, detail))
    return checks


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
            gpus.append(GpuInfo(index, int(mem.total), int(mem.free), _text(name), _text(uuid)))
        return gpus, f"{len(gpus)} GPU(s) via NVML"
    finally:
        pynvml.nvmlShutdown()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def run_preflight(
    profile: ServeProfile,
    python: str | Path,
    port: int | None = None,
) -> PreflightResult:
    """All checks for one profile. GPU checks run only for ``device = "gpu"`` profiles.

    CUDA_VISIBLE_DEVICES comes from the profile's ``[env]`` if set there, else from this process.
    """
    result = PreflightResult()
    vllm_check, result.vllm_version = check_vllm(python)
    result.checks += [vllm_check, check_model(profile), check_port(profile.host, port or profile.port)]
    if profile.device != "gpu":
        result.checks.append(Check("gpu", True, "not needed (device = cpu)"))
        return result
    inventory, detail = read_nvml_inventory()
    if inventory is None:
        result.checks.append(Check("gpu", False, detail))
        return result
    result.gpus = inventory
    util = profile.gpu_memory_utilization or 0.9  # vLLM's default
    cvd = profile.env.get("CUDA_VISIBLE_DEVICES", os.environ.get("CUDA_VISIBLE_DEVICES"))
    result.checks += check_gpus(inventory, profile.tensor_parallel_size, util, cvd)
    return result
