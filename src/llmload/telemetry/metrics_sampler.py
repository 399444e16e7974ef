"""Sample a vLLM server's Prometheus ``/metrics`` into ``server_metrics.jsonl`` during a run.

One JSON line per kept sample: ``{"t_s": epoch, "name": sample name, "labels": {...}, "value": float}``.
Only vLLM's scheduler/cache/token/latency families are kept (see ``KEPT_FAMILIES``); the text is filtered
line by line before parsing so that a large exposition costs little CPU inside the load generator.
A target without ``/metrics`` is not an error: one warning, then the sampler stops.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from llmload.client.blocking_http import TargetUnreachable, http_get
from llmload.telemetry.sampler import Sink

log = logging.getLogger("llmload")

# vLLM family names (without the _total/_bucket/_sum/_count suffixes the exposition adds)
KEPT_FAMILIES = (
    "vllm:num_requests_running",
    "vllm:num_requests_waiting",
    "vllm:kv_cache_usage_perc",
    "vllm:gpu_cache_usage_perc",  # vLLM < 0.10 name of kv_cache_usage_perc
    "vllm:num_preemptions",
    "vllm:prefix_cache_hits",
    "vllm:prefix_cache_queries",
    "vllm:gpu_prefix_cache_hits",
    "vllm:gpu_prefix_cache_queries",
    "vllm:prompt_tokens",
    "vllm:generation_tokens",
    "vllm:request_success",
    "vllm:time_to_first_token_seconds",
    "vllm:e2e_request_latency_seconds",
    # per-request phases (the time split, analysis.time_split): vLLM's V0 and V1 engines, checked against 0.32
    "vllm:request_queue_time_seconds",
    "vllm:request_prefill_time_seconds",
    "vllm:request_decode_time_seconds",
    "vllm:request_inference_time_seconds",
    "vllm:time_in_queue_requests",  # V0's older queue histogram (deprecated there for request_queue_time_seconds)
    "vllm:cache_config_info",
)
STATIC_NAMES = frozenset({"vllm:cache_config_info"})
WAITING, RUNNING = "vllm:num_requests_waiting", "vllm:num_requests_running"
KV_USAGE = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")
PREEMPTIONS = ("vllm:num_preemptions", "vllm:num_preemptions_total")
_SUFFIXES = ("", "_total", "_bucket", "_sum", "_count", "_info")
_KEPT_NAMES = frozenset(f + s for f in KEPT_FAMILIES for s in _SUFFIXES)


def _line_name(line: str) -> str:
    """Metric name of a sample line, or of a ``# HELP``/``# TYPE`` comment line."""
    if line.startswith("#"):
        parts = line.split(None, 3)
        return parts[2] if len(parts) >= 3 and parts[1] in ("HELP", "TYPE") else ""
    end = len(line)
    for stop in ("{", " "):
        pos = line.find(stop)
        if pos != -1:
            end = min(end, pos)
    return line[:end]


def filter_exposition(text: str, kept: frozenset[str] = _KEPT_NAMES) -> str:
    """Only the lines (samples and their HELP/TYPE) of kept families."""
    return "\n".join(line for line in text.splitlines() if _line_name(line) in kept) + "\n"


def parse_vllm_metrics(text: str, t_s: float) -> list[dict[str, Any]]:
    """Prometheus text -> kept samples as JSON-ready dicts stamped ``t_s`` (``_created`` samples dropped)."""
    rows: list[dict[str, Any]] = []
    for family in text_string_to_metric_families(filter_exposition(text)):
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            rows.append(
                {"t_s": t_s, "name": sample.name, "labels": dict(sample.labels), "value": float(sample.value)}
            )
    return rows


def count_vllm_series(text: str) -> int:
    """How many ``vllm:`` sample lines an exposition holds (any family)."""
    return sum(1 for line in text.splitlines() if line.startswith("vllm:"))


Fetch = Callable[[str, float], tuple[int, bytes]]


@dataclass(frozen=True)
class SchedulerSample:
    """One scrape's scheduler state, summed over engines (KV usage: the fullest engine's); None: not exported."""

    t_s: float
    waiting: float
    running: float
    kv_usage: float | None
    preemptions_total: float | None


@dataclass(frozen=True)
class SchedulerWindow:
    """The scheduler over a window, for `--users auto` (load.adaptive): mean requests waiting and running, mean
    KV-cache usage (0..1) and the preemptions in it (None where not exported)."""

    waiting_mean: float
    running_mean: float
    kv_usage_mean: float | None
    preemptions: float | None


def _default_fetch(url: str, timeout_s: float) -> tuple[int, bytes]:
    return http_get(url, timeout_s)


class MetricsSampler:
    """Scrapes ``{base_url}/metrics`` once per ``sample_once`` and hands each kept sample to ``sink`` as a line."""

    def __init__(
        self,
        base_url: str,
        sink: Sink,
        fetch: Fetch = _default_fetch,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = base_url.rstrip("/") + "/metrics"
        self.sink = sink
        self.fetch = fetch
        self.timeout_s = timeout_s
        self.clock = clock
        self.samples_written = 0
        self.scrapes = 0
        self.failures = 0
        self.disabled_reason: str | None = None
        self.scheduler: list[SchedulerSample] = []  # per scrape, for --users auto

    def sample_once(self) -> bool:
        """One scrape. False (and ``disabled_reason`` set) when the target has no usable /metrics."""
        t_s = self.clock()
        try:
            status, body = self.fetch(self.url, self.timeout_s)
        except TargetUnreachable as exc:
            if not self.failures:
                log.warning("server metrics: %s (will retry)", exc)
            self.failures += 1
            return True  # a transient failure: the run goes on, so does sampling
        if status != 200:
            return self._disable(f"{self.url} answered HTTP {status}")
        rows = parse_vllm_metrics(body.decode("utf-8", errors="replace"), t_s)
        if not rows and self.scrapes == 0:
            return self._disable(f"{self.url} has no vLLM series")
        if self.scrapes:  # static facts (cache config) once, on the first scrape
            rows = [r for r in rows if r["name"] not in STATIC_NAMES]
        self._emit(rows)
        self._note_scheduler(rows, t_s)
        self.scrapes += 1
        return True

    def _note_scheduler(self, rows: list[dict[str, Any]], t_s: float) -> None:
        def values(names: tuple[str, ...]) -> list[float]:
            return [float(r["value"]) for r in rows if r["name"] in names]

        waiting, running = values((WAITING,)), values((RUNNING,))
        kv, preemptions = values(KV_USAGE), values(PREEMPTIONS)
        if waiting and running:
            self.scheduler.append(SchedulerSample(
                t_s, sum(waiting), sum(running), max(kv) if kv else None, sum(preemptions) if preemptions else None,
            ))  # fmt: skip

    def scheduler_window(self, start_s: float, end_s: float) -> SchedulerWindow | None:
        """The scheduler over the scrapes in [start_s, end_s); None without any. Preemptions: the counter's
        rise from the last scrape before the window (the first in it when there is none)."""
        inside = [s for s in self.scheduler if start_s <= s.t_s < end_s]
        if not inside:
            return None
        kv = [s.kv_usage for s in inside if s.kv_usage is not None]
        before = [s.preemptions_total for s in self.scheduler if s.t_s < start_s]
        first = before[-1] if before else inside[0].preemptions_total
        last = inside[-1].preemptions_total
        return SchedulerWindow(
            sum(s.waiting for s in inside) / len(inside),
            sum(s.running for s in inside) / len(inside),
            sum(kv) / len(kv) if kv else None,
            last - first if last is not None and first is not None else None,
        )

    def _disable(self, reason: str) -> bool:
        self.disabled_reason = reason
        log.warning("server metrics not sampled: %s", reason)
        return False

    def _emit(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.sink(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
            self.samples_written += 1

    def close(self) -> None:
        """Nothing to release: every scrape is its own HTTP request."""
