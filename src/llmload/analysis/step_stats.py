"""Per-step statistics over each step's steady window (the rule: llmload.steady; which requests it takes:
analysis.step_windows): latency distributions of the steady successes, throughput as the work done in the
window, failures of the requests sent in the step that ended by its end, and whether the load generator
kept its timing (analysis.validity). Percentiles are exact (linear interpolation between order statistics,
numpy's default), never bucketed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from llmload.analysis.frame import RunData
from llmload.analysis.stats import bootstrap_percentile_ci
from llmload.analysis.step_windows import StepWindow, sent_in, work_in_window
from llmload.analysis.validity import (
    gap_stats,
    generator_health,
    generator_samples,
    idle_before_send,
    littles_law,
    scheduling_gaps,
    step_damage,
)

PERCENTILES = (50, 90, 95, 99)
LATENCY_METRICS = ("ttft_s", "ttfa_s", "e2e_s", "tpot_s")


def distribution(values: pd.Series | np.ndarray) -> dict[str, float | None]:
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return {"n": 0, "mean": None, "min": None, "max": None, **{f"p{p}": None for p in PERCENTILES}}
    qs = np.percentile(arr, PERCENTILES)
    out: dict[str, float | None] = {
        "n": int(arr.size),
        "mean": float(arr.mean()),
        "min": float(arr.min()),
        "max": float(arr.max()),
    }
    out.update({f"p{p}": float(q) for p, q in zip(PERCENTILES, qs, strict=True)})
    return out


def step_rows(run: RunData) -> list[dict[str, Any]]:
    req = run.requests
    gaps = scheduling_gaps(req) if len(req) else pd.Series(dtype=float)
    idle = idle_before_send(req) if len(req) else pd.DataFrame({"idle_s": [], "cycle_s": []})
    return [_step_row(run, window, req[sent_in(req, window)], gaps, idle) for window in run.windows]


def _step_row(
    run: RunData, window: StepWindow, sent: pd.DataFrame, gaps: pd.Series, idle: pd.DataFrame
) -> dict[str, Any]:
    req = run.requests
    steady = sent[sent["steady"]]
    steady_ok = steady[steady["ok"]]
    done = req[(req["end_s"] >= window.steady_start_s) & (req["end_s"] < window.end_s)]
    done_ok = done[done["ok"]]
    length = window.length_s
    working = work_in_window(req, window)
    share = working["window_share"].to_numpy()
    ended = sent[sent["end_s"] <= window.end_s]
    failed = int((~ended["ok"]).sum())
    itl = run.itl_s.for_rows(steady_ok.index.to_numpy())  # the frame's index is the row position
    row: dict[str, Any] = {
        "index": window.index,
        "users": window.users,
        "start_s": window.start_s,
        "end_s": window.end_s,
        "warmup_s": window.warmup_s,
        "window_s": length,
        "requests_sent": int(len(sent)),
        "requests_ok": int(len(steady_ok)),
        "requests_failed": failed,
        "error_rate": failed / len(ended) if len(ended) else 0.0,
        "completed_in_window": int(len(done_ok)),
        "rps": float(share.sum()) / length if length > 0 else math.nan,
        "output_tokens_per_s": float((share * working["output_tokens"].fillna(0)).sum()) / length
        if length > 0 and req["output_tokens"].notna().any()  # a run without token counts (imports): missing
        else math.nan,
        "prompt_tokens_mean": _mean(steady_ok["prompt_tokens"]),
        "output_tokens_mean": _mean(steady_ok["output_tokens"]),
        "itl_s": distribution(itl),
        "errors_by_kind": {
            str(k): int(v) for k, v in ended.loc[~ended["ok"], "error_kind"].value_counts().items()
        },
        "accuracy": accuracy(steady_ok, plates_scored(req)),
    }
    for metric in LATENCY_METRICS:
        row[metric] = distribution(steady_ok[metric])
    for metric in ("ttft_s", "e2e_s"):
        row[metric]["ci95"] = bootstrap_percentile_ci(
            steady_ok[metric].to_numpy(dtype=float), seed=window.index
        )
    open_loop = window.rate_rps is not None
    samples = generator_samples(run, window.start_s, window.end_s)
    damage = step_damage(
        run, sent, steady_ok, idle, row["ttft_s"]["p50"], window.users if open_loop else None,
        samples.loop_lag_max_s,
    )
    health = generator_health(samples, damage)
    row["validity"] = {
        "generator": health,
        "littles_law": littles_law(window.users, row["rps"], steady_ok, gaps)
        if window.rate_rps is None
        else {"ok": True, "applicable": False},
        "scheduling_lag_wall": gap_stats(gaps, steady_ok.index, run.time_scale),
    }
    row["excluded"] = health["saturated"]
    row["excluded_reasons"] = list(health["reasons"])
    row["offered_rps"] = window.rate_rps
    row["queue_s"] = distribution(steady["queue_s"])
    row["output_tokens_per_s_per_user"] = (
        row["output_tokens_per_s"] / window.users if window.users else math.nan
    )
    return row


def _mean(series: pd.Series) -> float | None:
    values = series.dropna()
    return float(values.mean()) if len(values) else None


def plates_scored(requests: pd.DataFrame) -> bool:
    """Whether any request of the run had plates to find or found some (an imported run has none)."""
    return any(bool(requests[c].to_numpy().any()) for c in ("tp", "fp", "fn"))  # views: no copy per step


def accuracy(ok_requests: pd.DataFrame, scored: bool = True) -> dict[str, float | int | None]:
    """Micro-averaged plate detection over successful requests; all None where the run scored none."""
    if not scored:
        return {"tp": 0, "fp": 0, "fn": 0, "precision": None, "recall": None, "f1": None}
    tp, fp, fn = (int(ok_requests[c].sum()) for c in ("tp", "fp", "fn"))
    precision = tp / (tp + fp) if tp + fp else (1.0 if len(ok_requests) else None)
    recall = tp / (tp + fn) if tp + fn else (1.0 if len(ok_requests) else None)
    f1 = None
    if precision is not None and recall is not None:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1}
