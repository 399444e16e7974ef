"""Per-step statistics over each step's steady window (the rule: llmload.steady; which requests it takes:
analysis.step_windows): latency distributions of the steady successes, throughput as the work done in the
window, failures of the requests sent in the step that ended by its end, and whether the load generator
kept its timing (analysis.validity). Percentiles are exact (linear interpolation between order statistics,
numpy's default), never bucketed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from llmload.analysis.frame import RunData
from llmload.analysis.model import (
    Accuracy,
    Distribution,
    EmptyWindow,
    Evidence,
    ExpectedMatch,
    NotApplicable,
    StepStats,
    StepStop,
    StepValidity,
)
from llmload.analysis.server_evidence import gpu_step_evidence, server_step_evidence
from llmload.analysis.stats import bootstrap_percentile_ci
from llmload.analysis.step_windows import StepWindow, sent_in, work_in_window
from llmload.analysis.time_split import step_time_splits
from llmload.analysis.validity import (
    gap_stats,
    generator_health,
    generator_samples,
    idle_before_send,
    littles_law,
    scheduling_gaps,
    step_damage,
)
from llmload.steady import empty_window_warning
from llmload.step_stop import MAX_DURATION, PAST_KNEE

PERCENTILES = (50, 90, 95, 99)


def distribution(values: pd.Series | np.ndarray, ci_seed: int | None = None) -> Distribution:
    """Count, mean, extremes and exact percentiles of the values that are not NaN; with `ci_seed`, the
    bootstrap intervals of p50/p95/p99 too (seeded: a rebuilt report is the same report)."""
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    ci95 = None if ci_seed is None else bootstrap_percentile_ci(arr, seed=ci_seed)
    if arr.size == 0:
        return Distribution(0, None, None, None, None, None, None, None, ci95)
    p50, p90, p95, p99 = (float(q) for q in np.percentile(arr, PERCENTILES))
    return Distribution(int(arr.size), float(arr.mean()), float(arr.min()), float(arr.max()), p50, p90, p95, p99, ci95)


def measure_steps(run: RunData) -> list[StepStats]:
    """Every step of the run, in plan order."""
    req = run.requests
    gaps = scheduling_gaps(req) if len(req) else pd.Series(dtype=float)
    idle = idle_before_send(req) if len(req) else pd.DataFrame({"idle_s": [], "cycle_s": []})
    server = server_step_evidence(run.server, run.windows, run.time_scale)
    gpu = gpu_step_evidence(run.gpu, run.windows)
    split = step_time_splits(run.server, req, run.windows, run.time_scale)
    return [
        _step(run, window, gaps, idle, server_i, tuple(gpu_i), split_i)
        for window, server_i, gpu_i, split_i in zip(run.windows, server, gpu, split, strict=True)
    ]


def _step(
    run: RunData, window: StepWindow, gaps: pd.Series, idle: pd.DataFrame, server: Evidence | None,
    gpu: tuple[Evidence, ...], time_split: Evidence | None,
) -> StepStats:
    req = run.requests
    sent, steady, steady_ok, ended = step_requests(req, window)
    failed, error_rate = failures(ended)
    rps, tokens_per_s = throughput(req, window)
    ttft = distribution(steady_ok["ttft_s"], ci_seed=window.index)
    validity = _validity(run, window, sent, steady_ok, gaps, idle, ttft.p50, rps)
    if len(steady_ok) == 0 and len(sent):
        validity = replace(validity, empty_window=empty_window(window, sent))
    return StepStats(
        index=window.index,
        users=window.users,
        start_s=window.start_s,
        end_s=window.end_s,
        warmup_s=window.warmup_s,
        window_s=window.length_s,
        requests_sent=int(len(sent)),
        requests_ok=int(len(steady_ok)),
        requests_failed=failed,
        error_rate=error_rate,
        completed_in_window=_completed_in_window(req, window),
        rps=rps,
        output_tokens_per_s=tokens_per_s,
        prompt_tokens_mean=_mean(steady_ok["prompt_tokens"]),
        output_tokens_mean=_mean(steady_ok["output_tokens"]),
        itl_s=distribution(run.itl_s.for_rows(steady_ok.index.to_numpy())),  # index = row position
        errors_by_kind={str(k): int(v) for k, v in ended.loc[~ended["ok"], "error_kind"].value_counts().items()},
        accuracy=accuracy(steady_ok, plates_scored(req)),
        ttft_s=ttft,
        ttfa_s=distribution(steady_ok["ttfa_s"]),
        e2e_s=distribution(steady_ok["e2e_s"], ci_seed=window.index),
        tpot_s=distribution(steady_ok["tpot_s"]),
        validity=validity,
        excluded=validity.generator.saturated,
        excluded_reasons=validity.generator.reasons,
        offered_rps=window.rate_rps,
        queue_s=distribution(steady["queue_s"]),
        output_tokens_per_s_per_user=tokens_per_s / window.users if window.users and tokens_per_s is not None else None,
        server=server,
        gpu=gpu,
        time_split=time_split,
        expected=expected_match(steady_ok) if expected_scored(req) else None,
        stop=step_stop(window.stop),
    )


def empty_window(window: StepWindow, sent: pd.DataFrame) -> EmptyWindow:
    """The flag of a step whose steady window held no complete request (llmload.steady.empty_window_warning)."""
    answered = sent.loc[sent["ok"], "e2e_s"].dropna()
    shortest = float(answered.min()) if len(answered) else None
    reason = empty_window_warning(window.index, window.users, window.length_s, shortest)
    return EmptyWindow(window.length_s, shortest, reason)


def step_stop(stop: Mapping[str, Any] | None) -> StepStop | None:
    """An auto step's stop decision as steps.jsonl keeps it (llmload.step_stop.StopDecision)."""
    if stop is None:
        return None
    return StepStop(
        reason=str(stop["reason"]),
        less_certain=stop["reason"] in (MAX_DURATION, PAST_KNEE),
        samples=int(stop["samples"]),
        rps_ci_rel=stop.get("rps_ci_rel"),
        e2e_p95_ci_rel=stop.get("e2e_p95_ci_rel"),
        min_samples=int(stop["min_samples"]),
        tolerance=float(stop["tolerance"]),
        max_step_s=float(stop["max_step_s"]),
        rps_tolerance=float(stop.get("rps_tolerance", stop["tolerance"])),
        e2e_p50_ci_rel=stop.get("e2e_p50_ci_rel"),
    )


def step_requests(
    requests: pd.DataFrame, window: StepWindow
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The requests sent in the step; its steady ones; their successes (the latency statistics' samples); and
    those that ended by the step's end (failures count once they ended)."""
    sent = requests[sent_in(requests, window)]
    steady = sent[sent["steady"]]
    return sent, steady, steady[steady["ok"]], sent[sent["end_s"] <= window.end_s]


def failures(ended: pd.DataFrame) -> tuple[int, float]:
    """How many of the step's ended requests failed, and their share of them (0 when none ended)."""
    failed = int((~ended["ok"]).sum())
    return failed, failed / len(ended) if len(ended) else 0.0


def throughput(requests: pd.DataFrame, window: StepWindow) -> tuple[float | None, float | None]:
    """Requests and output tokens per second: the work done in the steady window over its length (tokens/s
    None for a run without token counts, such as imported JMeter results: missing, not zero)."""
    if window.length_s <= 0:
        return None, None
    working = work_in_window(requests, window)
    share = working["window_share"].to_numpy()
    tokens = float((share * working["output_tokens"].fillna(0)).sum())
    counted = bool(requests["output_tokens"].notna().any())
    return float(share.sum()) / window.length_s, tokens / window.length_s if counted else None


def _completed_in_window(requests: pd.DataFrame, window: StepWindow) -> int:
    """Successful requests that ended inside the steady window (the plain count beside the work)."""
    ended = requests["end_s"]
    return int((requests["ok"] & (ended >= window.steady_start_s) & (ended < window.end_s)).sum())


def _validity(
    run: RunData, window: StepWindow, sent: pd.DataFrame, steady_ok: pd.DataFrame, gaps: pd.Series,
    idle: pd.DataFrame, ttft_p50_s: float | None, rps: float | None,
) -> StepValidity:
    """The load generator's health over the step (its damage bounds), Little's law, its scheduling lag."""
    open_loop = window.rate_rps is not None
    samples = generator_samples(run, window.start_s, window.end_s)
    damage = step_damage(
        run, sent, steady_ok, idle, ttft_p50_s, window.users if open_loop else None, samples.loop_lag_max_s
    )
    return StepValidity(
        generator=generator_health(samples, damage),
        littles_law=NotApplicable() if open_loop else littles_law(window.users, rps, steady_ok, gaps),
        scheduling_lag_wall=gap_stats(gaps, steady_ok.index, run.time_scale),
    )


def _mean(series: pd.Series) -> float | None:
    values = series.dropna()
    return float(values.mean()) if len(values) else None


def plates_scored(requests: pd.DataFrame) -> bool:
    """Whether any request of the run had plates to find or found some (an imported run has none)."""
    return any(bool(requests[c].to_numpy().any()) for c in ("tp", "fp", "fn"))  # views: no copy per step


def expected_scored(requests: pd.DataFrame) -> bool:
    """Whether any request of the run was scored against an expected answer."""
    return bool(requests["matched"].notna().to_numpy().any())


def expected_match(ok_requests: pd.DataFrame) -> ExpectedMatch:
    """The share of scored answers that matched their expected answer (None without one scored)."""
    scored = ok_requests["matched"].dropna()
    matched = int(scored.sum())
    return ExpectedMatch(int(len(scored)), matched, matched / len(scored) if len(scored) else None)


def accuracy(ok_requests: pd.DataFrame, scored: bool = True) -> Accuracy:
    """Micro-averaged plate detection over successful requests; all None where the run scored none."""
    if not scored:
        return Accuracy(0, 0, 0, None, None, None)
    tp, fp, fn = (int(ok_requests[c].sum()) for c in ("tp", "fp", "fn"))
    precision = tp / (tp + fp) if tp + fp else (1.0 if len(ok_requests) else None)
    recall = tp / (tp + fn) if tp + fn else (1.0 if len(ok_requests) else None)
    f1 = None
    if precision is not None and recall is not None:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Accuracy(tp, fp, fn, precision, recall, f1)
