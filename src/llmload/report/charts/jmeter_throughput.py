"""JMeter dashboard, "Throughput" page: hits, response codes and transactions per second, and response time and
latency against the request rate, per time bin (TimeGrid). Total Transactions Per Second is the report's
tps-over-time chart. Inline SVG (svg_figure)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from llmload.analysis.frame import RunData
from llmload.report.charts.jmeter_over_time import TTFT_STYLE, top_labels
from llmload.report.charts.svg_figure import COLORS, svg
from llmload.report.charts.time_grid import TimeGrid

MOST_CODES = 8  # response codes drawn as series of their own, commonest first


def hits_per_second_chart(run: RunData) -> str:
    """Requests sent per second (JMeter counts a sample at its start)."""
    grid = TimeGrid.of(run)
    fig, ax = grid.axes(run)
    ax.plot(grid.edges[:-1] / grid.divisor, grid.rate(run.requests["send_s"]), color="#1f77b4", lw=1, label="hits/s (sent)")
    ax.set_ylabel("requests / s")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(f"Hits Per Second (requests sent per {grid.width_s:.0f} s bin)")
    return svg(fig, "jm-hits-per-second")


def response_codes(requests: pd.DataFrame) -> pd.Series:
    """Per request: its HTTP status ("200"), with the error kind when it failed otherwise than by its status
    ("200 disconnect": a stream cut after its headers), or the kind alone when no status came ("connect")."""
    status = requests["http_status"].astype("Int64").astype("string")
    kind = requests["error_kind"].astype("string")
    by_status = requests["ok"] | (kind == "http_status")
    codes = status.where(by_status, (status + " " + kind).fillna(kind))
    return codes.fillna(status).fillna("no status").astype(str)


def codes_per_second_chart(run: RunData) -> str:
    """Responses per second by code (response_codes), by completion time."""
    req = run.requests
    codes = response_codes(req)
    grid = TimeGrid.of(run)
    fig, ax = grid.axes(run)
    for code in codes.value_counts().index[:MOST_CODES]:
        ax.plot(grid.edges[:-1] / grid.divisor, grid.rate(req.loc[codes == code, "end_s"]), lw=1, label=str(code))
    ax.set_ylabel("responses / s")
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    ax.set_title(f"Codes Per Second (HTTP status, or the error kind; per {grid.width_s:.0f} s bin)")
    return svg(fig, "jm-codes-per-second")


def transactions_per_second_chart(run: RunData) -> str:
    """Completions per second of each label, successes and failures."""
    req = run.requests
    grid = TimeGrid.of(run)
    fig, ax = grid.axes(run)
    x = grid.edges[:-1] / grid.divisor
    for label in top_labels(req):
        chosen = req[req["label"] == label]
        for ok, outcome, style in ((True, "success", "-"), (False, "failure", ":")):
            ends = chosen.loc[chosen["ok"] == ok, "end_s"]
            if len(ends):
                ax.plot(x, grid.rate(ends), style, lw=1, label=f"{label}-{outcome}")
    ax.set_ylabel("transactions / s")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(f"Transactions Per Second (completions per label, per {grid.width_s:.0f} s bin)")
    return svg(fig, "jm-transactions-per-second")


def _median_vs_rate(grid: TimeGrid, rate: np.ndarray, req: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Per bin where `req` has values: the bin's completion rate (of all requests) and the median of `column`."""
    known = req[req[column].notna()]
    if not len(known):
        return np.array([]), np.array([])
    medians = known[column].groupby(grid.bin_of(known["end_s"])).median()
    return rate[medians.index.to_numpy()], medians.to_numpy()


def response_time_vs_request_chart(run: RunData) -> str:
    """Each time bin as a point: its completions per second and the median E2E of its successes and failures."""
    req = run.requests
    grid = TimeGrid.of(run)
    fig, ax = plt.subplots(figsize=(8, 2.6))
    ax.set_xlabel("completed requests / s (per time bin)")
    rate = grid.rate(req["end_s"])
    for ok, name in ((True, "ok"), (False, "failed")):
        x, median = _median_vs_rate(grid, rate, req[req["ok"] == ok], "e2e_s")
        ax.plot(x, median, ".", ms=4, color=COLORS[name], label=f"{'Success' if ok else 'Failure'}: E2E median")
    ax.set_ylabel("seconds")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(f"Response Time Vs Request ({grid.width_s:.0f} s bins)")
    return svg(fig, "jm-response-time-vs-request")


def latency_vs_request_chart(run: RunData) -> str | None:
    """As response_time_vs_request_chart with the median time to the headers, and to the first token."""
    req = run.requests
    if not req["latency_s"].notna().any():
        return None
    grid = TimeGrid.of(run)
    fig, ax = plt.subplots(figsize=(8, 2.6))
    ax.set_xlabel("completed requests / s (per time bin)")
    rate = grid.rate(req["end_s"])
    x, median = _median_vs_rate(grid, rate, req, "latency_s")
    ax.plot(x, median, ".", ms=4, color="#1f77b4", label="Latency median (headers)")
    x, median = _median_vs_rate(grid, rate, req, "ttft_s")
    ax.plot(x, median, "x", ms=3, color=TTFT_STYLE["color"], label="TTFT median (first token)")
    ax.set_ylabel("seconds")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(f"Latency Vs Request ({grid.width_s:.0f} s bins)")
    return svg(fig, "jm-latency-vs-request")
