"""Bootstrap confidence intervals for percentiles (numpy, vectorised, seeded: reports are reproducible)."""

from __future__ import annotations

import numpy as np

BOOTSTRAP_SAMPLES = 1000
MAX_BOOTSTRAP_N = 5000  # larger steps are subsampled: the interval is then already narrow
CI_PERCENTILES = (50, 95, 99)


def bootstrap_percentile_ci(
    values: np.ndarray,
    percentiles: tuple[int, ...] = CI_PERCENTILES,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
) -> dict[str, list[float] | None]:
    """95% percentile-bootstrap interval of each percentile: {"p50": [low, high], ...}."""
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    if arr.size < 2:
        return {f"p{p}": None for p in percentiles}
    rng = np.random.default_rng(seed)
    n = min(arr.size, MAX_BOOTSTRAP_N)
    draws = arr[rng.integers(0, arr.size, size=(samples, n))]
    stats = np.percentile(draws, percentiles, axis=1)  # shape (len(percentiles), samples)
    low, high = np.percentile(stats, [2.5, 97.5], axis=1)
    return {f"p{p}": [float(lo), float(hi)] for p, lo, hi in zip(percentiles, low, high, strict=True)}


def intervals_overlap(a: list[float] | None, b: list[float] | None) -> bool | None:
    """Two steps are 'not really different' in a percentile when their intervals overlap."""
    if a is None or b is None:
        return None
    return a[0] <= b[1] and b[0] <= a[1]
