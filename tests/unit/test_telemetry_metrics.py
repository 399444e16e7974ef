"""/metrics parsing and the sampler's behaviour, on an excerpt of vLLM 0.32's real exposition."""

from __future__ import annotations

import json
import logging

import pytest

from llmload.client.blocking_http import TargetUnreachable
from llmload.telemetry.metrics_sampler import (
    MetricsSampler,
    SchedulerWindow,
    count_vllm_series,
    filter_exposition,
    parse_vllm_metrics,
)
from llmload.telemetry.sampler import run_on_cadence

EXPOSITION = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="tiny-qwen3"} 4.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="tiny-qwen3"} 3.0
# HELP vllm:num_requests_waiting_by_reason Number of waiting requests by reason.
# TYPE vllm:num_requests_waiting_by_reason gauge
vllm:num_requests_waiting_by_reason{engine="0",model_name="tiny-qwen3",reason="capacity"} 3.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="tiny-qwen3"} 0.25
# HELP vllm:num_preemptions_total Cumulative number of preemption from the engine.
# TYPE vllm:num_preemptions_total counter
vllm:num_preemptions_total{engine="0",model_name="tiny-qwen3"} 2.0
# HELP vllm:num_preemptions_created Cumulative number of preemption from the engine.
# TYPE vllm:num_preemptions_created gauge
vllm:num_preemptions_created{engine="0",model_name="tiny-qwen3"} 1.7955691435107965e+09
# HELP vllm:iteration_tokens_total Histogram of number of tokens per engine_step.
# TYPE vllm:iteration_tokens_total histogram
vllm:iteration_tokens_total_bucket{engine="0",le="1.0",model_name="tiny-qwen3"} 0.0
vllm:iteration_tokens_total_bucket{engine="0",le="+Inf",model_name="tiny-qwen3"} 7.0
vllm:iteration_tokens_total_count{engine="0",model_name="tiny-qwen3"} 7.0
vllm:iteration_tokens_total_sum{engine="0",model_name="tiny-qwen3"} 90.0
# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.1",model_name="tiny-qwen3"} 5.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="tiny-qwen3"} 6.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="tiny-qwen3"} 6.0
vllm:time_to_first_token_seconds_sum{engine="0",model_name="tiny-qwen3"} 0.75
# HELP vllm:time_to_first_token_seconds_created Histogram of time to first token in seconds.
# TYPE vllm:time_to_first_token_seconds_created gauge
vllm:time_to_first_token_seconds_created{engine="0",model_name="tiny-qwen3"} 1.79e+09
# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig
# TYPE vllm:cache_config_info gauge
vllm:cache_config_info{block_size="128",engine="0",num_gpu_blocks="1820"} 1.0
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
"""


def by_name(rows: list[dict[str, object]]) -> dict[str, list[dict[str, object]]]:
    out: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        out.setdefault(str(row["name"]), []).append(row)
    return out


def test_parse_keeps_vllm_scheduler_series_with_labels_and_time() -> None:
    rows = by_name(parse_vllm_metrics(EXPOSITION, 1700000000.5))
    assert rows["vllm:num_requests_running"][0] == {
        "t_s": 1700000000.5,
        "name": "vllm:num_requests_running",
        "labels": {"engine": "0", "model_name": "tiny-qwen3"},
        "value": 4.0,
    }
    assert rows["vllm:num_requests_waiting"][0]["value"] == 3.0
    assert rows["vllm:kv_cache_usage_perc"][0]["value"] == 0.25
    assert rows["vllm:num_preemptions_total"][0]["value"] == 2.0
    assert rows["vllm:time_to_first_token_seconds_sum"][0]["value"] == 0.75
    buckets = {r["labels"]["le"]: r["value"] for r in rows["vllm:time_to_first_token_seconds_bucket"]}  # type: ignore[index]
    assert buckets == {"0.1": 5.0, "+Inf": 6.0}
    assert rows["vllm:cache_config_info"][0]["labels"]["num_gpu_blocks"] == "1820"  # type: ignore[index]


def test_parse_drops_created_other_families_and_non_vllm_series() -> None:
    names = set(by_name(parse_vllm_metrics(EXPOSITION, 0.0)))
    assert not any(n.endswith("_created") for n in names)
    assert not any("iteration_tokens" in n or "by_reason" in n for n in names)
    assert "process_cpu_seconds_total" not in names
    assert len(names) == 8  # 9 samples: the TTFT histogram has two buckets


PHASES = """\
# HELP vllm:request_queue_time_seconds Histogram of time spent in WAITING phase for request.
# TYPE vllm:request_queue_time_seconds histogram
vllm:request_queue_time_seconds_bucket{engine="0",le="0.3",model_name="tiny-qwen3"} 9.0
vllm:request_queue_time_seconds_bucket{engine="0",le="+Inf",model_name="tiny-qwen3"} 10.0
vllm:request_queue_time_seconds_count{engine="0",model_name="tiny-qwen3"} 10.0
vllm:request_queue_time_seconds_sum{engine="0",model_name="tiny-qwen3"} 0.5
vllm:request_prefill_time_seconds_sum{engine="0",model_name="tiny-qwen3"} 0.25
vllm:request_decode_time_seconds_sum{engine="0",model_name="tiny-qwen3"} 2.5
vllm:request_inference_time_seconds_sum{engine="0",model_name="tiny-qwen3"} 2.75
vllm:request_time_per_output_token_seconds_sum{engine="0",model_name="tiny-qwen3"} 0.1
"""


def test_parse_keeps_the_phase_histograms_of_the_time_split() -> None:
    rows = by_name(parse_vllm_metrics(PHASES, 0.0))
    assert {name: r[0]["value"] for name, r in rows.items() if name.endswith("_sum")} == {
        "vllm:request_queue_time_seconds_sum": 0.5,
        "vllm:request_prefill_time_seconds_sum": 0.25,
        "vllm:request_decode_time_seconds_sum": 2.5,
        "vllm:request_inference_time_seconds_sum": 2.75,
    }  # TPOT is not kept: the client measures it from every chunk
    assert len(rows["vllm:request_queue_time_seconds_bucket"]) == 2


def test_filter_keeps_only_kept_lines_and_count_counts_every_vllm_sample() -> None:
    kept = filter_exposition(EXPOSITION)
    assert "iteration_tokens" not in kept and "process_cpu" not in kept
    assert kept.count("\n") == 21
    assert count_vllm_series(EXPOSITION) == 16


class FakeTarget:
    def __init__(self, responses: list[tuple[int, str] | Exception]) -> None:
        self.responses = responses
        self.urls: list[str] = []

    def __call__(self, url: str, timeout_s: float) -> tuple[int, bytes]:
        self.urls.append(url)
        item = self.responses.pop(0)
        if isinstance(item, Exception):
            raise item
        return item[0], item[1].encode()


def test_sampler_writes_one_line_per_sample_and_the_cache_config_once() -> None:
    lines: list[str] = []
    fake = FakeTarget([(200, EXPOSITION), (200, EXPOSITION)])
    sampler = MetricsSampler("http://h:1/", lines.append, fetch=fake, clock=lambda: 5.0)
    assert sampler.sample_once() and sampler.sample_once()
    assert fake.urls == ["http://h:1/metrics"] * 2
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 9 + 8 and sampler.samples_written == 17
    assert sum(r["name"] == "vllm:cache_config_info" for r in rows) == 1
    assert {r["t_s"] for r in rows} == {5.0}


@pytest.mark.parametrize(
    ("response", "reason"),
    [((404, "Not Found"), "answered HTTP 404"), ((200, "up 1\n"), "has no vLLM series")],
)
def test_sampler_stops_with_one_warning_when_the_target_has_no_metrics(
    response: tuple[int, str], reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    lines: list[str] = []
    sampler = MetricsSampler("http://h:1", lines.append, fetch=FakeTarget([response]))
    with caplog.at_level(logging.WARNING, logger="llmload"):
        assert sampler.sample_once() is False
    assert reason in (sampler.disabled_reason or "")
    assert lines == [] and len(caplog.records) == 1


def test_sampler_survives_a_transient_failure_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    lines: list[str] = []
    down = TargetUnreachable("cannot reach http://h:1/metrics: refused")
    fake = FakeTarget([down, down, (200, EXPOSITION)])
    sampler = MetricsSampler("http://h:1", lines.append, fetch=fake)
    with caplog.at_level(logging.WARNING, logger="llmload"):
        assert sampler.sample_once() and sampler.sample_once() and sampler.sample_once()
    assert sampler.failures == 2 and len(caplog.records) == 1
    assert len(lines) == 9


def test_cadence_stops_when_asked_and_keeps_a_fixed_grid() -> None:
    lines: list[str] = []
    sleeps: list[float] = []
    fake = FakeTarget([(200, EXPOSITION)] * 3)
    sampler = MetricsSampler("http://h:1", lines.append, fetch=fake)
    run_on_cadence(sampler.sample_once, 0.5, sleeps.append, lambda: len(sleeps) >= 3)  # a fake sleep
    assert sampler.scrapes == 3
    # deadlines on a fixed grid (0.5 s, 1.0 s, 1.5 s from the start), so a slow scrape does not drift
    assert [round(b - a, 2) for a, b in zip([0.0, *sleeps], sleeps, strict=False)] == [0.5, 0.5, 0.5]


def test_cadence_ends_when_the_sampler_finds_no_metrics() -> None:
    sleeps: list[float] = []
    sampler = MetricsSampler("http://h:1", lambda _: None, fetch=FakeTarget([(200, EXPOSITION), (404, "")]))
    run_on_cadence(sampler.sample_once, 0.5, sleeps.append, lambda: False)
    assert sampler.scrapes == 1 and len(sleeps) == 1 and "HTTP 404" in (sampler.disabled_reason or "")


def test_sampler_keeps_the_scheduler_per_scrape_for_the_adaptive_plan() -> None:
    clock = iter([10.0, 11.0, 12.0])
    later = (
        EXPOSITION.replace("} 4.0\n", "} 2.0\n", 1)
        .replace('waiting{engine="0",model_name="tiny-qwen3"} 3.0', 'waiting{engine="0",model_name="tiny-qwen3"} 0.0')
        .replace('perc{engine="0",model_name="tiny-qwen3"} 0.25', 'perc{engine="0",model_name="tiny-qwen3"} 0.75')
        .replace('total{engine="0",model_name="tiny-qwen3"} 2.0', 'total{engine="0",model_name="tiny-qwen3"} 9.0')
    )
    fake = FakeTarget([(200, EXPOSITION), (200, EXPOSITION), (200, later)])
    sampler = MetricsSampler("http://h:1", lambda _: None, fetch=fake, clock=lambda: next(clock))
    assert all(sampler.sample_once() for _ in range(3))
    assert [(s.t_s, s.waiting, s.running, s.kv_usage, s.preemptions_total) for s in sampler.scheduler] == [
        (10.0, 3.0, 4.0, 0.25, 2.0), (11.0, 3.0, 4.0, 0.25, 2.0), (12.0, 0.0, 2.0, 0.75, 9.0)]
    # the scrapes at 11 and 12 only; preemptions from the last scrape before the window (10: 2) to 9
    assert sampler.scheduler_window(10.5, 13.0) == SchedulerWindow(1.5, 3.0, 0.5, 7.0)
    assert sampler.scheduler_window(9.0, 11.5) == SchedulerWindow(3.0, 4.0, 0.25, 0.0)  # none before: the first
    assert sampler.scheduler_window(20.0, 30.0) is None
