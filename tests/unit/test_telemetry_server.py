"""Per-step server evidence from server_metrics.jsonl, and merging a standalone telemetry folder."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from llmload.analysis.server_evidence import (
    counter_delta,
    gpu_step_evidence,
    load_server_metrics,
    server_step_evidence,
)
from llmload.analysis.step_windows import StepWindow
from llmload.errors import UsageError
from llmload.telemetry.run_telemetry import Telemetry, merge_telemetry, parse_interval_s

LABELS = {"engine": "0", "model_name": "m"}


def scrape(t_s: float, waiting: float, running: float, kv: float, preempt: float, ttft: tuple[float, float]) -> list[dict[str, object]]:
    rows = [
        ("vllm:num_requests_waiting", waiting),
        ("vllm:num_requests_running", running),
        ("vllm:kv_cache_usage_perc", kv),
        ("vllm:num_preemptions_total", preempt),
        ("vllm:time_to_first_token_seconds_sum", ttft[0]),
        ("vllm:time_to_first_token_seconds_count", ttft[1]),
    ]
    return [{"t_s": t_s, "name": n, "labels": LABELS, "value": v} for n, v in rows]


def write_series(path: Path) -> None:
    lines = []
    # step 1 (users 4): 10..20 s, nothing waits; step 2 (users 8): 20..30 s, 4 wait and 3 preemptions happen
    for t in range(10, 30):
        busy = t >= 20
        lines += scrape(
            1000.0 + t,
            waiting=4.0 if busy else 0.0,
            running=4.0,
            kv=0.5 if busy else 0.25,
            preempt=float(max(0, t - 26)) if busy else 0.0,
            ttft=(0.1 * t, float(t)),
        )
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


@pytest.fixture
def frame(tmp_path: Path) -> pd.DataFrame:
    write_series(tmp_path / "server_metrics.jsonl")
    return load_server_metrics(tmp_path / "server_metrics.jsonl", t0_s=1000.0, scale=1.0)


STEPS = [
    StepWindow(0, 4, start_s=10.0, end_s=20.0, warmup_s=2.0, rate_rps=None),
    StepWindow(1, 8, start_s=20.0, end_s=30.0, warmup_s=2.0, rate_rps=None),
    StepWindow(2, 12, start_s=40.0, end_s=50.0, warmup_s=2.0, rate_rps=None),
]


def test_per_step_queue_batch_and_kv_evidence(frame: pd.DataFrame) -> None:
    first, second, third = server_step_evidence(frame, STEPS)
    assert first is not None and second is not None
    assert first["users"] == 4 and first["scrapes"] == 8  # 12..19 s
    assert first["waiting_mean"] == 0.0 and first["waiting_max"] == 0.0
    assert second["waiting_mean"] == 4.0 and second["running_mean"] == 4.0
    assert first["kv_usage_max"] == 0.25 and second["kv_usage_max"] == 0.5
    assert first["preemptions"] == 0.0 and second["preemptions"] == 3.0  # 0 at 21 s .. 3 at 29 s
    assert second["ttft_mean_s"] == pytest.approx(0.1)  # delta sum / delta count
    assert third is None  # no scrape in that window


def test_counter_delta_starts_from_the_last_value_before_the_window(frame: pd.DataFrame) -> None:
    # the count equals t: from 21 (last at or before 21.5) to 29 inclusive
    assert counter_delta(frame, ("vllm:time_to_first_token_seconds_count",), 21.5, 30.0) == 8.0
    assert counter_delta(frame, ("vllm:nothing",), 0.0, 30.0) is None


def test_time_scale_maps_scrape_times_onto_the_target_time_base(tmp_path: Path) -> None:
    write_series(tmp_path / "s.jsonl")
    scaled = load_server_metrics(tmp_path / "s.jsonl", t0_s=1000.0, scale=100.0)
    assert scaled["t_s"].min() == 1000.0 and scaled["t_s"].max() == 2900.0


def test_no_telemetry_gives_none_and_empty_lists(tmp_path: Path) -> None:
    empty = load_server_metrics(tmp_path / "missing.jsonl", 0.0, 1.0)
    assert server_step_evidence(empty, STEPS) == [None, None, None]
    assert gpu_step_evidence(pd.DataFrame(), STEPS) == [[], [], []]


def test_gpu_evidence_per_gpu_and_window() -> None:
    gpu = pd.DataFrame(
        [
            {"t_s": t, "host": "h", "gpu": g, "util_percent": 50.0 + g * 40, "mem_used_bytes": 1000 + t,
             "power_w": 200.0, "temp_c": 60.0 + t, "sm_clock_mhz": 2000.0}
            for t in range(12, 20) for g in (0, 1)
        ]
    )
    first = gpu_step_evidence(gpu, STEPS[:1])[0]
    assert [(g["gpu"], g["samples"], g["util_mean_percent"]) for g in first] == [(0, 8, 50.0), (1, 8, 90.0)]
    assert first[0]["mem_used_max_bytes"] == 1019 and first[0]["temp_max_c"] == 79.0


def test_merge_appends_once_and_refuses_an_empty_folder(tmp_path: Path) -> None:
    src, run = tmp_path / "tele", tmp_path / "run"
    src.mkdir()
    run.mkdir()
    (src / "gpu.jsonl").write_text('{"t_s": 1, "gpu": 0}\n{"t_s": 2, "gpu": 0}\n')
    (run / "gpu.jsonl").write_text('{"t_s": 1, "gpu": 0}\n')
    assert merge_telemetry(src, run) == {"gpu.jsonl": 1}
    assert merge_telemetry(src, run) == {"gpu.jsonl": 0}
    assert (run / "gpu.jsonl").read_text().count("\n") == 2
    with pytest.raises(UsageError, match="holds neither"):
        merge_telemetry(run / "nothing", run)


@pytest.mark.parametrize(("text", "seconds"), [("1s", 1.0), ("250ms", 0.25), ("2", 2.0), ("0", 0.0), ("off", 0.0)])
def test_interval_parsing(text: str, seconds: float) -> None:
    assert parse_interval_s(text) == seconds


def test_bad_interval_names_the_option() -> None:
    with pytest.raises(UsageError, match="--metrics-interval"):
        parse_interval_s("soon")


class FakeSampler:
    """A source that is there for `present` samples, then turns out to be absent."""

    def __init__(self, present: int) -> None:
        self.present, self.samples, self.closed = present, 0, 0

    def sample_once(self) -> bool:
        self.samples += 1
        return self.samples <= self.present

    def close(self) -> None:
        self.closed += 1


def test_telemetry_ticks_every_sampler_and_drops_an_absent_one(tmp_path: Path) -> None:
    telemetry = Telemetry(tmp_path, host=None, interval_s=0.5, gpus=False)
    assert not telemetry.active
    short, long = FakeSampler(present=1), FakeSampler(present=10)
    telemetry.samplers = [short, long]
    telemetry.tick()
    telemetry.tick()
    assert telemetry.samplers == [long] and short.closed == 1 and long.samples == 2
    telemetry.close()
    assert long.closed == 1 and not telemetry.active
    assert not (tmp_path / "server_metrics.jsonl").exists()  # nothing sampled: no empty file


def test_telemetry_runs_until_nothing_is_left_to_sample(tmp_path: Path) -> None:
    telemetry = Telemetry(tmp_path, host=None, interval_s=0.5, gpus=False)
    telemetry.samplers = [FakeSampler(present=2)]
    sleeps: list[float] = []
    telemetry.run(sleeps.append)  # a fake sleep: no time passes
    assert telemetry.ticks == 3 and len(sleeps) == 3 and not telemetry.active
