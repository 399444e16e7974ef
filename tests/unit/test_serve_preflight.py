"""Preflight checks per engine: port in use, model present, the engine importable, GPU count/memory over fake
GPUs (a fake NVML module, a fake inventory)."""

from __future__ import annotations

import dataclasses
import socket
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from llmload.kvbudget import GIB
from llmload.serve.interpreter import Interpreter
from llmload.serve.serve_preflight import (
    NPU_NOTE,
    PreflightResult,
    check_gpus,
    check_model,
    check_port,
    run_preflight,
    visible_gpus,
)
from llmload.serve.serve_profile import ServeProfile, load_profile
from llmload.telemetry.nvml import GpuInfo, read_nvml_inventory

# index, total, free: four 24 GiB cards; GPU 1 is mostly taken by someone else.
INVENTORY = [
    GpuInfo(0, 24 * GIB, 23 * GIB, uuid="GPU-aaaa"),
    GpuInfo(1, 24 * GIB, 4 * GIB, uuid="GPU-bbbb"),
    GpuInfo(2, 24 * GIB, 22 * GIB, uuid="GPU-cccc"),
    GpuInfo(3, 24 * GIB, 21 * GIB, uuid="GPU-dddd"),
]


def test_port_in_use_is_detected() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        busy = check_port("127.0.0.1", port)
    assert not busy.ok
    assert f"127.0.0.1:{port} is already in use" in busy.detail
    assert check_port("127.0.0.1", port).ok  # released


def test_visible_gpus_follow_cuda_visible_devices_order() -> None:
    assert [g.index for g in visible_gpus(INVENTORY, None)] == [0, 1, 2, 3]
    assert [g.index for g in visible_gpus(INVENTORY, "2,0")] == [2, 0]
    assert [g.index for g in visible_gpus(INVENTORY, "GPU-dd,3")] == [3]  # duplicate stops the list
    assert visible_gpus(INVENTORY, "") == []
    assert [g.index for g in visible_gpus(INVENTORY, "0,7,2")] == [0]  # stops at the first unknown


def test_tp2_on_all_gpus_fails_on_busy_gpu1_memory() -> None:
    checks = check_gpus(INVENTORY, 2, 0.85, None)
    by_name = {c.name: c for c in checks}
    assert by_name["gpu-count"].ok
    assert by_name["gpu0-memory"].ok
    assert not by_name["gpu1-memory"].ok
    assert "4.0 GiB free of 24.0 GiB, needs 20.4 GiB" in by_name["gpu1-memory"].detail


def test_cuda_visible_devices_narrowing_skips_the_busy_gpu() -> None:
    checks = check_gpus(INVENTORY, 2, 0.85, "2,3")
    assert [c.name for c in checks] == ["gpu-count", "gpu2-memory", "gpu3-memory"]
    assert all(c.ok for c in checks)


def test_too_few_visible_gpus_for_tensor_parallel() -> None:
    checks = check_gpus(INVENTORY, 2, 0.85, "3")
    assert len(checks) == 1 and not checks[0].ok
    assert checks[0].detail == "1 GPU(s) visible (CUDA_VISIBLE_DEVICES=3), tensor-parallel-size needs 2"


def test_memory_threshold_is_utilisation_times_total() -> None:
    gpu = [GpuInfo(0, 100 * GIB, 85 * GIB)]
    assert check_gpus(gpu, 1, 0.85, None)[1].ok
    assert not check_gpus(gpu, 1, 0.86, None)[1].ok


def test_missing_model_gives_download_command() -> None:
    profile = load_profile("qwen3-32b-awq-2x4090")
    if Path(profile.model).exists():
        pytest.skip("the real model is present on this machine")
    check = check_model(profile)
    assert not check.ok
    assert "model not found at /models/Qwen/Qwen3-32B-AWQ" in check.detail
    assert "modelscope download --model Qwen/Qwen3-32B-AWQ" in check.detail


def test_result_table_and_ok() -> None:
    result = PreflightResult(checks=check_gpus(INVENTORY, 2, 0.85, None))
    assert not result.ok
    assert [c.name for c in result.failures()] == ["gpu1-memory"]
    lines = result.table().splitlines()
    assert lines[0].split() == ["check", "ok", "detail"]
    assert lines[3].startswith("gpu1-memory  FAIL")


class FakeNvml(types.ModuleType):
    """pynvml's calls that the inventory makes, over (total, free, name, uuid) per card."""

    def __init__(self, cards: list[tuple[int, int, str, str]], fail_init: bool = False) -> None:
        super().__init__("pynvml")
        self.cards, self.fail_init, self.shut_down = cards, fail_init, False

    def nvmlInit(self) -> None:
        if self.fail_init:
            raise RuntimeError("Driver Not Loaded")

    def nvmlShutdown(self) -> None:
        self.shut_down = True

    def nvmlDeviceGetCount(self) -> int:
        return len(self.cards)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> Any:
        return types.SimpleNamespace(total=self.cards[handle][0], free=self.cards[handle][1])

    def nvmlDeviceGetName(self, handle: int) -> bytes:
        return self.cards[handle][2].encode()  # older bindings give bytes

    def nvmlDeviceGetUUID(self, handle: int) -> str:
        return self.cards[handle][3]


def test_inventory_is_read_through_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNvml(
        [(80 * GIB, 79 * GIB, "NVIDIA H200", "GPU-1111"), (80 * GIB, 3 * GIB, "NVIDIA H200", "GPU-2222")]
    )
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    gpus, detail = read_nvml_inventory()
    assert gpus == [
        GpuInfo(0, 80 * GIB, 79 * GIB, "NVIDIA H200", "GPU-1111"),
        GpuInfo(1, 80 * GIB, 3 * GIB, "NVIDIA H200", "GPU-2222"),
    ]
    assert detail == "2 GPU(s) via NVML" and fake.shut_down
    monkeypatch.setitem(sys.modules, "pynvml", FakeNvml([], fail_init=True))
    assert read_nvml_inventory() == (None, "NVML unavailable: Driver Not Loaded")


TWO_CARDS = [GpuInfo(0, 24 * GIB, 23 * GIB, uuid="GPU-aaaa"), GpuInfo(1, 24 * GIB, 10 * GIB, uuid="GPU-bbbb")]
PY = Interpreter(Path("/srv/engine/bin/python"), "$TEST", "install it")


def preflight(profile: ServeProfile, version: str | None = "1.2.3", **changes: Any) -> dict[str, Any]:
    """The checks by name of ``profile`` (changed by ``changes``) over TWO_CARDS and a fake engine version."""
    reads: list[str] = []

    def read_inventory() -> tuple[list[GpuInfo] | None, str]:
        reads.append("nvml")
        return TWO_CARDS, "2 GPU(s) via NVML"

    def read_version(python: Path, module: str) -> tuple[str | None, str]:
        return (
            version,
            f"{module} {version} in {python}" if version else f"`import {module}` failed in {python}",
        )

    profile = dataclasses.replace(profile, **{"env": {"CUDA_VISIBLE_DEVICES": "0,1"}, **changes})
    result = run_preflight(profile, PY, read_inventory=read_inventory, read_version=read_version)
    return {"nvml reads": len(reads), "version": result.engine_version, **{c.name: c for c in result.checks}}


def test_vllm_checks_memory_at_its_default_utilisation_and_names_the_variable() -> None:
    seed = load_profile("qwen3-32b-awq-2x4090")
    checks = preflight(seed, gpu_memory_utilization=None)
    assert checks["version"] == "1.2.3" and checks["vllm"].detail == "vllm 1.2.3 in /srv/engine/bin/python"
    assert checks["gpu0-memory"].ok  # 23 GiB free >= 0.9 x 24
    assert "10.0 GiB free of 24.0 GiB, needs 21.6 GiB for utilisation 0.9" in checks["gpu1-memory"].detail
    missing = preflight(seed, version=None)
    assert not missing["vllm"].ok and missing["vllm"].detail.endswith(
        "failed in /srv/engine/bin/python (install it)"
    )


def test_sglang_memory_is_checked_only_at_a_fraction_the_profile_asks_for() -> None:
    sglang = load_profile("sglang-qwen3-32b-awq-2x4090")
    asked = preflight(sglang)
    assert asked["sglang"].ok and not asked["gpu1-memory"].ok  # 0.85 x 24 = 20.4 GiB > 10 free
    unasked = preflight(sglang, gpu_memory_utilization=None)  # SGLang sizes its memory by the card itself
    assert [name for name in unasked if name.startswith("gpu")] == ["gpu-count"]
    assert unasked["gpu-count"].detail == "2 visible (CUDA_VISIBLE_DEVICES=0,1), using [0, 1]"


def test_transformers_needs_one_visible_gpu_and_no_memory_fraction() -> None:
    checks = preflight(load_profile("transformers-gpu"))
    assert checks["transformers"].ok and checks["gpu-count"].ok
    assert [name for name in checks if name.startswith("gpu")] == ["gpu-count"]
    none_visible = preflight(load_profile("transformers-gpu"), env={"CUDA_VISIBLE_DEVICES": ""})
    assert not none_visible["gpu-count"].ok
    assert (
        none_visible["gpu-count"].detail
        == "0 GPU(s) visible (CUDA_VISIBLE_DEVICES=), tensor-parallel-size needs 1"
    )


def test_an_npu_profile_reads_no_nvml_and_says_it_is_unchecked() -> None:
    checks = preflight(load_profile("vllm-ascend-qwen3-32b-2x910b"))
    assert checks["nvml reads"] == 0
    assert checks["npu"].ok and checks["npu"].detail == NPU_NOTE and "untested on Ascend" in NPU_NOTE
    assert not any(name.startswith("gpu") for name in checks)


def test_a_command_profile_checks_its_program_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = load_profile("command-llama-server")
    monkeypatch.setenv("PATH", str(tmp_path))
    absent = run_preflight(profile, None, read_inventory=lambda: (TWO_CARDS, ""))
    assert [c.detail for c in absent.failures() if c.name == "command"] == [
        "llama-server not found (not on PATH, not an executable path)"
    ]
    program = tmp_path / "llama-server"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    present = run_preflight(profile, None, read_inventory=lambda: (TWO_CARDS, ""))
    assert present.checks[0].ok and present.checks[0].detail == f"llama-server: {program}"
    assert present.engine_version is None
