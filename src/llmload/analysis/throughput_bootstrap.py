"""Bootstrap throughput curves: how much each step's throughput could move on a rerun (knee confidence)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from llmload.analysis.frame import RunData
from llmload.analysis.model import StepStats
from llmload.analysis.step_windows import steady_ok_in

DRAWS = 200
MAX_N = 5000


def throughput_draws(
    run: RunData, steps: Sequence[StepStats], samples: int = DRAWS, seed: int = 0
) -> list[list[float]]:
    """`samples` bootstrap throughput curves, one value per step (same order as `steps`).

    Closed loop (interactive response-time law X = N / R): rps* = rps x mean(hold) / mean(hold*), hold*
    resampled with replacement from the step's steady requests (hold = send -> end at the client).
    Open loop, or fewer than 2 requests: completions ~ Poisson(completed_in_window) over the window.
    """
    rng = np.random.default_rng(seed)
    columns = []
    for window, step in zip(run.windows, steps, strict=True):
        rps = step.rps if step.rps is not None else float("nan")
        holds = run.requests.loc[steady_ok_in(run.requests, window), "client_s"].dropna().to_numpy(dtype=float)
        if step.offered_rps is None and holds.size >= 2 and holds.mean() > 0:
            n = min(holds.size, MAX_N)
            means = holds[rng.integers(0, holds.size, size=(samples, n))].mean(axis=1)
            columns.append(rps * holds.mean() / means)
        elif step.window_s > 0:
            columns.append(rng.poisson(step.completed_in_window, size=samples) / step.window_s)
        else:
            columns.append(np.full(samples, rps))
    matrix = np.column_stack(columns) if columns else np.empty((samples, 0))
    return [[float(v) for v in draw] for draw in matrix]
