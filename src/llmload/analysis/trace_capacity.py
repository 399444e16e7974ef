"""Capacity in trace terms (summary.json "trace"; None for a run without --trace): each step is the trace
replayed at a speed-up, so the SLO's verdict per step says how much of the trace's traffic the deployment holds.

  steps[]            speed, offered req/s, requests sent, the generator's send lateness (send - scheduled, wall
                     s), TTFT and E2E, the server's prefix-cache hit rate, and Little's law's requests in flight
                     (throughput x mean E2E) with the KV tokens they hold (x (prompt + output / 2) tokens)
  max_speed_passing  the largest speed-up at which it and every slower one meet the SLO (None: the slowest fails)
  max_speed_estimate between that speed and the first failing one, where the first failing clause crosses its
                     bound on the straight line between the two steps' values ("holds 2.3x the trace")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from llmload.analysis.frame import RunData
from llmload.analysis.model import Evidence, StepStats
from llmload.analysis.step_windows import sent_in
from llmload.analysis.trace_speed import max_speed


def trace_summary(run: RunData, steps: Sequence[StepStats], slo: Evidence | None) -> dict[str, Any] | None:
    options = run.meta.get("options") or {}
    if not options.get("trace"):
        return None
    speeds = [float(s) for s in options.get("trace_speeds") or []]
    judged = list((slo or {}).get("per_step") or [])
    rows = [
        _step_row(run, step, speeds[step.index], judged[i] if i < len(judged) else None)
        for i, step in enumerate(steps)
        if step.index < len(speeds)
    ]
    facts = (run.meta.get("dataset") or {}).get("trace") or {}
    return {"path": options["trace"], **facts, "speeds": speeds, "steps": rows, **max_speed(rows, slo)}


def _step_row(run: RunData, step: StepStats, speed: float, judged: Mapping[str, Any] | None) -> dict[str, Any]:
    window = run.windows[[w.index for w in run.windows].index(step.index)]
    sent = run.requests[sent_in(run.requests, window)]
    late_wall_s = (sent["queue_s"].dropna().to_numpy(dtype=float)) / run.time_scale
    in_flight = step.rps * step.e2e_s.mean if step.rps is not None and step.e2e_s.mean is not None else None
    per_request = _tokens_held(step)
    return {
        "index": step.index,
        "speed": speed,
        "offered_rps": step.offered_rps,
        "requests_sent": step.requests_sent,
        "send_late_p99_wall_s": float(np.percentile(late_wall_s, 99)) if late_wall_s.size else None,
        "send_late_max_wall_s": float(late_wall_s.max()) if late_wall_s.size else None,
        "rps": step.rps,
        "ttft_p95_s": step.ttft_s.p95,
        "e2e_p95_s": step.e2e_s.p95,
        "e2e_mean_s": step.e2e_s.mean,
        "prefix_cache_hit_rate": (step.server or {}).get("prefix_cache_hit_rate"),
        "in_flight_mean": in_flight,
        "kv_tokens_in_flight": in_flight * per_request if in_flight is not None and per_request else None,
        "slo_passed": None if judged is None else bool(judged.get("passed")),
        "slo_clauses": [] if judged is None else list(judged.get("clauses") or []),
    }


def _tokens_held(step: StepStats) -> float | None:
    """The KV tokens a request holds on average while it runs: its prompt and half its answer."""
    if step.prompt_tokens_mean is None or step.output_tokens_mean is None:
        return None
    return step.prompt_tokens_mean + step.output_tokens_mean / 2
