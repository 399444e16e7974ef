"""How sure the knee is: agreement of the evidence signals and bootstrap stability (rule: analysis.knee)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmload.analysis.knee_plateau import plateau_knee

AGREEING_SIGNALS = ("marginal_gain", "kneedle_throughput", "kneedle_e2e_p95", "server")
HIGH_STABILITY, LOW_STABILITY = 0.9, 0.6
HIGH_AGREEMENT, LOW_AGREEMENT = 2 / 3, 1 / 3


def _level_distance(levels: list[int], a: int, b: int) -> int:
    """How many measured levels apart two user counts are (a count between levels snaps to the nearest)."""

    def index(users: int) -> int:
        return min(range(len(levels)), key=lambda i: abs(levels[i] - users))

    return abs(index(a) - index(b))


def agreement(levels: list[int], knee_users: int, signals: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    fired = {k: signals[k]["users"] for k in AGREEING_SIGNALS if signals[k]["fired"] and signals[k]["users"]}
    agree = sorted(k for k, u in fired.items() if _level_distance(levels, u, knee_users) <= 1)
    return {
        "fired": sorted(fired),
        "agree": agree,
        "share": len(agree) / len(fired) if fired else None,
    }


def stability(levels: list[int], knee_i: int, draws: list[list[float]] | None, tolerance: float) -> dict[str, Any]:
    """Re-run the plateau rule on every bootstrap throughput curve."""
    if not draws:
        return {"samples": 0, "share_same": None, "share_within_one_level": None, "users_ci95": None}
    knees = sorted(plateau_knee(d, levels, tolerance) for d in draws)
    n = len(knees)
    lo, hi = knees[int(0.025 * (n - 1))], knees[int(round(0.975 * (n - 1)))]
    return {
        "samples": n,
        "share_same": sum(k == knee_i for k in knees) / n,
        "share_within_one_level": sum(abs(k - knee_i) <= 1 for k in knees) / n,
        "users_ci95": [levels[lo], levels[hi]],
    }


def confidence(
    levels: list[int],
    knee_i: int,
    signals: Mapping[str, Mapping[str, Any]],
    draws: list[list[float]] | None,
    tolerance: float,
) -> dict[str, Any]:
    """levels: the valid levels' users, sorted; knee_i: the knee's position among them."""
    agree = agreement(levels, levels[knee_i], signals)
    stable = stability(levels, knee_i, draws, tolerance)
    within, share = stable["share_within_one_level"], agree["share"]
    unstable = within is not None and within < LOW_STABILITY
    disputed = share is not None and share < LOW_AGREEMENT
    if unstable or disputed or (share is None and within is None):
        level = "low"
    elif (within is None or within >= HIGH_STABILITY) and len(agree["fired"]) >= 2 and (share or 0) >= HIGH_AGREEMENT:
        level = "high"
    else:
        level = "medium"
    return {"level": level, "agreement": agree, "bootstrap": stable}
