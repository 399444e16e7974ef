"""Charts as inline SVG strings (matplotlib, Agg backend): no files, no network."""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from llmload.analysis.frame import RunData  # noqa: E402

plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "figure.dpi": 100})


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.find("<svg") :]


def knee_chart(summary: dict[str, Any]) -> str:
    steps = [s for s in summary["steps"] if s["rps"] is not None]
    users = [s["users"] for s in steps]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.plot(users, [s["rps"] for s in steps], "o-", color="#1f77b4", label="throughput (req/s)")
    ax.set_xlabel("concurrent users")
    ax.set_ylabel("requests / s", color="#1f77b4")
    ax2 = ax.twinx()
    ax2.plot(users, [s["e2e_s"]["p95"] for s in steps], "s--", color="#d62728", label="p95 E2E (s)")
    ax2.plot(users, [s["e2e_s"]["p50"] for s in steps], ".:", color="#ff7f0e", label="p50 E2E (s)")
    ax2.set_ylabel("response time (s)", color="#d62728")
    for key, color in (("knee", "#2ca02c"), ("limit", "#9467bd")):
        point = summary.get(key)
        if point:
            ax.axvline(point["users"], color=color, lw=1.5, label=f"{key} = {point['users']} users")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left", fontsize=8)
    ax.set_title("Throughput and response time vs concurrent users")
    return _svg(fig)


def over_time_chart(run: RunData) -> str:
    req = run.requests
    fig, axes = plt.subplots(3, 1, figsize=(8, 6), sharex=True)
    done = req[req["ok"]]
    failed = req[~req["ok"]]
    span = max(1.0, float(req["end_s"].max()) if len(req) else 1.0)
    bin_s = max(1.0, span / 120)
    for frame, label, color in ((done, "ok", "#1f77b4"), (failed, "failed", "#d62728")):
        if len(frame):
            counts = (frame["end_s"] // bin_s).value_counts().sort_index()
            axes[0].plot(
                counts.index.to_numpy() * bin_s, counts.to_numpy() / bin_s, color=color, label=f"TPS {label}"
            )
    axes[0].set_ylabel("requests / s")
    axes[0].legend(fontsize=8)
    times = [s.start_s for s in run.steps] + ([run.steps[-1].end_s] if run.steps else [])
    levels = [s.users for s in run.steps] + ([run.steps[-1].users] if run.steps else [])
    axes[1].step(times, levels, where="post", color="#2ca02c")
    axes[1].set_ylabel("active users")
    if len(done):
        axes[2].plot(done["end_s"], done["e2e_s"], ".", ms=2, alpha=0.5, color="#9467bd", label="E2E")
        axes[2].plot(done["end_s"], done["ttft_s"], ".", ms=2, alpha=0.5, color="#ff7f0e", label="TTFT")
        axes[2].legend(fontsize=8)
    axes[2].set_ylabel("seconds")
    axes[2].set_xlabel("time since start (s)")
    fig.suptitle("Over time")
    return _svg(fig)
