"""The optimal concurrency (the knee) and the limit concurrency, with the evidence for each.

Rule (README "Knee and limit"):
  knee.users  = the smallest user level whose throughput (requests/s over its steady window) is within
                PLATEAU_TOLERANCE of the run's peak throughput: the first level at which adding users no
                longer buys throughput. Steps flagged invalid (too few samples) are skipped.
  limit.users = the largest level at or above the knee whose median E2E is at most
                LIMIT_LATENCY_FACTOR x the knee's median E2E: past it, queues build and responses degrade
                faster than users are added.
Other signals (Kneedle, marginal gain, server queue) are reported beside the rule as evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

PLATEAU_TOLERANCE = 0.03
LIMIT_LATENCY_FACTOR = 1.5
MIN_SAMPLES = 3
MARGINAL_GAIN_THRESHOLD = 0.5


@dataclass(frozen=True)
class KneeConfig:
    plateau_tolerance: float = PLATEAU_TOLERANCE
    limit_latency_factor: float = LIMIT_LATENCY_FACTOR
    min_samples: int = MIN_SAMPLES


def _valid(steps: list[dict[str, Any]], cfg: KneeConfig) -> list[dict[str, Any]]:
    out = [
        s
        for s in steps
        if s["requests_ok"] >= cfg.min_samples
        and not math.isnan(s["rps"])
        and s["e2e_s"]["p50"] is not None
        and not s.get("excluded")
    ]
    return sorted(out, key=lambda s: s["users"])


def _point(step: dict[str, Any]) -> dict[str, Any]:
    return {
        "users": step["users"],
        "rps": step["rps"],
        "output_tokens_per_s": step["output_tokens_per_s"],
        "e2e_p50_s": step["e2e_s"]["p50"],
        "e2e_p95_s": step["e2e_s"]["p95"],
        "e2e_mean_s": step["e2e_s"]["mean"],
        "ttft_p95_s": step["ttft_s"]["p95"],
    }


def find_knee(steps: list[dict[str, Any]], cfg: KneeConfig | None = None) -> dict[str, Any]:
    cfg = cfg or KneeConfig()
    valid = _valid(steps, cfg)
    if len(valid) < 2:
        return {"knee": None, "limit": None, "reason": f"need at least 2 valid steps, have {len(valid)}"}
    peak = max(valid, key=lambda s: s["rps"])
    floor = (1 - cfg.plateau_tolerance) * peak["rps"]
    knee = next(s for s in valid if s["rps"] >= floor)
    limit_e2e = cfg.limit_latency_factor * knee["e2e_s"]["p50"]
    limit = knee
    for s in valid:
        if s["users"] < knee["users"]:
            continue
        if s["e2e_s"]["p50"] > limit_e2e:
            break
        limit = s
    signals = {
        "plateau": {
            "users": knee["users"],
            "peak_users": peak["users"],
            "peak_rps": peak["rps"],
            "tolerance": cfg.plateau_tolerance,
            "fired": True,
        },
        "marginal_gain": marginal_gain_signal(valid),
        "limit_latency": {
            "factor": cfg.limit_latency_factor,
            "e2e_p50_bound_s": limit_e2e,
            "users": limit["users"],
        },
    }
    saturated = limit is not valid[-1]
    return {
        "knee": {**_point(knee), "rule": "smallest level within plateau tolerance of peak throughput"},
        "limit": {
            **_point(limit),
            "rule": f"largest level with p50 E2E <= {cfg.limit_latency_factor} x knee",
            "saturated": saturated,
        },
        "signals": signals,
    }


def marginal_gain_signal(valid: list[dict[str, Any]]) -> dict[str, Any]:
    """Marginal throughput per added user, relative to the average throughput per user so far.
    Fires at the last level before the ratio stays below the threshold for two consecutive steps."""
    ratios = []
    for prev, cur in zip(valid, valid[1:], strict=False):
        added = cur["users"] - prev["users"]
        per_user = prev["rps"] / prev["users"] if prev["users"] else math.nan
        gain = (cur["rps"] - prev["rps"]) / added if added else math.nan
        ratios.append((cur["users"], gain / per_user if per_user else math.nan))
    for i, (users, ratio) in enumerate(ratios):
        nxt = ratios[i + 1][1] if i + 1 < len(ratios) else ratio
        if ratio < MARGINAL_GAIN_THRESHOLD and nxt < MARGINAL_GAIN_THRESHOLD:
            before = valid[i]["users"]
            return {
                "users": before,
                "threshold": MARGINAL_GAIN_THRESHOLD,
                "fired": True,
                "first_low_at": users,
            }
    return {"users": None, "threshold": MARGINAL_GAIN_THRESHOLD, "fired": False}
