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

from llmload.kvbudget import GIB
from llmload.serve.serve_profile import ServeProfile, missing_model_message
from llmload.serve.vllm_env import vllm_version
from llmload.telemetry.nvml import GpuInfo, read_nvml_inventory, visible_indices


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


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
    """The GPUs a process would see, in CUDA order, given CUDA_VISIBLE_DEVICES (None: all of them)."""
    uuids = [gpu.uuid for gpu in inventory]
    return [inventory[i] for i in visible_indices(len(inventory), uuids, cuda_visible_devices)]


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
