"""Server (vLLM /metrics) and GPU (NVML) panels over time, aligned with the steps. Inline SVG."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from llmload.analysis.frame import RunData
from llmload.report.charts.svg_figure import run_span_s, step_bands, svg, time_axis


def server_chart(run: RunData, series: dict[str, pd.Series]) -> str | None:
    """Running/waiting requests, KV-cache usage and preemptions; None when no series was sampled."""
    if not series:
        return None
    divisor, xlabel = time_axis(run_span_s(run))
    fig, axes = plt.subplots(3, 1, figsize=(8, 5.4), sharex=True)
    panels = (
        (axes[0], (("running", "#1f77b4"), ("waiting", "#d62728")), "requests", 1.0),
        (axes[1], (("kv_cache_usage", "#9467bd"),), "KV cache used (%)", 100.0),
        (axes[2], (("preemptions", "#ff7f0e"),), "preemptions (cumulative)", 1.0),
    )
    for ax, names, ylabel, factor in panels:
        step_bands(ax, run.steps, divisor)
        for name, color in names:
            if name in series:
                s = series[name]
                ax.step(
                    s.index.to_numpy() / divisor,
                    s.to_numpy() * factor,
                    where="post",
                    color=color,
                    lw=1,
                    label=name,
                )
        ax.set_ylabel(ylabel)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="upper left")
    axes[2].set_xlabel(xlabel)
    axes[0].set_title("Server (vLLM /metrics)")
    return svg(fig, "server")


def gpu_chart(run: RunData, samples: pd.DataFrame) -> str | None:
    if not len(samples):
        return None
    divisor, xlabel = time_axis(run_span_s(run))
    fig, axes = plt.subplots(3, 1, figsize=(8, 5.4), sharex=True)
    for device, group in samples.groupby("device", sort=True):
        group = group.sort_values("t_s")
        t = group["t_s"].to_numpy() / divisor
        for ax, column in zip(axes, ("util_percent", "mem_used_gib", "power_w"), strict=True):
            ax.plot(t, group[column].to_numpy(), lw=1, label=f"GPU {device}")
    for ax, ylabel in zip(axes, ("utilisation (%)", "memory used (GiB)", "power (W)"), strict=True):
        step_bands(ax, run.steps, divisor)
        ax.set_ylabel(ylabel)
    axes[0].legend(fontsize=7, loc="upper left")
    axes[2].set_xlabel(xlabel)
    axes[0].set_title("GPUs (NVML)")
    return svg(fig, "gpu")
