"""A Prometheus histogram's gain over a window, from the scrapes in server_metrics.jsonl (pure: numpy and
pandas), and its quantiles by bucket interpolation.

The window rule is analysis.server_evidence.counter_delta's: the gain from the last scrape at or before the
window's start (the first scrape inside it when there is none) to the last scrape inside it; label sets
(vLLM's engines) are summed at each scrape. The requests counted are those the server observed between
those two scrapes: `span_s`.

Quantiles interpolate linearly inside the bucket that holds them (Prometheus' histogram_quantile). They are
given only where that bucket is at most half as wide as its upper bound (then the value is off by less than
half the bucket); else None, with the bucket's bounds kept. vLLM's request-phase buckets start at 0.3 s, so
sub-second queue, prefill and decode times have a mean but no percentile.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

MAX_BUCKET_WIDTH = 0.5  # of the bucket's upper bound, for an interpolated quantile


@dataclass(frozen=True)
class HistogramScrapes:
    """One histogram family per scrape, summed over its label sets; values scaled to the run's time base."""

    name: str
    times_s: np.ndarray  # scrape times, ascending
    bounds_s: np.ndarray  # bucket upper bounds, ascending; the last is +inf
    cumulative: np.ndarray  # [scrape, bucket] cumulative counts
    sums_s: np.ndarray
    counts: np.ndarray


@dataclass(frozen=True)
class HistogramDelta:
    """What a histogram gained over a window: the requests observed between the two scrapes of `span_s`."""

    count: float
    sum_s: float
    bounds_s: np.ndarray
    cumulative: np.ndarray
    span_s: tuple[float, float]

    @property
    def mean_s(self) -> float | None:
        return self.sum_s / self.count if self.count > 0 else None

    def quantile(self, q: float) -> tuple[float | None, tuple[float, float | None]]:
        """The q-quantile by interpolation inside its bucket (None where the bucket is too wide: module doc),
        and that bucket's bounds (None for +inf)."""
        total = float(self.cumulative[-1])
        rank = q * total
        i = int(np.searchsorted(self.cumulative, rank, side="left"))
        lo = 0.0 if i == 0 else float(self.bounds_s[i - 1])
        hi = float(self.bounds_s[i])
        if math.isinf(hi):
            return None, (lo, None)
        below = 0.0 if i == 0 else float(self.cumulative[i - 1])
        inside = float(self.cumulative[i]) - below
        value = lo + (hi - lo) * (rank - below) / inside if inside > 0 else hi
        return (value if hi - lo <= MAX_BUCKET_WIDTH * hi else None), (lo, hi)


def histogram_scrapes(frame: pd.DataFrame, name: str, value_scale: float = 1.0) -> HistogramScrapes | None:
    """The family `name` (without _bucket/_sum/_count) from the server frame; None when it was never
    scraped. `value_scale` multiplies values and bounds (the simulator's wall seconds -> its profile's)."""
    buckets = frame[frame["name"] == name + "_bucket"]
    if not len(buckets):
        return None
    le = buckets["labels"].map({text: _le(text) for text in buckets["labels"].unique()})
    table = buckets.assign(le=le).pivot_table(index="t_s", columns="le", values="value", aggfunc="sum")
    sums = _per_scrape(frame, name + "_sum")
    counts = _per_scrape(frame, name + "_count")
    table = table.join(sums.rename("sum"), how="inner").join(counts.rename("count"), how="inner").dropna()
    bounds = np.array(sorted(c for c in table.columns if c not in ("sum", "count")), dtype=float)
    return HistogramScrapes(
        name=name,
        times_s=table.index.to_numpy(dtype=float),
        bounds_s=bounds * value_scale,
        cumulative=table[list(bounds)].to_numpy(dtype=float),
        sums_s=table["sum"].to_numpy(dtype=float) * value_scale,
        counts=table["count"].to_numpy(dtype=float),
    )


def _le(labels_json: str) -> float:
    return float(json.loads(labels_json).get("le", "+Inf"))


def _per_scrape(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[frame["name"] == name].groupby("t_s")["value"].sum()


def histogram_delta(scrapes: HistogramScrapes, start_s: float, end_s: float) -> HistogramDelta | None:
    """The gain over [start_s, end_s) (module doc); None without a scrape inside the window."""
    times = scrapes.times_s
    last = int(np.searchsorted(times, end_s, side="left")) - 1
    if last < 0 or times[last] <= start_s:
        return None
    base = int(np.searchsorted(times, start_s, side="right")) - 1
    if base < 0:
        base = 0  # no scrape before the window: from its first one
    return HistogramDelta(
        count=float(scrapes.counts[last] - scrapes.counts[base]),
        sum_s=float(scrapes.sums_s[last] - scrapes.sums_s[base]),
        bounds_s=scrapes.bounds_s,
        cumulative=scrapes.cumulative[last] - scrapes.cumulative[base],
        span_s=(float(times[base]), float(times[last])),
    )


def phase_figures(delta: HistogramDelta) -> dict[str, Any]:
    """Mean, p50 and p95 of one phase over a window, with the buckets the percentiles fell in."""
    p50, p50_bucket = delta.quantile(0.50)
    p95, p95_bucket = delta.quantile(0.95)
    return {
        "mean": delta.mean_s,
        "p50": p50,
        "p95": p95,
        "p50_bucket_s": list(p50_bucket),
        "p95_bucket_s": list(p95_bucket),
    }
