"""NVML sampling without a GPU: a fake pynvml module, and CUDA_VISIBLE_DEVICES handling."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from llmload.telemetry.gpu_sampler import GpuSampler, read_gpu
from llmload.telemetry.nvml import visible_indices

UUIDS = ["GPU-8f2c0000-aaaa", "GPU-1b7e0000-bbbb", "GPU-1b7f0000-cccc"]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (None, [0, 1, 2]),
        ("", []),
        ("1", [1]),
        ("2,0", [2, 0]),
        ("0,7,1", [0]),  # CUDA stops at the first invalid entry
        ("GPU-8f2c", [0]),
        ("GPU-1b7e0000-bbbb,2", [1, 2]),
        ("GPU-1b7", []),  # ambiguous prefix
        ("-1", []),
    ],
)
def test_visible_indices_follow_cuda_visible_devices(env: str | None, expected: list[int]) -> None:
    assert visible_indices(3, UUIDS, env) == expected


class NotSupported(Exception):
    pass


class FakeNvml:
    NVML_TEMPERATURE_GPU = 0
    NVML_CLOCK_SM = 1

    def __init__(self, power_supported: bool = True) -> None:
        self.power_supported = power_supported
        self.shutdown = False

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> Any:
        return SimpleNamespace(gpu=90 + handle, memory=40)

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> Any:
        return SimpleNamespace(used=20 * 1024**3, total=24 * 1024**3, free=4 * 1024**3)

    def nvmlDeviceGetPowerUsage(self, handle: int) -> int:
        if not self.power_supported:
            raise NotSupported("NVML_ERROR_NOT_SUPPORTED")
        return 312_500  # milliwatts

    def nvmlDeviceGetTemperature(self, handle: int, sensor: int) -> int:
        assert sensor == self.NVML_TEMPERATURE_GPU
        return 71

    def nvmlDeviceGetClockInfo(self, handle: int, clock: int) -> int:
        assert clock == self.NVML_CLOCK_SM
        return 2520

    def nvmlDeviceGetUUID(self, handle: int) -> bytes:
        return UUIDS[handle].encode()  # older bindings return bytes

    def nvmlDeviceGetName(self, handle: int) -> str:
        return "NVIDIA GeForce RTX 4090"

    def nvmlShutdown(self) -> None:
        self.shutdown = True


def test_read_gpu_converts_units() -> None:
    sample = read_gpu(FakeNvml(), 1, 12.0, "box")
    assert sample.util_percent == 91.0 and sample.mem_util_percent == 40.0
    assert sample.mem_used_bytes == 20 * 1024**3 and sample.mem_total_bytes == 24 * 1024**3
    assert sample.power_w == 312.5 and sample.temp_c == 71.0 and sample.sm_clock_mhz == 2520.0
    assert sample.uuid == "GPU-1b7e0000-bbbb" and sample.name == "NVIDIA GeForce RTX 4090"


def test_an_unsupported_field_is_null_not_an_error() -> None:
    sample = read_gpu(FakeNvml(power_supported=False), 0, 1.0, "box")
    assert sample.power_w is None and sample.util_percent == 90.0


def test_sampler_writes_one_line_per_visible_gpu_and_shuts_nvml_down() -> None:
    lines: list[str] = []
    nvml = FakeNvml()
    sampler = GpuSampler(nvml, [2, 0], lines.append, clock=lambda: 100.0)
    sampler.sample_once()
    rows = [json.loads(line) for line in lines]
    assert [r["gpu"] for r in rows] == [2, 0]
    assert {r["t_s"] for r in rows} == {100.0}
    assert set(rows[0]) >= {"util_percent", "mem_used_bytes", "power_w", "temp_c", "sm_clock_mhz", "host"}
    sampler.close()
    assert nvml.shutdown
