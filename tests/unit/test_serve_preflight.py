"""Preflight checks: port in use, model present, GPU count/memory over a fake NVML inventory."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from llmload.kvbudget import GIB
from llmload.serve.serve_preflight import (
    PreflightResult,
    check_gpus,
    check_model,
    check_port,
    visible_gpus,
)
from llmload.serve.serve_profile import load_profile
from llmload.telemetry.nvml import GpuInfo

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
