"""Charts as inline SVG strings (matplotlib, Agg backend): no files, no network, no dataset text.

Every chart is a function returning one `<svg>` element. Each gets its own id salt so that the ids
matplotlib writes (markers, clip paths) never collide when many charts share one HTML page. Scatter
plots are downsampled to MAX_POINTS so a report of an hour-long run stays a few MB.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

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


def plain_text(text: str) -> str:
    """Text from the run (a request name) as matplotlib draws it literally: a '$' would start math mode."""
    return text.replace("$", r"\$")


def gaps_as_nan(values: Sequence[float | None]) -> list[float]:
    """A figure per point, NaN where it was not measured (matplotlib leaves a gap)."""
    return [math.nan if value is None else value for value in values]


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
