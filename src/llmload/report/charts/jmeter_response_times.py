"""JMeter dashboard, "Response Times" page (response time percentiles, overview in APDEX bands, time vs
threads, distribution) and the Dashboard page's Requests Summary. E2E of the successful requests, as every
latency statistic of the report; TTFT beside it where a streaming user's wait differs. Inline SVG (svg_figure)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from llmload.analysis.frame import RunData
from llmload.analysis.step_windows import step_users
from llmload.report.charts.jmeter_over_time import TTFT_STYLE, top_labels
from llmload.report.charts.svg_figure import COLORS, svg

MOST_BINS = 60  # of the response time distribution
BAND_COLORS = ("#9acd32", "#ffd700", "#ff8c00", "#d62728")  # JMeter's overview: satisfied .. failed


def requests_summary_chart(ok: int, failed: int) -> str | None:
    """The share of successful (OK) and failed (KO) requests."""
    if ok + failed == 0:
        return None
    fig, ax = plt.subplots(figsize=(4.2, 2.4))
    counts = [(n, f"{name} {n} ({100 * n / (ok + failed):.2f}%)", color)
              for n, name, color in ((ok, "OK", COLORS["knee"]), (failed, "KO", COLORS["failed"])) if n]  # fmt: skip
    ax.pie([c[0] for c in counts], colors=[c[2] for c in counts], startangle=90, counterclock=False,
           wedgeprops={"linewidth": 0.5, "edgecolor": "white"})  # fmt: skip
    ax.legend([c[1] for c in counts], fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_title("Requests Summary")
    return svg(fig, "jm-requests-summary")


def percentiles_chart(run: RunData) -> str | None:
    """E2E at every percentile 0..100 per label, TTFT beside it."""
    done = run.requests[run.requests["ok"]]
    if not len(done):
        return None
    points = np.arange(0, 101)
    fig, ax = plt.subplots(figsize=(8, 2.8))
    for label in top_labels(done):
        e2e = done.loc[done["label"] == label, "e2e_s"].dropna()
        ax.plot(points, np.percentile(e2e, points), lw=1, label=f"{label}: E2E")
    ttft = done["ttft_s"].dropna()
    if len(ttft):
        ax.plot(points, np.percentile(ttft, points), **TTFT_STYLE, label="TTFT (first token)")
    ax.set_xlabel("percentile")
    ax.set_ylabel("seconds")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title("Response Time Percentiles (successful requests)")
    return svg(fig, "jm-percentiles")


def overview_chart(apdex: Mapping[str, Any], failed: int) -> str | None:
    """Requests in APDEX bands: E2E <= T, T < E2E <= F, > F (successes), and the failures."""
    overall = apdex.get("overall") or {}
    if not overall.get("samples"):
        return None
    t, f = apdex["t_s"], apdex["f_s"]
    bands = (
        (f"≤ T = {t:g} s", overall["satisfied"]),
        (f"> {t:g} s, ≤ F = {f:g} s", overall["tolerating"]),
        (f"> {f:g} s", overall["frustrated"] - failed),
        ("failed (KO)", failed),
    )
    fig, ax = plt.subplots(figsize=(8, 2.4))
    bars = ax.bar([b[0] for b in bands], [b[1] for b in bands], color=BAND_COLORS)
    ax.bar_label(bars, fontsize=8)
    ax.set_ylabel("requests")
    ax.set_title("Response Time Overview (E2E against the APDEX thresholds)")
    return svg(fig, "jm-overview")


def time_vs_threads_chart(run: RunData) -> str | None:
    """Mean E2E and TTFT of the successes against the users of the step each was sent in."""
    req = run.requests
    done = req[req["ok"]].assign(users=step_users(req, run.windows)).dropna(subset=["users"])
    if not len(done):
        return None
    means = done.groupby("users")[["e2e_s", "ttft_s"]].mean().sort_index()
    users = means.index.to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(8, 2.6))
    ax.plot(users, means["e2e_s"].to_numpy(), "o-", ms=3, lw=1, color="#9467bd", label="E2E mean")
    ax.plot(users, means["ttft_s"].to_numpy(), **TTFT_STYLE, marker=".", label="TTFT mean (first token)")
    ax.set_xlabel("active users (threads)")
    ax.set_ylabel("seconds")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title("Time Vs Threads")
    return svg(fig, "jm-time-vs-threads")


def nice_width(span: float, most: int = MOST_BINS) -> float:
    """The smallest of 1, 2, 5 x 10^k giving at most `most` bins over `span`."""
    if span <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(span / most))
    return next(power * m for m in (1, 2, 5, 10) if span / (power * m) <= most)


def distribution_chart(run: RunData) -> str | None:
    """How many successful requests took each E2E, in bins of a round width."""
    done = run.requests[run.requests["ok"]]
    e2e = done["e2e_s"].dropna()
    if not len(e2e):
        return None
    width = nice_width(float(e2e.max()))
    edges = np.arange(0, math.floor(float(e2e.max()) / width) + 2) * width
    fig, ax = plt.subplots(figsize=(8, 2.6))
    for label in top_labels(done):
        values = done.loc[done["label"] == label, "e2e_s"].dropna()
        ax.hist(values, bins=edges.tolist(), histtype="stepfilled", alpha=0.6, label=label)
    ax.set_xlabel(f"E2E (s), {width:g} s bins")
    ax.set_ylabel("requests")
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title("Response Time Distribution (successful requests)")
    return svg(fig, "jm-distribution")
