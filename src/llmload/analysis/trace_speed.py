"""The largest speed-up of a trace that meets the SLO (pure: analysis.trace_capacity for summary.json,
llmload.capacity.trace_plan for `llmload plan --target-speed`): the largest speed at which it and every slower
step pass, and where the first failing clause crosses its bound on the straight line between the last passing
step and the first failing one (None where the clause's values do not straddle it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Evidence = Mapping[str, Any]


def max_speed(rows: Sequence[Mapping[str, Any]], slo: Evidence | None) -> dict[str, Any]:
    """max_speed_passing and max_speed_estimate (module doc); both None without an SLO."""
    if slo is None:
        return {"max_speed_passing": None, "max_speed_estimate": None, "binding_clause": None}
    ordered = sorted(rows, key=lambda r: r["speed"])
    passing: Mapping[str, Any] | None = None
    for row in ordered:
        if not row["slo_passed"]:
            failing = row
            break
        passing = row
    else:
        return {"max_speed_passing": passing["speed"] if passing else None, "max_speed_estimate": None,
                "binding_clause": None}  # fmt: skip
    if passing is None:
        return {"max_speed_passing": None, "max_speed_estimate": None, "binding_clause": None}
    bounds = {c["clause"]: c for c in slo.get("clauses") or []}
    crossings = [
        (_crossing(passing, failing, c, bounds.get(c["clause"])), c["clause"])
        for c in failing["slo_clauses"]
        if not c["passed"]
    ]
    found = [(speed, clause) for speed, clause in crossings if speed is not None]
    speed, clause = min(found) if found else (None, None)
    return {"max_speed_passing": passing["speed"], "max_speed_estimate": speed, "binding_clause": clause}


def _crossing(
    passing: Mapping[str, Any], failing: Mapping[str, Any], judged: Mapping[str, Any], bound: Any
) -> float | None:
    """The speed where the clause's value reaches its threshold, on the line between the two steps."""
    before = next((c["value"] for c in passing["slo_clauses"] if c["clause"] == judged["clause"]), None)
    after = judged["value"]
    if bound is None or before is None or after is None or after == before:
        return None
    share = (float(bound["threshold"]) - before) / (after - before)
    if not 0 <= share <= 1:
        return None
    return float(passing["speed"] + share * (failing["speed"] - passing["speed"]))
