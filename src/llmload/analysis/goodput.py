"""Per-request side of the SLO: goodput per step and percentiles the step table does not carry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from llmload.analysis.frame import RunData
from llmload.analysis.model import StepStats
from llmload.analysis.slo import (
    ACCURACY,
    LATENCY,
    ROW_STATS,
    THROUGHPUT,
    SloClause,
    SloLevel,
    evaluate_slo,
    parse_slo,
)
from llmload.analysis.step_windows import steady_ok_in, work_in_window


def _meets(frame: pd.DataFrame, clauses: list[SloClause]) -> pd.Series:
    """Per request: meets every per-request clause (a missing value, e.g. TPOT of a 1-token answer, passes)."""
    good = pd.Series(True, index=frame.index)
    for c in clauses:
        if c.per_request:
            values = frame[f"{c.metric}_s"].astype(float)
            good &= values.isna() | values.map(c.holds).astype(bool)
    return good


def _extra(run: RunData, steady: pd.DataFrame, clauses: list[SloClause]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for c in clauses:
        if c.stat is None or c.stat in ROW_STATS or not c.stat.startswith("p"):
            continue
        if c.metric == "itl":
            values = run.itl_s.for_rows(steady.index.to_numpy())  # the frame's index is the row position
        else:
            values = steady[f"{c.metric}_s"].dropna().to_numpy(dtype=float)
        out[c.clause] = float(np.percentile(values, float(c.stat[1:]))) if values.size else None
    return out


def goodput_row(step: StepStats, working: pd.DataFrame, clauses: list[SloClause]) -> dict[str, Any]:
    """Requests/s meeting every per-request clause, counted as throughput is (work in the window)."""
    window = step.window_s
    share = working["window_share"] if len(working) else pd.Series(dtype=float)
    good = float(share[_meets(working, clauses)].sum()) if len(working) else 0.0
    total = float(share.sum())
    return {
        "goodput_rps": good / window if window and window > 0 else None,
        "good_share": good / total if total > 0 else None,
    }


def slo_summary(run: RunData, steps: Sequence[StepStats], spec: str, source: str = "--slo") -> dict[str, Any]:
    """The summary's "slo" block for a run (spec: the --slo text)."""
    clauses = parse_slo(spec, source)
    extras, goodput = [], []
    for window, step in zip(run.windows, steps, strict=True):
        steady = run.requests[steady_ok_in(run.requests, window)]
        extras.append(_extra(run, steady, clauses))
        goodput.append(goodput_row(step, work_in_window(run.requests, window), clauses))
    return evaluate_slo(clauses, [slo_level(step) for step in steps], extras, goodput)


def slo_level(step: StepStats) -> SloLevel:
    """A step as the SLO reads it (slo.level_of_summary_step reads summary.json's steps alike)."""
    figures = {f"{m}_{s}": getattr(getattr(step, f"{m}_s"), s) for m in LATENCY for s in ROW_STATS}
    figures.update({m: getattr(step.accuracy, m) for m in ACCURACY})
    figures.update({m: getattr(step, m) for m in ("error_rate", *THROUGHPUT.values())})
    return SloLevel(step.users, figures)
