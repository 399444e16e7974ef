"""Bootstrap confidence intervals for percentiles (numpy, vectorised, seeded: reports are reproducible).

A percentile of a resample depends only on two order statistics of the resample. Drawing n indices
uniformly from the N sorted values and taking the k-th smallest is the same as taking index
floor(N * U_(k)), where U_(k) is the k-th smallest of n uniforms: U_(k) ~ Beta(k, n - k + 1), and the
next one is U_(k) + (1 - U_(k)) * Beta(1, n - k). So each resample's percentile is drawn exactly (same
distribution as resampling n values and sorting them) in O(1) instead of O(n): 80 intervals of a
million-record run cost milliseconds instead of seconds.
"""

from __future__ import annotations

import numpy as np

BOOTSTRAP_SAMPLES = 1000
MAX_BOOTSTRAP_N = 5000  # resample size cap: larger steps get a (conservatively) wider interval, already narrow
CI_PERCENTILES = (50, 95, 99)


def bootstrap_percentile_ci(
    values: np.ndarray,
    percentiles: tuple[int, ...] = CI_PERCENTILES,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
) -> dict[str, list[float] | None]:
    """95% percentile-bootstrap interval of each percentile: {"p50": [low, high], ...}.

    Resamples of min(N, MAX_BOOTSTRAP_N) values with replacement; numpy's linear percentile of each."""
    arr = np.asarray(values, dtype=float)
    arr = np.sort(arr[~np.isnan(arr)])
    if arr.size < 2:
        return {f"p{p}": None for p in percentiles}
    rng = np.random.default_rng(seed)
    n = min(arr.size, MAX_BOOTSTRAP_N)
    out: dict[str, list[float] | None] = {}
    for p in percentiles:
        stats = resampled_percentile(arr, n, p, samples, rng)
        low, high = np.percentile(stats, [2.5, 97.5])
        out[f"p{p}"] = [float(low), float(high)]
    return out


def resampled_percentile(
    sorted_values: np.ndarray, n: int, percentile: float, samples: int, rng: np.random.Generator
) -> np.ndarray:
    """`samples` draws of the linear-interpolated `percentile` of n values resampled from sorted_values."""
    position = (n - 1) * percentile / 100.0
    lo = int(np.floor(position))
    frac = position - lo
    k = lo + 1  # 1-based rank of the lower order statistic
    u_lo = rng.beta(k, n - k + 1, size=samples)
    u_hi = u_lo + (1.0 - u_lo) * rng.beta(1, n - k, size=samples) if k < n else u_lo
    size = sorted_values.size
    low = sorted_values[np.minimum((u_lo * size).astype(np.int64), size - 1)]
    high = sorted_values[np.minimum((u_hi * size).astype(np.int64), size - 1)]
    result: np.ndarray = low + frac * (high - low)
    return result


def intervals_overlap(a: list[float] | None, b: list[float] | None) -> bool | None:
    """Two steps are 'not really different' in a percentile when their intervals overlap."""
    if a is None or b is None:
        return None
    return a[0] <= b[1] and b[0] <= a[1]
