"""Where TTFT and E2E go, per step: the server's queue, prefill and decode time (its own histograms,
analysis.time_split) stacked, the rest on top, the client's mean as a line; the knee and the limit marked.
A negative remainder (the server's parts add up to more than the client measured) is drawn below zero,
hatched, rather than hidden. Inline SVG (svg_figure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from llmload.analysis.model import RunAnalysis
from llmload.report.charts.curve_charts import mark_knee_and_limit
from llmload.report.charts.svg_figure import svg

# (key in the step's time_split, legend) per stacked part; the remainder goes on top
PARTS = {
    "ttft": (("queue_s", "queue (server)", "#d62728"), ("prefill_s", "prefill (server)", "#1f77b4")),
    "e2e": (
        ("queue_s", "queue (server)", "#d62728"),
        ("prefill_s", "prefill (server)", "#1f77b4"),
        ("decode_s", "decode (server)", "#2ca02c"),
    ),
}
TOTALS = {"ttft": ("client_ttft_mean_s", "ttft_remainder_s", "TTFT"), "e2e": ("client_e2e_mean_s", "e2e_remainder_s", "E2E")}
REMAINDER_COLOR = "#8c8c8c"


def time_split_chart(analysis: RunAnalysis, kind: str) -> str | None:
    """`kind` "ttft" or "e2e"; None when no step has a split (the section says why)."""
    steps = [s for s in analysis.steps if s.time_split and s.time_split.get(TOTALS[kind][0]) is not None]
    if not steps:
        return None
    xs = [float(s.users) for s in steps]
    width = 0.7 * (min(b - a for a, b in zip(xs, xs[1:], strict=False)) if len(xs) > 1 else 1.0)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    _stack(ax, xs, [s.time_split or {} for s in steps], kind, width)
    total_key, _, label = TOTALS[kind]
    ax.plot(xs, [(s.time_split or {})[total_key] for s in steps], "o-", color="#000000", ms=3, lw=1,
            label=f"client {label} (mean)")  # fmt: skip
    mark_knee_and_limit(ax, analysis.knee, "--")
    ax.axhline(0.0, color="#000000", lw=0.6)
    ax.set_xlabel("concurrent users")
    ax.set_ylabel("seconds (mean per request)")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(f"Where {label} goes")
    return svg(fig, f"time-split-{kind}")


def _stack(ax: Axes, xs: list[float], splits: Sequence[Mapping[str, Any]], kind: str, width: float) -> None:
    bottom = [0.0] * len(xs)
    for key, label, color in PARTS[kind]:
        heights = [float((split.get(key) or {}).get("mean") or 0.0) for split in splits]
        ax.bar(xs, heights, width, bottom=bottom, color=color, label=label)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    rest = [float(split.get(TOTALS[kind][1]) or 0.0) for split in splits]
    above = [max(0.0, r) for r in rest]
    ax.bar(xs, above, width, bottom=bottom, color=REMAINDER_COLOR, label="network, front end, client")
    below = [min(0.0, r) for r in rest]
    if any(below):
        ax.bar(xs, below, width, color="none", edgecolor=REMAINDER_COLOR, hatch="///",
               label="remainder < 0 (server's parts exceed the client's time)")  # fmt: skip
