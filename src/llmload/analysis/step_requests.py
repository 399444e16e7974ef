"""Per-request data of each step's steady window, for bootstrap throughput curves and SLO goodput.

The selection repeats metrics.py's attribution rule from a step row's own start, warm-up and end:
steady = sent in [start + warm-up, end) and ended by the end, successful; working = successful requests that
ran inside [start + warm-up, end), with `window_share`, the share of each inside it (what throughput
counts: llmload.steady).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from llmload.analysis.frame import RunData
from llmload.steady import share_in_window

DRAWS = 200
MAX_N = 5000


def steady_and_working(run: RunData, row: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    req = run.requests
    start, end = row["start_s"] + row["warmup_s"], row["end_s"]
    ok, send, ended = req["ok"], req["send_s"], req["end_s"]  # one mask each: no copy of all ok rows
    steady = req[ok & (send >= start) & (send < end) & (ended <= end)]
    working = req[ok & (ended > start) & (send < end)]
    working = working.assign(window_share=share_in_window(working["send_s"], working["end_s"], start, end))
    return steady, working


def throughput_draws(
    run: RunData, steps: list[dict[str, Any]], samples: int = DRAWS, seed: int = 0
) -> list[list[float]]:
    """`samples` bootstrap throughput curves, one value per step (same order as `steps`).

    Closed loop (interactive response-time law X = N / R): rps* = rps x mean(hold) / mean(hold*), hold*
    resampled with replacement from the step's steady requests (hold = send -> end at the client).
    Open loop, or fewer than 2 requests: completions ~ Poisson(completed_in_window) over the window.
    """
    rng = np.random.default_rng(seed)
    columns = []
    for row in steps:
        rps = float(row["rps"]) if row["rps"] is not None else float("nan")
        steady, _ = steady_and_working(run, row)
        holds = steady["client_s"].dropna().to_numpy(dtype=float)
        if row.get("offered_rps") is None and holds.size >= 2 and holds.mean() > 0:
            n = min(holds.size, MAX_N)
            means = holds[rng.integers(0, holds.size, size=(samples, n))].mean(axis=1)
            columns.append(rps * holds.mean() / means)
        elif row["window_s"] and row["window_s"] > 0:
            columns.append(rng.poisson(row["completed_in_window"], size=samples) / row["window_s"])
        else:
            columns.append(np.full(samples, rps))
    matrix = np.column_stack(columns) if columns else np.empty((samples, 0))
    return [[float(v) for v in draw] for draw in matrix]
