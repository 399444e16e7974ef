"""JMeter dashboard, "Over Time" page: response times, their percentiles, bytes and tokens throughput,
latencies (time to the headers) and connect time, per time bin (TimeGrid). Active Threads Over Time is the
report's users-over-time chart. A figure the records do not hold is None ("not measured"), never a line at 0.
Inline SVG (svg_figure)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from llmload.analysis.frame import RunData
from llmload.report.charts.llm_charts import token_rate_series
from llmload.report.charts.svg_figure import svg
from llmload.report.charts.time_grid import TimeGrid

MOST_LABELS = 6  # labels drawn as series of their own; the rest only in the totals
PERCENTILES_OVER_TIME = (("min", "min", ":"), ("median", 0.5, "-"), ("90th", 0.9, "--"), ("95th", 0.95, "-."),
                         ("99th", 0.99, "--"), ("max", "max", ":"))  # fmt: skip
TTFT_STYLE: dict[str, Any] = {"color": "#ff7f0e", "lw": 1.0, "ls": "--"}


def top_labels(requests: pd.DataFrame, most: int = MOST_LABELS) -> list[str]:
    """The labels with the most requests, most first (JMeter draws a series per label)."""
    return [str(label) for label in requests["label"].value_counts().index[:most]]


def response_times_over_time_chart(run: RunData) -> str | None:
    """Mean E2E of the successes per label by completion time, mean TTFT beside it."""
    done = run.requests[run.requests["ok"]]
    if not len(done):
        return None
    grid = TimeGrid.of(run)
    fig, ax = grid.axes(run)
    for label in top_labels(done):
        chosen = done[done["label"] == label]
        ax.plot(*grid.statistic(chosen["end_s"], chosen["e2e_s"], "mean"), lw=1, label=f"{label}: E2E mean")
    x, ttft = grid.statistic(done["end_s"], done["ttft_s"], "mean")
    if len(x):
        ax.plot(x, ttft, **TTFT_STYLE, label="TTFT mean (first token)")
    ax.set_ylabel("seconds")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(f"Response Times Over Time (mean per {grid.width_s:.0f} s)")
    return svg(fig, "jm-response-times-over-time")


def percentiles_over_time_chart(run: RunData) -> str | None:
    """E2E of the successes per bin: min, median, 90th/95th/99th percentile, max."""
    done = run.requests[run.requests["ok"]]
    if not len(done):
        return None
    grid = TimeGrid.of(run)
    fig, ax = grid.axes(run)
    for name, how, style in PERCENTILES_OVER_TIME:
        ax.plot(*grid.statistic(done["end_s"], done["e2e_s"], how), style, lw=1, label=name)
    ax.set_ylabel("E2E (s)")
    ax.legend(fontsize=7, loc="upper left", ncol=3)
    ax.set_title(f"Response Time Percentiles Over Time (successful responses, per {grid.width_s:.0f} s)")
    return svg(fig, "jm-percentiles-over-time")


def bytes_throughput_chart(run: RunData) -> str | None:
    """Received body bytes/s (by completion) and output tokens/s; None when the records count neither."""
    req = run.requests
    has_bytes, has_tokens = req["response_bytes"].notna().any(), req["output_tokens"].notna().any()
    if not (has_bytes or has_tokens):
        return None
    grid = TimeGrid.of(run)
    fig, ax = grid.axes(run)
    x = grid.edges[:-1] / grid.divisor
    if has_bytes:
        received = grid.rate(req["end_s"], req["response_bytes"].fillna(0)) / 1024
        ax.plot(x, received, color="#1f77b4", lw=1, label="received KB/s (body)")
    ax.set_ylabel("KB / s" if has_bytes else "received bytes: not measured")
    lines, labels = ax.get_legend_handles_labels()
    if has_tokens:
        tokens = ax.twinx()
        tokens.plot(x, token_rate_series(req, grid.edges), color="#2ca02c", lw=1, label="output tokens/s")
        tokens.set_ylabel("tokens / s")
        more, more_labels = tokens.get_legend_handles_labels()
        lines, labels = lines + more, labels + more_labels
    ax.legend(lines, labels, fontsize=7, loc="upper left")
    ax.set_title("Bytes Throughput Over Time: received bytes and output tokens (sent bytes: not measured)")
    return svg(fig, "jm-bytes-over-time")


def latencies_over_time_chart(run: RunData) -> str | None:
    """Mean time to the response headers per bin (JMeter's Latency), mean TTFT beside it; None without
    headers stamps."""
    req = run.requests
    if not req["latency_s"].notna().any():
        return None
    grid = TimeGrid.of(run)
    fig, ax = grid.axes(run)
    ax.plot(*grid.statistic(req["end_s"], req["latency_s"], "mean"), color="#1f77b4", lw=1, label="Latency mean (headers)")
    x, ttft = grid.statistic(req["end_s"], req["ttft_s"], "mean")
    if len(x):
        ax.plot(x, ttft, **TTFT_STYLE, label="TTFT mean (first token)")
    ax.set_ylabel("seconds")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title("Latencies Over Time: time to the response headers, and to the first token")
    return svg(fig, "jm-latencies-over-time")


def connect_time_over_time_chart(run: RunData) -> str | None:
    """Mean connection set-up time of the requests that opened one, per bin; None when none was measured."""
    req = run.requests
    opened = req[req["connect_time_s"].notna()]
    if not len(opened):
        return None
    grid = TimeGrid.of(run)
    fig, ax = grid.axes(run)
    x, mean_s = grid.statistic(opened["send_s"], opened["connect_time_s"], "mean")
    ax.plot(x, mean_s * 1000, ".-", ms=3, color="#8c564b", lw=1, label="Connect mean (new connections)")
    ax.set_ylabel("ms")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(f"Connect Time Over Time ({len(opened)} new connections; kept-alive requests have none)")
    return svg(fig, "jm-connect-over-time")
