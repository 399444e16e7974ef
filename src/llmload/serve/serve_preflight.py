"""Checks run before starting a profile's server: each gives a name, ok and one line of detail.

The engine importable by its interpreter and its version (a ``command``: its program on PATH), the model
present (else the download hint), the port free, and on a ``device = "gpu"`` profile enough visible GPUs for
the tensor-parallel size and enough free memory on each for the requested fraction. The accelerator checks
are pure functions over an inventory of ``GpuInfo`` (read through NVML by ``run_preflight``), so that they
are tested with fake GPUs.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from llmload.kvbudget import GIB
from llmload.serve.engines import Engine, engine_named
from llmload.serve.interpreter import Interpreter, Which, module_version
from llmload.serve.serve_profile import ServeProfile, missing_model_message
from llmload.telemetry.nvml import GpuInfo, read_nvml_inventory, visible_indices

ReadInventory = Callable[[], tuple[list[GpuInfo] | None, str]]
ReadVersion = Callable[[Path, str], tuple[str | None, str]]
NPU_NOTE = "not checked: llmload reads no NPU inventory (untested on Ascend; `npu-smi info` shows the cards)"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(slots=True)
class PreflightResult:
    checks: list[Check] = field(default_factory=list)
    engine_version: str | None = None
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


def check_engine(
    engine: Engine, interpreter: Interpreter, read_version: ReadVersion
) -> tuple[Check, str | None]:
    """The engine's package importable by its interpreter, and its version."""
    assert engine.module is not None
    version, detail = read_version(interpreter.python, engine.module)
    return Check(
        engine.name, version is not None, detail if version else f"{detail} ({interpreter.hint})"
    ), version


def check_program(argv0: str, which: Which = shutil.which) -> Check:
    """A ``command`` profile's program: a path that exists or a name on PATH."""
    found = which(argv0)
    if found:
        return Check("command", True, f"{argv0}: {found}")
    return Check("command", False, f"{argv0} not found (not on PATH, not an executable path)")


def check_model(profile: ServeProfile) -> Check:
    """A model folder with its config.json, or a single weights file (a GGUF for llama.cpp, say)."""
    path = Path(profile.model)
    if (path / "config.json").is_file() or path.is_file():
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
    memory_fraction: float | None,
    cuda_visible_devices: str | None,
) -> list[Check]:
    """Enough visible GPUs for the tensor-parallel size, and (``memory_fraction`` given) enough free memory
    on the ones the server takes: fraction x total."""
    visible = visible_gpus(inventory, cuda_visible_devices)
    cvd = f" (CUDA_VISIBLE_DEVICES={cuda_visible_devices})" if cuda_visible_devices is not None else ""
    if len(visible) < tensor_parallel_size:
        detail = f"{len(visible)} GPU(s) visible{cvd}, tensor-parallel-size needs {tensor_parallel_size}"
        return [Check("gpu-count", False, detail)]
    used = visible[:tensor_parallel_size]
    checks = [Check("gpu-count", True, f"{len(visible)} visible{cvd}, using {[g.index for g in used]}")]
    if memory_fraction is None:
        return checks
    for gpu in used:
        need = memory_fraction * gpu.total_bytes
        detail = (
            f"GPU {gpu.index}: {gpu.free_bytes / GIB:.1f} GiB free of {gpu.total_bytes / GIB:.1f} GiB,"
            f" needs {need / GIB:.1f} GiB for utilisation {memory_fraction}"
        )
        checks.append(Check(f"gpu{gpu.index}-memory", gpu.free_bytes >= need, detail))
    return checks


def accelerator_checks(
    profile: ServeProfile,
    inventory: list[GpuInfo] | None,
    inventory_detail: str,
    cuda_visible_devices: str | None,
) -> list[Check]:
    """The device checks of a profile, given what NVML returned (None: no NVML, and why)."""
    if profile.device == "cpu":
        return [Check("gpu", True, "not needed (device = cpu)")]
    if profile.device == "npu":
        return [Check("npu", True, NPU_NOTE)]
    if inventory is None:
        return [Check("gpu", False, inventory_detail)]
    fraction = profile.gpu_memory_utilization or engine_named(profile.engine).memory_default
    return check_gpus(inventory, profile.tensor_parallel_size, fraction, cuda_visible_devices)


def run_preflight(
    profile: ServeProfile,
    interpreter: Interpreter | None,
    port: int | None = None,
    read_inventory: ReadInventory = read_nvml_inventory,
    read_version: ReadVersion = module_version,
) -> PreflightResult:
    """Every check for one profile. ``interpreter``: its Python engine's (None for a ``command`` profile).
    CUDA_VISIBLE_DEVICES comes from the profile's ``[env]`` if set there, else from this process."""
    result = PreflightResult()
    engine = engine_named(profile.engine)
    if engine.module is None:
        result.checks.append(check_program(profile.command[0]))
    else:
        assert interpreter is not None, f"engine {engine.name} needs its interpreter"
        engine_check, result.engine_version = check_engine(engine, interpreter, read_version)
        result.checks.append(engine_check)
    result.checks += [check_model(profile), check_port(profile.host, port or profile.port)]
    inventory, detail = read_inventory() if profile.device == "gpu" else (None, "")
    result.gpus = inventory or []
    cvd = profile.env.get("CUDA_VISIBLE_DEVICES", os.environ.get("CUDA_VISIBLE_DEVICES"))
    result.checks += accelerator_checks(profile, inventory, detail, cvd)
    return result
