"""The plateau rule on a users-sorted throughput curve (llmload.analysis.knee, rule steps 2-3): single-step
spikes and holes removed, then the first level within the plateau tolerance of the peak. Shared by the knee,
its Kneedle evidence and its bootstrap stability."""

from __future__ import annotations

from collections.abc import Sequence

from llmload.knee_rule import PLATEAU_TOLERANCE, SPIKE_TOLERANCE


def despike(values: Sequence[float], users: Sequence[float] | None = None,
            tolerance: float = SPIKE_TOLERANCE) -> list[float]:
    """Remove single-step spikes and holes (rule step 2); everything else is left as measured.

    An inner point more than `tolerance` above both neighbours is lowered to the higher neighbour; one more
    than `tolerance` below both is raised to the lower neighbour. The last point is lowered to the larger of
    its neighbour and the straight line through the two before it (in users) when it exceeds that by more
    than `tolerance`. Holes are filled first (from the measured values), then spikes are judged against
    the filled curve; neither pass feeds on its own corrections, so one correction never cascades.
    """
    raw, n = list(values), len(values)
    xs = list(users) if users is not None else list(range(n))
    v = list(raw)
    for i in range(1, n - 1):  # holes first: a hole would make its neighbours look like spikes
        if raw[i] < min(raw[i - 1], raw[i + 1]) * (1 - tolerance):
            v[i] = min(raw[i - 1], raw[i + 1])
    out = list(v)
    for i in range(1, n - 1):
        hi = max(v[i - 1], v[i + 1])
        if v[i] > hi * (1 + tolerance):
            out[i] = hi
    if n >= 3 and xs[-2] != xs[-3]:
        line = v[-2] + (v[-2] - v[-3]) * (xs[-1] - xs[-2]) / (xs[-2] - xs[-3])
        ref = max(v[-2], line)
        if v[-1] > ref * (1 + tolerance):
            out[-1] = ref
    return out


def plateau_knee(rps: Sequence[float], users: Sequence[float] | None = None,
                 tolerance: float = PLATEAU_TOLERANCE) -> int:
    """Index of the knee in a users-sorted throughput curve (rule steps 2-3)."""
    smooth = despike(rps, users)
    floor = (1 - tolerance) * max(smooth)
    return next(i for i, value in enumerate(smooth) if value >= floor)
