"""The simulator's per-request histograms, under vLLM's names and with vLLM's buckets (vllm/v1/metrics/
buckets.py, 0.32), observed from the scheduler's own finished records; and that same per-request truth kept
for tests (``GET /llmload/sim/requests``).

Values are wall-clock seconds, as every other series of the simulator's /metrics (multiply by time_scale
for the profile's seconds); the bucket bounds are vLLM's in the profile's seconds, divided by time_scale, so
a report that scales the values back sees vLLM's buckets.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llmload.sim.events import FinishedRecord

TTFT_BUCKETS_S = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
                  20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
# vLLM's REQUEST_LATENCY_BUCKETS: e2e, queue, inference, prefill and decode share them
REQUEST_LATENCY_BUCKETS_S = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0,
                             120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0)
# name -> (help text, buckets, the record's phase in profile seconds)
PHASES: dict[str, tuple[str, tuple[float, ...], Callable[[FinishedRecord], float]]] = {
    "vllm:time_to_first_token_seconds": ("Histogram of time to first token in seconds.", TTFT_BUCKETS_S,
                                         lambda r: r.ttft_s),
    "vllm:e2e_request_latency_seconds": ("Histogram of e2e request latency in seconds.", REQUEST_LATENCY_BUCKETS_S,
                                         lambda r: r.e2e_s),
    "vllm:request_queue_time_seconds": ("Histogram of time spent in WAITING phase for request.",
                                        REQUEST_LATENCY_BUCKETS_S, lambda r: r.queue_s),
    "vllm:request_inference_time_seconds": ("Histogram of time spent in RUNNING phase for request.",
                                            REQUEST_LATENCY_BUCKETS_S, lambda r: r.inference_s),
    "vllm:request_prefill_time_seconds": ("Histogram of time spent in PREFILL phase for request.",
                                          REQUEST_LATENCY_BUCKETS_S, lambda r: r.prefill_s),
    "vllm:request_decode_time_seconds": ("Histogram of time spent in DECODE phase for request.",
                                         REQUEST_LATENCY_BUCKETS_S, lambda r: r.decode_s),
}
TRUTH_KEPT = 50_000  # finished requests kept for GET /llmload/sim/requests (the oldest are dropped)


@dataclass
class Histogram:
    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    sum: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        if not self.counts:
            self.counts = [0] * len(self.buckets)
        for i, le in enumerate(self.buckets):
            if value <= le:
                self.counts[i] += 1
                break
        self.sum += value
        self.count += 1

    def cumulative(self) -> list[tuple[str, float]]:
        counts = self.counts or [0] * len(self.buckets)
        out = [(str(le), float(c)) for le, c in zip(self.buckets, itertools.accumulate(counts), strict=True)]
        return [*out, ("+Inf", float(self.count))]


class RequestHistograms:
    """Every histogram of PHASES, and the finished records behind them (profile seconds), each with its
    `ordinal`: the histograms' count once it was observed, so a test knows exactly which requests the gain
    between two scrapes holds (their _count values bound the ordinals)."""

    def __init__(self, time_scale: float) -> None:
        self.time_scale = time_scale
        self.by_name = {
            name: (doc, Histogram(tuple(le / time_scale for le in buckets)))
            for name, (doc, buckets, _) in PHASES.items()
        }
        self.truth: deque[dict[str, Any]] = deque(maxlen=TRUTH_KEPT)

    def observed(self) -> int:
        """How many finished requests the histograms hold."""
        return self.by_name["vllm:request_queue_time_seconds"][1].count

    def observe(self, record: FinishedRecord) -> None:
        for name, (_, _, phase) in PHASES.items():
            self.by_name[name][1].observe(phase(record) / self.time_scale)
        self.truth.append(
            {
                "req_id": record.req_id, "ordinal": self.observed(),
                "observed_epoch_s": time.time(), "queue_s": record.queue_s,
                "prefill_s": record.prefill_s, "decode_s": record.decode_s, "inference_s": record.inference_s,
                "ttft_s": record.ttft_s, "e2e_s": record.e2e_s, "preemptions": record.preemptions,
            }
        )  # fmt: skip
