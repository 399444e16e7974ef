"""Prometheus exposition with vLLM's metric names, read from the runtime at scrape time.

Histogram values are wall-clock seconds (what a client measures); multiply by time_scale for profile time
(their buckets: sim.request_histograms).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from llmload.sim.realtime import SimRuntime
from llmload.sim.request_histograms import Histogram


class SimCollector:
    def __init__(self, runtime: SimRuntime) -> None:
        self.runtime = runtime
        self.labels = {"model_name": runtime.profile.model, "engine": "0"}

    def _gauge(self, name: str, doc: str, value: float) -> Metric:
        family = GaugeMetricFamily(name, doc, labels=list(self.labels))
        family.add_metric(list(self.labels.values()), value)
        return family

    def _counter(self, name: str, doc: str, value: float) -> Metric:
        family = CounterMetricFamily(name, doc, labels=list(self.labels))
        family.add_metric(list(self.labels.values()), value)
        return family

    def _histogram(self, name: str, doc: str, hist: Histogram) -> Metric:
        family = HistogramMetricFamily(name, doc, labels=list(self.labels))
        family.add_metric(list(self.labels.values()), hist.cumulative(), hist.sum)
        return family

    def _cache_info(self) -> Metric:
        st = self.runtime.engine.stats()
        info = {"block_size": str(st.block_size),
                "num_gpu_blocks": "None" if st.num_gpu_blocks is None else str(st.num_gpu_blocks),
                "gpu_memory_utilization": str(self.runtime.profile.gpu_memory_utilization or 0.9)}
        family = GaugeMetricFamily("vllm:cache_config_info", "Information of the LLMEngine CacheConfig",
                                   labels=[*self.labels, *info])
        family.add_metric([*self.labels.values(), *info.values()], 1.0)
        return family

    def collect(self) -> Iterator[Metric]:
        rt = self.runtime
        st = rt.engine.stats()
        yield self._gauge("vllm:num_requests_running", "Number of requests in model execution batches.", st.running)
        yield self._gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", st.waiting)
        yield self._gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", st.kv_usage)
        yield self._counter("vllm:num_preemptions", "Cumulative number of preemption from the engine.",
                            st.preemptions_total)
        yield self._counter("vllm:prompt_tokens", "Number of prefill tokens processed.", st.prompt_tokens_total)
        yield self._counter("vllm:generation_tokens", "Number of generation tokens processed.",
                            st.generation_tokens_total)
        success = CounterMetricFamily("vllm:request_success", "Count of successfully processed requests.",
                                      labels=[*self.labels, "finished_reason"])
        for reason, count in sorted(rt.success.items()):
            success.add_metric([*self.labels.values(), reason], count)
        yield success
        for name, (doc, hist) in rt.histograms.by_name.items():
            yield self._histogram(name, doc, hist)
        yield self._cache_info()


def render_metrics(registry: CollectorRegistry) -> bytes:
    return bytes(generate_latest(registry))


def make_registry(runtime: SimRuntime) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SimCollector(runtime))
    return registry
