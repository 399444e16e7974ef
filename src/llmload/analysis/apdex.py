"""APDEX per step, JMeter-style: (satisfied + tolerating / 2) / samples.

A successful request is *satisfied* when its E2E is at most T, *tolerating* when at most F, otherwise
*frustrated*; a failed request is always frustrated (JMeter counts errors as frustrated too).
Thresholds (docs/report.md, APDEX):
  T  --apdex-t when given; else the bound of an `e2e_*<=` (or `<`) clause of --slo over all requests (a
     named clause bounds one name's only); else DEFAULT_T_S.
  F  --apdex-f when given; else TOLERATED_FACTOR x T (the Apdex standard's 4T).
The default T is the seed deployment's acceptable response time: 60 s (its limit answered in 58.8 s).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from llmload.analysis.slo import parse_slo
from llmload.analysis.step_windows import StepWindow, sent_in, steady_ok_in

DEFAULT_T_S = 60.0
TOLERATED_FACTOR = 4.0


def thresholds(t_s: float | None = None, f_s: float | None = None, slo: str = "") -> dict[str, Any]:
    """The thresholds in use and where T came from ("option", "slo" or "default")."""
    source = "option"
    if t_s is None:
        t_s, source = _slo_e2e_bound_s(slo), "slo"
        if t_s is None:
            t_s, source = DEFAULT_T_S, "default"
    return {
        "t_s": float(t_s),
        "f_s": float(f_s if f_s is not None else TOLERATED_FACTOR * t_s),
        "t_source": source,
    }


def _slo_e2e_bound_s(slo: str) -> float | None:
    clauses = parse_slo(slo) if slo.strip() else []
    bounds = [c.threshold for c in clauses if c.metric == "e2e" and c.op in ("<=", "<") and c.name is None]
    return bounds[0] if bounds else None


def apdex(
    e2e_s: np.ndarray | pd.Series, ok: np.ndarray | pd.Series, t_s: float, f_s: float
) -> dict[str, Any]:
    """APDEX of one set of requests; score None when there is none."""
    e2e = np.asarray(e2e_s, dtype=float)
    good = np.asarray(ok, dtype=bool)
    satisfied = int(np.sum(good & (e2e <= t_s)))
    tolerating = int(np.sum(good & (e2e > t_s) & (e2e <= f_s)))
    total = int(e2e.size)
    return {
        "score": (satisfied + tolerating / 2) / total if total else None,
        "samples": total,
        "satisfied": satisfied,
        "tolerating": tolerating,
        "frustrated": total - satisfied - tolerating,
    }


def rating(score: float | None) -> str:
    """The Apdex standard's words for a score."""
    if score is None:
        return "–"
    for bound, word in ((0.94, "excellent"), (0.85, "good"), (0.70, "fair"), (0.50, "poor")):
        if score >= bound:
            return word
    return "unacceptable"


def apdex_summary(requests: pd.DataFrame, windows: list[StepWindow], limits: dict[str, Any]) -> dict[str, Any]:
    """summary.json's "apdex": the thresholds, the whole run and each step."""
    overall = apdex(requests["e2e_s"], requests["ok"], limits["t_s"], limits["f_s"])
    return {
        **limits,
        "overall": {**overall, "rating": rating(overall["score"])},
        "per_step": apdex_per_step(requests, windows, limits),
    }


def apdex_per_step(
    requests: pd.DataFrame, windows: list[StepWindow], limits: dict[str, Any]
) -> list[dict[str, Any]]:
    """One row per step over its steady successes and the failures sent in it that ended by its end (the
    same populations as the step's statistics and error rate)."""
    rows = []
    for window in windows:
        failed = sent_in(requests, window) & ~requests["ok"].to_numpy(dtype=bool)
        chosen = requests[steady_ok_in(requests, window) | (failed & (requests["end_s"] <= window.end_s).to_numpy())]
        row = {
            "users": window.users,
            "index": window.index,
            **apdex(chosen["e2e_s"], chosen["ok"], limits["t_s"], limits["f_s"]),
        }
        row["rating"] = rating(row["score"])
        rows.append(row)
    return rows
