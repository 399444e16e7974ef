"""Which request name saturates first. The knee and the limit are the totals' (analysis.knee); where a run
carries several names, each name gets its own limit by the same rule over its own median E2E: the largest
level at or above the knee whose p50 E2E is at most LIMIT_LATENCY_FACTOR x the name's own at the knee (moved
up between two measured levels more than one user apart, as the totals' limit: knee_rule.interpolate_limit).
The name whose median passes its bound at the lowest level saturates first (a tie: the one furthest over
it). Each name's share of the throughput at the knee and at the top level shows whose traffic gave way.

A name is read at a level where it has at least MIN_SAMPLES steady successes; levels are the knee's valid
steps. Pure: reads the steps' `by_name` (analysis.name_stats) and the knee.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmload.analysis.knee import MIN_SAMPLES, valid_steps
from llmload.analysis.knee_model import KneeResult
from llmload.analysis.model import Evidence, StepStats
from llmload.knee_rule import LIMIT_LATENCY_FACTOR, interpolate_limit

RULE = (
    f"per name, the largest level at or above the knee whose p50 E2E is at most {LIMIT_LATENCY_FACTOR} x the "
    "name's own at the knee; the name that passes its bound at the lowest level saturates first"
)


def saturation_by_name(steps: Sequence[StepStats], knee: KneeResult) -> Evidence | None:
    """The summary's `saturation_by_name` block; None for a run of one name."""
    names = sorted({name for step in steps for name in step.by_name or {}})
    if not names:
        return None
    valid = _valid(steps)
    at_knee = [step for step in valid if knee.knee is not None and step.users == knee.knee.users]
    if not at_knee:
        return {"rule": RULE, "knee_users": None, "saturates_first": None, "detail": "no knee: nothing to read per name",
                "per_name": {}}  # fmt: skip
    from_knee = valid[valid.index(at_knee[0]) :]
    per_name = {name: _name_limit(name, from_knee) for name in names}
    first = _first(per_name)
    return {
        "rule": RULE,
        "knee_users": at_knee[0].users,
        "saturates_first": first,
        "detail": _detail(first, per_name, from_knee[-1].users),
        "per_name": per_name,
    }


def _valid(steps: Sequence[StepStats]) -> list[StepStats]:
    """The knee rule's valid steps, sorted by users (one per level: the one with the most samples)."""
    levels = {level.users for level in valid_steps([step.knee_level() for step in steps])}
    best: dict[int, StepStats] = {}
    for step in steps:
        if step.users in levels and step.requests_ok > (best[step.users].requests_ok if step.users in best else -1):
            best[step.users] = step
    return [best[users] for users in sorted(best)]


def _e2e_p50_s(step: StepStats, name: str) -> float | None:
    """The name's median E2E at a step where it has enough samples for one."""
    stats = (step.by_name or {}).get(name)
    return stats.e2e_s.p50 if stats is not None and stats.requests_ok >= MIN_SAMPLES else None


def _name_limit(name: str, from_knee: list[StepStats]) -> dict[str, Any]:
    """The name's limit from the knee up, where it passed its bound, and its share of the throughput."""
    knee, top = from_knee[0], from_knee[-1]
    out: dict[str, Any] = {"e2e_p50_at_knee_s": _e2e_p50_s(knee, name), "e2e_p50_bound_s": None,
                           "limit_users": None, "crossed_at_users": None, "over_bound": None}  # fmt: skip
    if out["e2e_p50_at_knee_s"] is not None:
        points = [(step.users, e2e_s) for step in from_knee if (e2e_s := _e2e_p50_s(step, name)) is not None]
        bound_s = LIMIT_LATENCY_FACTOR * out["e2e_p50_at_knee_s"]
        crossed = next(((users, e2e_s) for users, e2e_s in points if e2e_s > bound_s), None)
        out.update(
            e2e_p50_bound_s=bound_s,
            limit_users=interpolate_limit(points, bound_s),
            crossed_at_users=crossed[0] if crossed else None,
            over_bound=crossed[1] / bound_s if crossed else None,
        )
    return out | {"rps_share_at_knee": _share(knee, name), "rps_share_at_top": _share(top, name)}


def _share(step: StepStats, name: str) -> float | None:
    """The name's part of the step's throughput (work in the window)."""
    stats = (step.by_name or {}).get(name)
    if stats is None or stats.rps is None or not step.rps:
        return None
    return stats.rps / step.rps


def _first(per_name: dict[str, dict[str, Any]]) -> str | None:
    crossed = [(row["limit_users"], -row["over_bound"], name) for name, row in per_name.items() if row["crossed_at_users"]]
    return min(crossed)[2] if crossed else None


def _detail(first: str | None, per_name: dict[str, dict[str, Any]], top_users: int) -> str:
    factor = LIMIT_LATENCY_FACTOR
    if first is None:
        return f"none: no name's p50 E2E passed {factor} x its own at the knee up to {top_users} users"
    row = per_name[first]
    others = [
        f"{name} passed its own at {r['crossed_at_users']} users" if r["crossed_at_users"]
        else f"{name} stayed within {factor} x its own up to {top_users} users"
        for name, r in per_name.items()
        if name != first
    ]  # fmt: skip
    return (
        f"{first}: its p50 E2E passed {factor} x its own at the knee ({row['e2e_p50_at_knee_s']:.3g} s) at "
        f"{row['crossed_at_users']} users (its limit: {row['limit_users']} users); " + "; ".join(others)
    )
