"""Evidence for the knee: each signal says where it points (`users`), whether it `fired`, and why (`detail`).

Signals never move knee.users (see llmload.analysis.knee); they explain it and feed its confidence.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from llmload.analysis.knee_model import KneeLevel
from llmload.analysis.knee_plateau import despike
from llmload.knee_rule import SERVER_WAITING_THRESHOLD, admission_saturated

MARGINAL_GAIN_THRESHOLD = 0.5
SERVER_KV_FULL = 0.95  # KV-cache usage (fraction) counted as full


def _not_fired(detail: str) -> dict[str, Any]:
    return {"users": None, "fired": False, "detail": detail}


def marginal_gain_signal(valid: Sequence[KneeLevel]) -> dict[str, Any]:
    """Marginal throughput per added user, relative to the average throughput per user so far.
    Fires at the last level before the ratio stays below the threshold for two consecutive steps."""
    rps = [level.rps or 0.0 for level in valid]  # valid levels: all measured
    ratios = []
    for i, (prev, cur) in enumerate(zip(valid, valid[1:], strict=False)):
        added = cur.users - prev.users
        per_user = rps[i] / prev.users if prev.users else math.nan
        gain = (rps[i + 1] - rps[i]) / added if added else math.nan
        ratios.append((cur.users, gain / per_user if per_user else math.nan))
    for i, (users, ratio) in enumerate(ratios):
        nxt = ratios[i + 1][1] if i + 1 < len(ratios) else ratio
        if ratio < MARGINAL_GAIN_THRESHOLD and nxt < MARGINAL_GAIN_THRESHOLD:
            before = valid[i].users
            return {
                "users": before,
                "threshold": MARGINAL_GAIN_THRESHOLD,
                "fired": True,
                "first_low_at": users,
                "detail": f"from {users} users on, each added user buys < {MARGINAL_GAIN_THRESHOLD:.0%} "
                "of the throughput an average user had",
            }
    return {"threshold": MARGINAL_GAIN_THRESHOLD, **_not_fired("throughput kept growing with users")}


def _extrema(d: list[float], better: Callable[[float, float], bool]) -> list[int]:
    """scipy.signal.argrelextrema(d, greater_equal / less_equal, order=1, mode="clip")."""
    n = len(d)
    return [i for i in range(n) if better(d[i], d[max(i - 1, 0)]) and better(d[i], d[min(i + 1, n - 1)])]


def kneedle(xs: Sequence[float], ys: Sequence[float], curve: str, sensitivity: float = 1.0) -> float | None:
    """Kneedle (Satopaa et al. 2011) for an increasing curve, "concave" or "convex": a line-for-line port of
    kneed 0.8's KneeLocator(S=1, interp_method="interp1d", online=False), which tests/unit checks it
    against. Ported because importing kneed pulls in scipy.signal (~5 s per process here)."""
    lo_x, lo_y = min(xs), min(ys)
    span_x, span_y = max(xs) - lo_x, max(ys) - lo_y
    if span_x <= 0 or span_y <= 0 or len(xs) < 3:
        return None
    xn = [(x - lo_x) / span_x for x in xs]
    yn = [(y - lo_y) / span_y for y in ys]
    if curve == "convex":  # to concave increasing
        yn = [max(yn) - y for y in reversed(yn)]
        xn = [1 - x for x in reversed(xn)]
    diff = [y - x for x, y in zip(xn, yn, strict=True)]
    maxima, minima = _extrema(diff, operator.ge), set(_extrema(diff, operator.le))
    if not maxima:
        return None
    step = sum(abs(b - a) for a, b in zip(xn, xn[1:], strict=False)) / (len(xn) - 1)
    thresholds = iter([diff[i] - sensitivity * step for i in maxima])
    threshold, threshold_i, active = 0.0, 0, True
    for i in range(maxima[0], len(diff) - 1):
        if i in maxima:
            threshold, threshold_i, active = next(thresholds), i, True
        if i in minima:
            threshold, active = 0.0, False
        if active and diff[i + 1] < threshold:
            return xs[threshold_i] if curve == "concave" else xs[-(threshold_i + 1)]
    return None


def kneedle_signal(valid: Sequence[KneeLevel], kind: str) -> dict[str, Any]:
    """Kneedle (kneed) on throughput vs users (concave, increasing; despiked as for the rule)
    or on p95 E2E vs users (convex, increasing: where latency starts to climb)."""
    if kind == "throughput":
        xs = [level.users for level in valid]
        ys = despike([level.rps or 0.0 for level in valid], xs)  # valid levels: all measured
        curve = "concave"
    else:
        pts = [(level.users, level.e2e_p95_s) for level in valid if level.e2e_p95_s is not None]
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        curve = "convex"
    if len(xs) < 3 or max(ys) == min(ys):
        return _not_fired(f"needs at least 3 levels with a varying {kind}")
    knee = kneedle(xs, ys, curve)
    if knee is None:
        return _not_fired(f"Kneedle found no knee in {kind} vs users")
    return {"users": int(knee), "fired": True, "detail": f"Kneedle knee of {kind} vs users ({curve})"}


def _server_reasons(row: dict[str, Any]) -> list[str]:
    reasons = []
    if (row.get("waiting_mean") or 0.0) > SERVER_WAITING_THRESHOLD:
        reasons.append(f"{row['waiting_mean']:.2g} requests waiting on average")
    if (row.get("preemptions") or 0) > 0:
        reasons.append(f"{row['preemptions']:g} preemptions")
    if (row.get("kv_usage_max") or 0.0) >= SERVER_KV_FULL:
        reasons.append(f"KV cache {row['kv_usage_max']:.0%} full")
    return reasons


def server_signal(server: list[dict[str, Any]] | None) -> dict[str, Any]:
    """vLLM's own view, per step: {users, waiting_mean, running_mean, kv_usage_max (0..1), preemptions}.
    Fires at the first level from which the server stays saturated at every higher level (a queue,
    waiting_mean > 0.5, preemptions or a full KV cache); points at the level before it (the last one the
    server ran without queueing). "Sustained" keeps a lone sample that caught a request between arrival
    and scheduling at a low level from firing it."""
    if not server:
        return _not_fired("no server metrics sampled")
    rows = sorted(server, key=lambda r: r["users"])
    first = _sustained_from([bool(_server_reasons(row)) for row in rows])
    if first is None:
        return _not_fired("no sustained queue, preemption or full KV cache up to the top level")
    row = rows[first]
    return {
        "users": rows[first - 1]["users"] if first else None,
        "fired": True,
        "first_saturated_at": row["users"],
        "running_mean": row.get("running_mean"),
        "detail": f"from {row['users']} users on: " + ", ".join(_server_reasons(row)),
    }


def last_level_before_queue(server: list[dict[str, Any]] | None) -> tuple[int, bool] | None:
    """The level just before the one from which requests wait in the server's queue (waiting_mean > 0.5)
    at every higher level, and whether the server's admitted concurrency stopped growing there
    (knee_rule.admission_saturated); None without a sustained queue or when it starts at the lowest level.
    A full KV cache or preemptions alone do not count: they show the server at capacity, not users waiting."""
    rows = sorted(server or [], key=lambda r: r["users"])
    first = _sustained_from([(row.get("waiting_mean") or 0.0) > SERVER_WAITING_THRESHOLD for row in rows])
    if not first:
        return None
    clean = rows[first - 1]
    saturated = admission_saturated(clean.get("running_mean"), [row.get("running_mean") for row in rows[first:]])
    return int(clean["users"]), saturated


def _sustained_from(flags: list[bool]) -> int | None:
    """The first index from which every flag is set (None if the last one is not)."""
    first = None
    for i in range(len(flags) - 1, -1, -1):
        if not flags[i]:
            break
        first = i
    return first


def slo_signal(slo: Mapping[str, Any] | None) -> dict[str, Any]:
    """The last level before the first one that breaks the SLO."""
    if not slo or not slo.get("per_step"):
        return _not_fired("no SLO given")
    rows = sorted(slo["per_step"], key=lambda r: r["users"])
    for i, row in enumerate(rows):
        if not row["passed"]:
            failed = [c["clause"] for c in row["clauses"] if not c["passed"]]
            return {
                "users": rows[i - 1]["users"] if i else None,
                "fired": True,
                "first_breach_at": row["users"],
                "detail": f"at {row['users']} users the SLO fails: " + ", ".join(failed),
            }
    return _not_fired("every level meets the SLO")
