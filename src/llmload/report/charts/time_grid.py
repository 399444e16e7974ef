"""The time bins of the over-time charts (TIME_BINS over the run, at least 1 s each): rates and per-bin
statistics of the requests, and an axis with the steps shaded (JMeter's granularity, sized to the run)."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from llmload.analysis.frame import RunData
from llmload.report.charts.svg_figure import (
    TIME_BINS,
    bin_edges,
    rate_per_bin,
    run_span_s,
    step_bands,
    time_axis,
)


@dataclass(frozen=True)
class TimeGrid:
    edges: np.ndarray  # seconds since the run's start
    divisor: float  # seconds per unit of the x axis
    xlabel: str

    @classmethod
    def of(cls, run: RunData, bins: int = TIME_BINS) -> TimeGrid:
        span = run_span_s(run)
        divisor, xlabel = time_axis(span)
        return cls(bin_edges(span, bins), divisor, xlabel)

    @property
    def width_s(self) -> float:
        return float(self.edges[1] - self.edges[0])

    @property
    def centres(self) -> np.ndarray:
        """Each bin's middle, in x-axis units."""
        middles: np.ndarray = (self.edges[:-1] + np.diff(self.edges) / 2) / self.divisor
        return middles

    def bin_of(self, times_s: pd.Series | np.ndarray) -> np.ndarray:
        """The bin of each time (times past the last edge in the last bin)."""
        found: np.ndarray = np.clip(np.digitize(np.asarray(times_s, dtype=float), self.edges) - 1, 0, len(self.edges) - 2)
        return found

    def rate(self, times_s: pd.Series, weights: pd.Series | None = None) -> np.ndarray:
        """Events (or their weights) per second in each bin."""
        return rate_per_bin(times_s, self.edges, weights)

    def statistic(self, times_s: pd.Series, values: pd.Series, how: str | float) -> tuple[np.ndarray, np.ndarray]:
        """x (bin centres) and the mean ("mean"), "min", "max" or quantile (0..1) of the values in each bin
        that has any; values that are NaN are not counted (not measured)."""
        known = values.notna().to_numpy()
        if not known.any():
            return np.array([]), np.array([])
        groups = pd.Series(values.to_numpy(dtype=float)[known]).groupby(self.bin_of(times_s.to_numpy()[known]))
        series = groups.quantile(how) if isinstance(how, float) else groups.agg(how)
        return self.centres[series.index.to_numpy()], series.to_numpy()

    def axes(self, run: RunData, height: float = 2.6) -> tuple[Figure, Axes]:
        """A figure of one over-time axis, the steps shaded."""
        fig, ax = plt.subplots(figsize=(8, height))
        step_bands(ax, run.steps, self.divisor)
        ax.set_xlabel(self.xlabel)
        return fig, ax
