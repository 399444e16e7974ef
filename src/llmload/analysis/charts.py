"""Charts as inline SVG strings (matplotlib, Agg backend): no files, no network, no dataset text.

Every chart is a function returning one `<svg>` element. Each gets its own id salt so that the ids
matplotlib writes (markers, clip paths) never collide when many charts share one HTML page. Scatter
plots are downsampled to MAX_POINTS so a report of an hour-long run stays a few MB.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from llmload.analysis.frame import RunData  # noqa: E402
from llmload.records import StepMark  # noqa: E402

plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "figure.dpi": 100})

MAX_POINTS = 3000  # per scatter plot
TIME_BINS = 150  # bins of an over-time chart
COLORS = {"ok": "#1f77b4", "failed": "#d62728", "knee": "#2ca02c", "limit": "#9467bd", "users": "#2ca02c"}


def svg(fig: Figure, salt: str) -> str:
    buffer = io.StringIO()
    with plt.rc_context({"svg.hashsalt": salt}):
        fig.savefig(buffer, format="svg", bbox_inches="tight", dpi=150)  # dpi: of rasterized layers only
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.find("<svg") :]


def downsample(frame: pd.DataFrame, limit: int = MAX_POINTS, seed: int = 0) -> pd.DataFrame:
    """At most `limit` rows, chosen at random but reproducibly (a report rebuilt is the same report)."""
    return frame if len(frame) <= limit else frame.sample(n=limit, random_state=seed).sort_index()


def time_axis(span_s: float) -> tuple[float, str]:
    """Divisor and label of a time axis: seconds for short runs, minutes past 20 minutes."""
    return (60.0, "time since start (min)") if span_s > 1200 else (1.0, "time since start (s)")


def run_span_s(run: RunData) -> float:
    ends = [s.end_s for s in run.steps if s.end_s is not None]
    last = float(run.requests["end_s"].max()) if len(run.requests) else 0.0
    return max([1.0, last, *ends])


def step_bands(ax: Axes, steps: Sequence[StepMark], divisor: float) -> None:
    """Alternate light shading per step, so over-time charts line up with the plan."""
    for i, step in enumerate(steps):
        if i % 2 and step.end_s is not None:
            ax.axvspan(step.start_s / divisor, step.end_s / divisor, color="#000000", alpha=0.04, lw=0)


def bin_edges(span_s: float, bins: int = TIME_BINS) -> np.ndarray:
    width = max(1.0, span_s / bins)
    return np.arange(0.0, span_s + width, width)


def rate_per_bin(times_s: pd.Series, edges: np.ndarray, weights: pd.Series | None = None) -> np.ndarray:
    counts, _ = np.histogram(
        times_s.to_numpy(dtype=float),
        bins=edges,
        weights=None if weights is None else weights.to_numpy(dtype=float),
    )
    return np.asarray(counts, dtype=float) / np.diff(edges)


def x_levels(steps: list[dict[str, Any]]) -> tuple[list[float], str]:
    """Users for closed-loop runs, offered rate for open-loop ones."""
    if steps and all(s.get("offered_rps") is not None for s in steps):
        return [float(s["offered_rps"]) for s in steps], "offered load (req/s)"
    return [float(s["users"]) for s in steps], "concurrent users"


def usl_curve(usl: Any, x_max: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Throughput predicted by a USL fit: X(N) = λN / (1 + σ(N−1) + κN(N−1)); None when no usable fit."""
    if not isinstance(usl, dict):
        return None
    lam = next(
        (usl[k] for k in ("lambda", "lambda_rps", "gamma") if isinstance(usl.get(k), int | float)), None
    )
    sigma, kappa = usl.get("sigma"), usl.get("kappa")
    if lam is None or not isinstance(sigma, int | float) or not isinstance(kappa, int | float):
        return None
    n = np.linspace(1.0, max(2.0, x_max), 200)
    return n, lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))


def knee_chart(summary: dict[str, Any]) -> str:
    steps = [s for s in summary["steps"] if s["rps"] is not None]
    xs, xlabel = x_levels(steps)
    fig, ax = plt.subplots(figsize=(8, 3.8))
    ax.plot(xs, [s["rps"] for s in steps], "o-", color=COLORS["ok"], ms=4, label="throughput (req/s)")
    excluded = [(x, s["rps"]) for x, s in zip(xs, steps, strict=True) if s.get("excluded")]
    if excluded:
        ax.plot(
            *zip(*excluded, strict=True), "x", color="#000000", ms=8, label="excluded (generator saturated)"
        )
    curve = usl_curve(summary.get("usl"), max(xs) if xs else 2.0)
    if curve is not None:
        ax.plot(curve[0], curve[1], "-", color="#17becf", lw=1.2, alpha=0.9, label="USL fit")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("requests / s", color=COLORS["ok"])
    ax2 = ax.twinx()
    ax2.plot(xs, [s["e2e_s"]["p95"] for s in steps], "s--", color="#d62728", ms=3, label="p95 E2E (s)")
    ax2.plot(xs, [s["e2e_s"]["p50"] for s in steps], ".:", color="#ff7f0e", label="p50 E2E (s)")
    ax2.set_ylabel("response time (s)", color="#d62728")
    for key in ("knee", "limit"):
        point = summary.get(key)
        if point:
            where = (
                point.get("offered_rps", point["users"]) if xlabel.startswith("offered") else point["users"]
            )
            ax.axvline(
                where, color=COLORS[key], lw=1.5, label=f"{'optimal' if key == 'knee' else 'limit'} = {where}"
            )
    lines, labels = ax.get_legend_handles_labels()
    lines2, labels2 = ax2.get_legend_handles_labels()
    ax.legend(lines + lines2, labels + labels2, loc="upper left", fontsize=8)
    ax.set_title("Throughput and response time vs load")
    return svg(fig, "knee")


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
    span = run_span_s(run)
    divisor, xlabel = time_axis(span)
    edges = bin_edges(span, 100)
    fig, ax = plt.subplots(figsize=(8, 2.8))
    step_bands(ax, run.steps, divisor)
    if len(done):
        which = np.clip(np.digitize(done["end_s"].to_numpy(dtype=float), edges) - 1, 0, len(edges) - 2)
        groups = done.groupby(which)
        centers = (edges[:-1] + np.diff(edges) / 2) / divisor
        for q, style in ((50, "-"), (90, "--"), (99, ":")):
            series = groups["e2e_s"].quantile(q / 100)
            ax.plot(
                centers[series.index.to_numpy()],
                series.to_numpy(),
                style,
                color="#9467bd",
                lw=1,
                label=f"E2E p{q}",
            )
        ttft = groups["ttft_s"].quantile(0.5)
        ax.plot(centers[ttft.index.to_numpy()], ttft.to_numpy(), "-", color="#ff7f0e", lw=1, label="TTFT p50")
        ax.legend(fontsize=8, loc="upper left")
    ax.set_ylabel("seconds")
    ax.set_xlabel(xlabel)
    ax.set_title("Response time percentiles over time (by completion time)")
    return svg(fig, "latency-over-time")


def step_of_requests(run: RunData) -> pd.Series:
    """The user level of the step each request was sent in (NaN outside every step)."""
    users = pd.Series(np.nan, index=run.requests.index)
    for step in run.steps:
        end = step.end_s if step.end_s is not None else math.inf
        users[(run.requests["send_s"] >= step.start_s) & (run.requests["send_s"] < end)] = step.users
    return users


def latency_vs_users_chart(run: RunData, summary: dict[str, Any]) -> str:
    done = run.requests[run.requests["ok"]].assign(users=step_of_requests(run)).dropna(subset=["users"])
    fig, ax = plt.subplots(figsize=(8, 3.0))
    sample = downsample(done)
    jitter = np.random.default_rng(0).uniform(-0.25, 0.25, len(sample))
    ax.plot(
        sample["users"] + jitter,
        sample["e2e_s"],
        ".",
        ms=2,
        alpha=0.35,
        color="#9467bd",
        label="E2E (sampled requests)",
        rasterized=True,
    )  # an embedded PNG: 3000 SVG markers would weigh ~450 kB
    steps = [s for s in summary["steps"] if s["e2e_s"]["p50"] is not None]
    for q, style in (("p50", "-"), ("p95", "--")):
        ax.plot(
            [s["users"] for s in steps],
            [s["e2e_s"][q] for s in steps],
            style,
            color="#000000",
            lw=1,
            label=f"{q} E2E (steady window)",
        )
    ax.set_xlabel("active users (step)")
    ax.set_ylabel("E2E (s)")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(f"Latency vs active users ({len(sample)} of {len(done)} requests drawn)")
    return svg(fig, "latency-vs-users")


def compare_chart(base: dict[str, Any], new: dict[str, Any], base_label: str, new_label: str) -> str:
    """Both runs' throughput and p95 E2E curves on one chart."""
    fig, ax = plt.subplots(figsize=(8, 3.8))
    ax2 = ax.twinx()
    for summary, label, color in ((base, base_label, "#7f7f7f"), (new, new_label, "#1f77b4")):
        steps = [s for s in summary.get("steps") or [] if s["rps"] is not None]
        xs, xlabel = x_levels(steps)
        ax.plot(xs, [s["rps"] for s in steps], "o-", ms=3, color=color, label=f"{label}: req/s")
        ax2.plot(
            xs,
            [s["e2e_s"]["p95"] for s in steps],
            "s--",
            ms=2,
            color=color,
            alpha=0.7,
            label=f"{label}: p95 E2E",
        )
        knee = summary.get("knee")
        if knee:
            ax.axvline(knee["users"], color=color, lw=1, ls="-.", label=f"{label}: optimal = {knee['users']}")
        ax.set_xlabel(xlabel)
    ax.set_ylabel("requests / s")
    ax2.set_ylabel("p95 E2E (s)")
    lines, labels = ax.get_legend_handles_labels()
    lines2, labels2 = ax2.get_legend_handles_labels()
    ax.legend(lines + lines2, labels + labels2, loc="upper left", fontsize=7)
    ax.set_title("Baseline and new run")
    return svg(fig, "compare")
