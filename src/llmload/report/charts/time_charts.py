"""Over-time charts aligned with the steps: completions per second, active users, response-time percentiles.
Inline SVG (svg_figure)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from llmload.analysis.frame import RunData
from llmload.report.charts.svg_figure import (
    COLORS,
    bin_edges,
    rate_per_bin,
    run_span_s,
    step_bands,
    svg,
    time_axis,
)
from llmload.report.charts.time_grid import TimeGrid


def tps_over_time_chart(run: RunData) -> str:
    req = run.requests
    span = run_span_s(run)
    divisor, xlabel = time_axis(span)
    edges = bin_edges(span)
    fig, ax = plt.subplots(figsize=(8, 2.6))
    step_bands(ax, run.steps, divisor)
    for ok, label in ((True, "ok"), (False, "failed")):
        ends = req.loc[req["ok"] == ok, "end_s"]
        ax.plot(
            edges[:-1] / divisor, rate_per_bin(ends, edges), color=COLORS[label], lw=1, label=f"TPS {label}"
        )
    ax.set_ylabel("requests / s")
    ax.set_xlabel(xlabel)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(f"Transactions per second (completions per {edges[1] - edges[0]:.0f} s bin)")
    return svg(fig, "tps-over-time")


def in_flight(req: pd.DataFrame, at_s: np.ndarray) -> np.ndarray:
    """Requests in flight at each time: sent at or before t and not yet ended."""
    sends = np.sort(req["send_s"].to_numpy(dtype=float))
    ends = np.sort(req["end_s"].to_numpy(dtype=float))
    return np.searchsorted(sends, at_s, side="right") - np.searchsorted(ends, at_s, side="right")


def users_over_time_chart(run: RunData) -> str:
    span = run_span_s(run)
    divisor, xlabel = time_axis(span)
    fig, ax = plt.subplots(figsize=(8, 2.4))
    step_bands(ax, run.steps, divisor)
    if run.steps:
        times = [s.start_s for s in run.steps] + [run.steps[-1].end_s or run.steps[-1].start_s]
        levels = [s.users for s in run.steps] + [run.steps[-1].users]
        ax.step(
            np.asarray(times) / divisor, levels, where="post", color=COLORS["users"], label="target users"
        )
    grid = np.linspace(0.0, span, 600)
    ax.plot(
        grid / divisor, in_flight(run.requests, grid), color="#7f7f7f", lw=0.8, label="requests in flight"
    )
    ax.set_ylabel("users")
    ax.set_xlabel(xlabel)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("Active users")
    return svg(fig, "users-over-time")


def latency_over_time_chart(run: RunData) -> str:
    done = run.requests[run.requests["ok"]]
    grid = TimeGrid.of(run, 100)
    fig, ax = grid.axes(run, 2.8)
    if len(done):
        for q, style in ((50, "-"), (90, "--"), (99, ":")):
            x, e2e = grid.statistic(done["end_s"], done["e2e_s"], q / 100)
            ax.plot(x, e2e, style, color="#9467bd", lw=1, label=f"E2E p{q}")
        x, ttft = grid.statistic(done["end_s"], done["ttft_s"], 0.5)
        ax.plot(x, ttft, "-", color="#ff7f0e", lw=1, label="TTFT p50")
        ax.legend(fontsize=8, loc="upper left")
    ax.set_ylabel("seconds")
    ax.set_title("Response time percentiles over time (by completion time)")
    return svg(fig, "latency-over-time")
