"""Per-level curves: throughput and response time against the load, latency against active users, and two
runs' curves on one chart (`llmload compare`). Inline SVG (svg_figure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from llmload.analysis.frame import RunData
from llmload.analysis.knee_model import KneeResult
from llmload.analysis.model import RunAnalysis, StepStats
from llmload.analysis.step_windows import step_users
from llmload.analysis.usl import usl_throughput
from llmload.report.charts.jmeter_over_time import top_labels
from llmload.report.charts.level_order import in_level_order, level_key
from llmload.report.charts.svg_figure import COLORS, downsample, gaps_as_nan, plain_text, svg


def x_levels(users: list[int], offered_rps: list[float | None]) -> tuple[list[float], str]:
    """The steps' users for closed-loop runs, their offered rate for open-loop ones."""
    if offered_rps and all(rate is not None for rate in offered_rps):
        return [float(rate or 0.0) for rate in offered_rps], "offered load (req/s)"
    return [float(u) for u in users], "concurrent users"


def usl_curve(usl: Mapping[str, Any], x_max: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Throughput predicted by a USL fit (analysis.usl); None when the fit has no parameters."""
    lam, sigma, kappa = usl.get("lambda_rps"), usl.get("sigma"), usl.get("kappa")
    if lam is None or sigma is None or kappa is None:
        return None
    n = np.linspace(1.0, max(2.0, x_max), 200)
    return n, usl_throughput(n, lam, sigma, kappa)


def knee_chart(analysis: RunAnalysis) -> str:
    steps = in_level_order([s for s in analysis.steps if s.rps is not None])
    xs, xlabel = x_levels([s.users for s in steps], [s.offered_rps for s in steps])
    fig, ax = plt.subplots(figsize=(8, 3.8))
    ax.plot(xs, gaps_as_nan([s.rps for s in steps]), "o-", color=COLORS["ok"], ms=4, label="throughput (req/s)")
    excluded = [(x, s.rps) for x, s in zip(xs, steps, strict=True) if s.excluded]
    if excluded:
        ax.plot(
            *zip(*excluded, strict=True), "x", color="#000000", ms=8, label="excluded (generator saturated)"
        )
    curve = usl_curve(analysis.usl, max(xs) if xs else 2.0)
    if curve is not None:
        ax.plot(curve[0], curve[1], "-", color="#17becf", lw=1.2, alpha=0.9, label="USL fit")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("requests / s", color=COLORS["ok"])
    ax2 = ax.twinx()
    ax2.plot(xs, gaps_as_nan([s.e2e_s.p95 for s in steps]), "s--", color="#d62728", ms=3, label="p95 E2E (s)")
    ax2.plot(xs, gaps_as_nan([s.e2e_s.p50 for s in steps]), ".:", color="#ff7f0e", label="p50 E2E (s)")
    ax2.set_ylabel("response time (s)", color="#d62728")
    mark_knee_and_limit(ax, analysis.knee)
    lines, labels = ax.get_legend_handles_labels()
    lines2, labels2 = ax2.get_legend_handles_labels()
    ax.legend(lines + lines2, labels + labels2, loc="upper left", fontsize=8)
    ax.set_title("Throughput and response time vs load")
    return svg(fig, "knee")


def by_name_chart(analysis: RunAnalysis) -> str | None:
    """Per request name (the MOST_LABELS with the most requests, as the JMeter charts draw): its throughput,
    its p50 E2E per step and, from the knee on, the bound its p50 passes where it saturates (analysis.
    name_saturation); None for a run of one name."""
    steps = in_level_order([s for s in analysis.steps if s.by_name and s.rps is not None])
    if not steps:
        return None
    xs, xlabel = x_levels([s.users for s in steps], [s.offered_rps for s in steps])
    fig, ax = plt.subplots(figsize=(8, 3.8))
    ax2 = ax.twinx()
    bounds = (analysis.saturation_by_name or {}).get("per_name") or {}
    for i, name in enumerate(sorted(top_labels(analysis.run.requests))):
        color, of, text = f"C{i % 10}", [(s.by_name or {}).get(name) for s in steps], plain_text(name)
        ax.plot(xs, gaps_as_nan([n.rps if n else None for n in of]), "o-", color=color, ms=4, label=f"{text}: req/s")
        e2e = gaps_as_nan([n.e2e_s.p50 if n else None for n in of])
        ax2.plot(xs, e2e, "s--", color=color, ms=3, alpha=0.8, label=f"{text}: p50 E2E (s)")
        bound_s = (bounds.get(name) or {}).get("e2e_p50_bound_s")
        if bound_s is not None and analysis.knee.knee is not None:  # the name's own limit bound, from the knee on
            ax2.hlines(bound_s, analysis.knee.knee.users, max(xs), colors=color, linestyles=":", lw=1)
    mark_knee_and_limit(ax, analysis.knee)
    ax.set_xlabel(xlabel)
    _throughput_and_latency_axes(ax, ax2, "p50 E2E (s)", "Throughput and response time per request name")
    return svg(fig, "by-name")


def _throughput_and_latency_axes(ax: Axes, ax2: Axes, latency_label: str, title: str) -> None:
    """Throughput on the left axis, a latency on the right one, one legend for both, and the title."""
    ax.set_ylabel("requests / s")
    ax2.set_ylabel(latency_label)
    lines, labels = ax.get_legend_handles_labels()
    lines2, labels2 = ax2.get_legend_handles_labels()
    ax.legend(lines + lines2, labels + labels2, loc="upper left", fontsize=7)
    ax.set_title(title)


def mark_knee_and_limit(ax: Axes, knee: KneeResult, style: str = "-") -> None:
    """Vertical lines at the optimal and the limit concurrency, where they were determined."""
    for key, point in (("knee", knee.knee), ("limit", knee.limit)):
        if point:
            label = f"{'optimal' if key == 'knee' else 'limit'} = {point.users}"
            ax.axvline(point.users, color=COLORS[key], lw=1.5, ls=style, label=label)


def latency_vs_users_chart(run: RunData, steps: Sequence[StepStats]) -> str:
    done = run.requests[run.requests["ok"]].assign(users=step_users(run.requests, run.windows).astype(float)).dropna(subset=["users"])
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
    measured = in_level_order([s for s in steps if s.e2e_s.p50 is not None])
    for q, style in (("p50", "-"), ("p95", "--")):
        ax.plot(
            [s.users for s in measured],
            gaps_as_nan([getattr(s.e2e_s, q) for s in measured]),
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
        steps = sorted(
            (s for s in summary.get("steps") or [] if s["rps"] is not None),
            key=lambda s: level_key(s["users"], s.get("offered_rps")),
        )
        xs, xlabel = x_levels([s["users"] for s in steps], [s.get("offered_rps") for s in steps])
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
    _throughput_and_latency_axes(ax, ax2, "p95 E2E (s)", "Baseline and new run")
    return svg(fig, "compare")
