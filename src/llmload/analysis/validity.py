"""Is a step's measurement valid? Load-generator health and Little's law, per step.

A step is flagged `generator_saturated` (and excluded from the knee, with the reason) when any
load-generator process reached GENERATOR_CPU_LIMIT percent of a core during the step, or its event loop
woke more than LOOP_LAG_LIMIT_S late, or Locust itself emitted its CPU warning. Wall-clock units.
Before that, a step whose generator averaged GENERATOR_CPU_CAUTION percent of a core gets a caution (kept in
the knee): in benchmarks/client_overhead.py --curve (256 streams on one core) the timing error held (TTFT and
ITL p99 within 1.6 ms) up to 75% of a core and grew from 78% (ITL p99 +7 ms), so the caution comes first.

Little's law for a closed loop: users = TPS x (mean time a user holds a request + mean gap before its
next send). A step whose implied concurrency is off by more than LITTLE_TOLERANCE is flagged: the users
were not all busy (spawn trouble, errors, a stalled generator) or the window was not steady.
The gap before the next send is the scheduling lag of a closed-loop user (it should be ~0).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from llmload.analysis.frame import RunData

GENERATOR_CPU_LIMIT = 90.0
GENERATOR_CPU_CAUTION = 70.0
LOOP_LAG_LIMIT_S = 0.05
LITTLE_TOLERANCE = 0.15


def scheduling_gaps(requests: pd.DataFrame) -> pd.Series:
    """Per request: time between the previous request of the same user ending and this one being sent
    (closed loop), or send - intended send (open loop). Target time base."""
    if requests["intended_send_s"].notna().any():
        return requests["queue_s"]
    ordered = requests.sort_values(["worker", "user_id", "send_s"])
    prev_end = ordered.groupby(["worker", "user_id"])["end_s"].shift(1)
    return (ordered["send_s"] - prev_end).reindex(requests.index)


def generator_health(run: RunData, start_s: float, end_s: float) -> dict[str, Any]:
    g = run.generator
    window = g[(g["t_s"] >= start_s) & (g["t_s"] <= end_s)] if len(g) else g
    samples = window[~window["cpu_warning"]] if len(window) else window
    cpu_max = float(samples["cpu_percent"].max()) if len(samples) else None
    lag_max = float(samples["loop_lag_max_s"].max()) if len(samples) else None
    warnings = int(window["cpu_warning"].sum()) if len(window) else 0
    reasons = []
    if cpu_max is not None and cpu_max >= GENERATOR_CPU_LIMIT:
        reasons.append(f"load generator CPU reached {cpu_max:.0f}% of a core")
    if lag_max is not None and lag_max > LOOP_LAG_LIMIT_S:
        reasons.append(f"load generator event loop woke {lag_max * 1000:.0f} ms late")
    if warnings:
        reasons.append("Locust emitted its CPU warning")
    cpu_mean = float(samples["cpu_percent"].mean()) if len(samples) else None
    busiest_mean = float(samples.groupby("worker")["cpu_percent"].mean().max()) if len(samples) else None
    cautions = []
    if busiest_mean is not None and busiest_mean >= GENERATOR_CPU_CAUTION and not reasons:
        cautions.append(
            f"load generator CPU averaged {busiest_mean:.0f}% of a core: its timing error grows from about 75%"
        )
    return {
        "cpu_percent_max": cpu_max,
        "cpu_percent_mean": cpu_mean,
        "loop_lag_max_s": lag_max,
        "cpu_warnings": warnings,
        "samples": int(len(samples)),
        "saturated": bool(reasons),
        "reasons": reasons,
        "cautions": cautions,
    }


def littles_law(users: int, rps: float, steady: pd.DataFrame, gaps: pd.Series) -> dict[str, Any]:
    hold = float(steady["client_s"].mean()) if len(steady) else math.nan
    gap_values = gaps.reindex(steady.index).dropna()
    gap = float(gap_values.mean()) if len(gap_values) else 0.0
    implied = rps * (hold + gap) if not (math.isnan(rps) or math.isnan(hold)) else math.nan
    deviation = abs(implied - users) / users if users and not math.isnan(implied) else math.nan
    return {
        "implied_users": implied,
        "hold_mean_s": hold,
        "gap_mean_s": gap,
        "deviation": deviation,
        "ok": bool(not math.isnan(deviation) and deviation <= LITTLE_TOLERANCE),
    }


def gap_stats(gaps: pd.Series, steady_index: pd.Index, scale: float) -> dict[str, float | None]:
    values = gaps.reindex(steady_index).dropna().to_numpy(dtype=float) / scale  # wall seconds
    if values.size == 0:
        return {"p50_s": None, "p99_s": None, "max_s": None}
    p50, p99 = np.percentile(values, [50, 99])
    return {"p50_s": float(p50), "p99_s": float(p99), "max_s": float(values.max())}
