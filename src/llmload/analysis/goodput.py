"""Per-request side of the SLO: goodput per step and percentiles the step table does not carry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from llmload.analysis.frame import RunData
from llmload.analysis.model import NameStats, StepStats
from llmload.analysis.name_stats import request_names
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
    """Per request: meets every per-request clause (a missing value, e.g. TPOT of a 1-token answer, passes; a
    named clause judges that name's requests only)."""
    good = pd.Series(True, index=frame.index)
    for c in clauses:
        if c.per_request:
            values = frame[f"{c.metric}_s"].astype(float)
            meets = values.isna() | values.map(c.holds).astype(bool)
            good &= meets if c.name is None else meets | (frame["label"] != c.name)
    return good


def _extra(run: RunData, steady_ok: pd.DataFrame, clauses: list[SloClause]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for c in clauses:
        if c.stat is None or c.stat in ROW_STATS or not c.stat.startswith("p"):
            continue
        steady = steady_ok if c.name is None else steady_ok[steady_ok["label"] == c.name]
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
    names = request_names(run.requests)
    levels = [slo_level(step, names[0] if len(names) == 1 else None) for step in steps]
    return evaluate_slo(clauses, levels, extras, goodput)


def slo_level(step: StepStats, sole_name: str | None = None) -> SloLevel:
    """A step as the SLO reads it, with its figures per request name (`sole_name`: a run of one name's, whose
    figures are the step's); slo.level_of_summary_step reads summary.json's steps alike."""
    figures = _figures(step)
    by_name = {name: _figures(stats) for name, stats in (step.by_name or {}).items()}
    return SloLevel(step.users, figures, by_name or ({sole_name: figures} if sole_name else {}))


def _figures(stats: StepStats | NameStats) -> dict[str, float | None]:
    """The figures an SLO clause reads (None where a name's figures have no such one: ttfa, itl, accuracy)."""
    figures = {f"{m}_{s}": getattr(getattr(stats, f"{m}_s", None), s, None) for m in LATENCY for s in ROW_STATS}
    figures.update({m: getattr(getattr(stats, "accuracy", None), m, None) for m in ACCURACY})
    figures.update({m: getattr(stats, m, None) for m in ("error_rate", *THROUGHPUT.values())})
    return figures
