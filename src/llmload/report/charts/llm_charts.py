"""LLM panels: latency distributions per step, token throughput, the per-user/total trade-off,
reasoning vs answer tokens, and plate-detection quality per step. Inline SVG (svg_figure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from llmload.analysis.frame import RunData
from llmload.analysis.model import RunAnalysis, StepStats
from llmload.analysis.step_windows import StepWindow, steady_ok_in
from llmload.report.charts.level_order import in_level_order
from llmload.report.charts.svg_figure import bin_edges, gaps_as_nan, run_span_s, step_bands, svg, time_axis

# box = p25..p75, line = p50, whiskers = p5..p95, dot = p99
BOX_PERCENTILES = (5, 25, 50, 75, 95, 99)
DIST_METRICS = {
    "ttft": ("ttft_s", "TTFT: time to first token"),
    "ttfa": ("ttfa_s", "TTFA: time to first answer token (after reasoning)"),
    "tpot": ("tpot_s", "TPOT: time per output token"),
    "itl": ("itl", "ITL: inter-token (inter-chunk) latency"),
}


def step_values(run: RunData, window: StepWindow, metric: str) -> np.ndarray:
    """A metric's values over the step's steady successes (the population of its latency statistics)."""
    mask = steady_ok_in(run.requests, window)
    if metric == "itl":
        gaps: np.ndarray = run.itl_s.for_rows(np.flatnonzero(mask))  # rows = frame positions
        return gaps
    values: np.ndarray = run.requests[metric].to_numpy(dtype=float)[mask]
    kept: np.ndarray = values[~np.isnan(values)]
    return kept


def box_stats(values: np.ndarray, label: str) -> dict[str, Any] | None:
    if values.size == 0:
        return None
    p5, p25, p50, p75, p95, p99 = np.percentile(values, BOX_PERCENTILES)
    return {
        "label": label,
        "whislo": p5,
        "q1": p25,
        "med": p50,
        "q3": p75,
        "whishi": p95,
        "fliers": [],
        "p99": p99,
        "mean": float(values.mean()),
    }


def distribution_chart(run: RunData, key: str) -> str | None:
    """Percentile boxes per step for one metric; None when no step has a value (e.g. no TTFA)."""
    metric, title = DIST_METRICS[key]
    stats = []
    for window in run.windows:
        box = box_stats(step_values(run, window, metric), str(window.users))
        if box is not None:
            stats.append(box)
    if not stats:
        return None
    scale, unit = (1000.0, "ms") if max(b["whishi"] for b in stats) < 1.0 else (1.0, "s")
    for b in stats:
        for k in ("whislo", "q1", "med", "q3", "whishi", "p99", "mean"):
            b[k] = b[k] * scale
    fig, ax = plt.subplots(figsize=(8, 2.8))
    ax.bxp(
        stats,
        showfliers=False,
        widths=0.6,
        patch_artist=True,
        boxprops={"facecolor": "#c6dbef", "lw": 0.6},
        medianprops={"color": "#08306b"},
    )
    ax.plot(range(1, len(stats) + 1), [b["p99"] for b in stats], ".", color="#d62728", ms=3, label="p99")
    ax.set_xlabel("users (step)")
    ax.set_ylabel(unit)
    _thin_ticks(ax, [b["label"] for b in stats])
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(f"{title} per step (box p25–p75, line p50, whiskers p5–p95)")
    return svg(fig, f"dist-{key}")


def _thin_ticks(ax: Any, labels: list[str], most: int = 25) -> None:
    every = max(1, int(np.ceil(len(labels) / most)))
    ax.set_xticks(range(1, len(labels) + 1))
    ax.set_xticklabels([lab if i % every == 0 else "" for i, lab in enumerate(labels)])


def token_rate_series(req: pd.DataFrame, edges: np.ndarray) -> np.ndarray:
    """Output tokens/s per bin, each request's tokens spread evenly from its first to its last token."""
    ok = req[req["ok"] & req["output_tokens"].notna()]
    first = (ok["send_s"] + ok["ttft_s"]).to_numpy(dtype=float)
    last = (ok["send_s"] + ok["e2e_s"]).to_numpy(dtype=float)
    tokens = ok["output_tokens"].to_numpy(dtype=float)
    valid = ~(np.isnan(first) | np.isnan(last))
    first, last, tokens = first[valid], np.maximum(last[valid], first[valid] + 1e-9), tokens[valid]
    rate = tokens / (last - first)
    cumulative = np.array([np.sum(rate * np.clip(t - first, 0.0, last - first)) for t in edges])
    return np.diff(cumulative) / np.diff(edges)


def tokens_over_time_chart(run: RunData) -> str | None:
    """None when the run has no token counts (imported JMeter results): missing, not a line at zero."""
    if not run.requests["output_tokens"].notna().any():
        return None
    span = run_span_s(run)
    divisor, xlabel = time_axis(span)
    edges = bin_edges(span)
    fig, ax = plt.subplots(figsize=(8, 2.6))
    step_bands(ax, run.steps, divisor)
    ax.plot(
        edges[:-1] / divisor,
        token_rate_series(run.requests, edges),
        color="#2ca02c",
        lw=1,
        label="output tokens/s",
    )
    ax.set_ylabel("tokens / s")
    ax.set_xlabel(xlabel)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("Output tokens per second over time (each answer spread over its generation time)")
    return svg(fig, "tokens-over-time")


def tradeoff_chart(analysis: RunAnalysis) -> str | None:
    steps = in_level_order(s for s in analysis.steps if s.output_tokens_per_s and s.users)
    if not steps:
        return None
    total = [s.output_tokens_per_s or 0.0 for s in steps]  # all measured (filtered above)
    per_user = [tokens / s.users for tokens, s in zip(total, steps, strict=True)]
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.plot(per_user, total, "o-", ms=3, color="#1f77b4")
    every = max(1, len(steps) // 15)
    for i, s in enumerate(steps):
        if i % every == 0 or i == len(steps) - 1:
            ax.annotate(
                str(s.users),
                (per_user[i], total[i]),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
    knee = analysis.knee.knee
    if knee and knee.output_tokens_per_s and knee.users:
        ax.plot(
            [knee.output_tokens_per_s / knee.users],
            [knee.output_tokens_per_s],
            "*",
            ms=12,
            color="#2ca02c",
            label=f"optimal ({knee.users} users)",
        )
        ax.legend(fontsize=8)
    ax.set_xlabel("output tokens/s per user (interactivity)")
    ax.set_ylabel("total output tokens/s")
    ax.set_title("Trade-off: speed each user sees vs total throughput (points labelled with users)")
    return svg(fig, "tradeoff")


def reasoning_chart(run: RunData) -> str | None:
    """Mean reasoning and answer tokens per step; None when the server reported no reasoning counts."""
    if not run.requests["reasoning_tokens"].notna().any():
        return None
    users, reasoning, answer = [], [], []
    for window in run.windows:
        chosen = run.requests[steady_ok_in(run.requests, window)]
        if not len(chosen):
            continue
        r = chosen["reasoning_tokens"].fillna(0.0)
        users.append(window.users)
        reasoning.append(float(r.mean()))
        answer.append(float((chosen["output_tokens"] - r).mean()))
    fig, ax = plt.subplots(figsize=(8, 2.6))
    x = np.arange(len(users))
    ax.bar(x, reasoning, color="#ff7f0e", label="reasoning tokens")
    ax.bar(x, answer, bottom=reasoning, color="#1f77b4", label="answer tokens")
    ax.set_xticks(x)
    ax.set_xticklabels([str(u) if i % max(1, len(users) // 25) == 0 else "" for i, u in enumerate(users)])
    ax.set_xlabel("users (step)")
    ax.set_ylabel("tokens per request (mean)")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("Reasoning vs answer tokens per request")
    return svg(fig, "reasoning")


def accuracy_chart(steps: Sequence[StepStats]) -> str | None:
    measured = in_level_order(s for s in steps if s.accuracy.precision is not None)
    if not measured:
        return None
    fig, ax = plt.subplots(figsize=(8, 2.6))
    users = [s.users for s in measured]
    for key, color in (("precision", "#1f77b4"), ("recall", "#d62728"), ("f1", "#7f7f7f")):
        values = gaps_as_nan([getattr(s.accuracy, key) for s in measured])
        ax.plot(users, values, "o-", ms=3, lw=1, color=color, label=key)
    ax.set_ylim(-0.02, 1.05)
    ax.set_xlabel("users (step)")
    ax.set_ylabel("score")
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title("Plate detection quality per step (does quality hold under load?)")
    return svg(fig, "accuracy")
