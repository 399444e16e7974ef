"""The optimal concurrency (the knee) and the limit concurrency, with the evidence for each.

Rule (README "Knee and limit"):
  1. Valid steps: at least MIN_SAMPLES successful requests in the steady window, a throughput, a median
     E2E, and not excluded (load generator saturated). Sorted by users.
  2. Single-step spikes and holes in throughput are removed (despike): a step more than SPIKE_TOLERANCE
     (10%) above both neighbours is lowered to the higher one, more than 10% below both is raised to the
     lower one (the last step: against its neighbour and the line through the two before it). So one
     noisy step can neither become a false peak nor punch a hole in the plateau, while a genuine sharp
     peak (KV-bound servers: throughput falls once preemption starts) within 10% of its neighbours is kept.
     A running median of 3 was tried and rejected: it clipped the KV-bound simulator's real peak (11 users,
     7% above its neighbours) and moved that knee from 11 to 10. Limit: a single step reading 3-10% high
     on the plateau can still move the knee; the bootstrap confidence (6) is where that shows.
  3. knee.users  = the smallest level whose smoothed throughput (requests/s) is within PLATEAU_TOLERANCE
                   (2%) of the largest smoothed throughput: the first level at which adding users no longer
                   buys throughput.
  3b. Server queue (when vLLM /metrics were sampled): if requests wait in the server's queue from some
     level on at every higher level (knee_signals.last_level_before_queue: waiting_mean > 0.5; a full KV
     cache or preemptions alone are evidence, not a queue, and do not move the knee) and the
     level just before that lies below the knee of 3, the knee moves down to it, provided the server
     admitted no more requests at once past it (mean running requests at every queued level within one of
     that level's: knee_rule.admission_saturated), or else its smoothed throughput is within
     SERVER_PLATEAU_TOLERANCE (10%) of the peak. Past that level extra users only wait in the server's
     queue; the throughput they still add is the queue hiding the client's turnaround and the scheduler's
     admission delay, and the server's own speed moving between steps (vLLM's CPU build, one core: TPOT at
     the same batch of 6 moved 27-33 ms between steps and throughput rose 18% past max-num-seqs), not
     capacity. Where the running count still grows past the queue's start (a per-step token budget admits
     requests a few at a time), the 10% bound applies.
  4. limit.users = the largest level at or above the knee whose median E2E is at most LIMIT_LATENCY_FACTOR
                   (1.5) x the knee's, scanning upward and stopping at the first level above that bound:
                   past it, queues build and responses degrade faster than users are added. When that
                   first level lies more than one user above the last one within the bound (a sparse or
                   `--users auto` plan), the limit is where the straight line between the two crosses the
                   bound (floor; E2E grows linearly with users once the server queues), its figures
                   interpolated too and marked `interpolated_between`.
  5. Evidence, reported beside the rule and never moving it (llmload.analysis.knee_signals): marginal
     throughput gain per added user, Kneedle on throughput vs users and on p95 E2E vs users, the server's
     own queue / KV-cache / preemption metrics when sampled, and the SLO breach when an SLO is given.
  6. Confidence (llmload.analysis.knee_confidence): how many of the fired evidence signals agree with
     knee.users within one measured level, and how often the rule gives the same knee on bootstrap
     resamples of each step's throughput. "high": >= 90% of resamples within one level of the knee and
     at least 2/3 of >= 2 fired signals agree; "low": < 60% of resamples within one level, or fewer than
     1/3 of the fired signals agree, or neither resamples nor fired signals exist; otherwise "medium".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from llmload.analysis.knee_confidence import confidence
from llmload.analysis.knee_plateau import despike, plateau_knee
from llmload.analysis.knee_signals import (
    kneedle_signal,
    last_level_before_queue,
    marginal_gain_signal,
    server_signal,
    slo_signal,
)
from llmload.knee_rule import (
    LIMIT_LATENCY_FACTOR,
    PLATEAU_TOLERANCE,
    SERVER_PLATEAU_TOLERANCE,
    interpolate_limit,
)
from llmload.validity_rule import ADVICE

MIN_SAMPLES = 3



@dataclass(frozen=True)
class KneeConfig:
    plateau_tolerance: float = PLATEAU_TOLERANCE
    limit_latency_factor: float = LIMIT_LATENCY_FACTOR
    min_samples: int = MIN_SAMPLES


def valid_steps(steps: list[dict[str, Any]], cfg: KneeConfig | None = None) -> list[dict[str, Any]]:
    cfg = cfg or KneeConfig()
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


def find_knee(
    steps: list[dict[str, Any]],
    cfg: KneeConfig | None = None,
    server: list[dict[str, Any]] | None = None,
    slo: dict[str, Any] | None = None,
    rps_draws: list[list[float]] | None = None,
) -> dict[str, Any]:
    """Knee, limit, per-signal evidence and confidence.

    server: per-step vLLM /metrics aggregates [{users, waiting_mean, running_mean, kv_usage_max,
            preemptions}] (llmload.analysis.knee_signals.server_signal); slo: the "slo" summary block
            (per_step with users and passed); rps_draws: bootstrap throughput curves, one list per draw
            with one value per step of `steps` (llmload.analysis.knee_confidence.throughput_draws).
    """
    cfg = cfg or KneeConfig()
    valid = valid_steps(steps, cfg)
    if len(valid) < 2:
        return _without_knee(steps, valid, cfg, server, slo)
    users = [s["users"] for s in valid]
    smooth = despike([s["rps"] for s in valid], users)
    plateau_i = plateau_knee([s["rps"] for s in valid], users, cfg.plateau_tolerance)
    server_evidence = server_signal(server)
    knee_i = _server_adjusted(plateau_i, users, smooth, last_level_before_queue(server))
    knee, peak_i = valid[knee_i], max(range(len(valid)), key=lambda i: smooth[i])
    limit_e2e = cfg.limit_latency_factor * knee["e2e_s"]["p50"]
    limit, over = knee, None
    for s in valid[knee_i:]:
        if s["e2e_s"]["p50"] > limit_e2e:
            over = s
            break
        limit = s
    limit_users = interpolate_limit([(s["users"], s["e2e_s"]["p50"]) for s in valid[knee_i:]], limit_e2e)
    limit_point = _point(limit) if over is None or limit_users == limit["users"] else _between(limit, over, limit_users)
    signals = {
        "plateau": {
            "users": valid[plateau_i]["users"],
            "fired": True,
            "peak_users": valid[peak_i]["users"],
            "peak_rps": smooth[peak_i],
            "tolerance": cfg.plateau_tolerance,
            "smoothed_rps": {s["users"]: v for s, v in zip(valid, smooth, strict=True)},
            "detail": f"first level within {cfg.plateau_tolerance:.0%} of the peak smoothed throughput "
            f"{smooth[peak_i]:.4g} req/s (at {valid[peak_i]['users']} users)",
        },
        "marginal_gain": marginal_gain_signal(valid),
        "kneedle_throughput": kneedle_signal(valid, "throughput"),
        "kneedle_e2e_p95": kneedle_signal(valid, "e2e_p95"),
        "server": server_evidence,
        "slo": slo_signal(slo),
        "limit_latency": {
            "users": limit["users"],
            "fired": limit is not valid[-1],
            "factor": cfg.limit_latency_factor,
            "e2e_p50_bound_s": limit_e2e,
            "detail": f"last level with p50 E2E <= {cfg.limit_latency_factor} x {knee['e2e_s']['p50']:.4g} s"
            + (f" (between measured {limit['users']} and {over['users']} users, interpolated)" if over else ""),
        },
    }
    draws = _valid_draws(steps, valid, rps_draws)
    return {
        "knee": {**_point(knee), "rule": _knee_rule(knee_i != plateau_i)},
        "limit": {
            **limit_point,
            "rule": f"largest level with p50 E2E <= {cfg.limit_latency_factor} x knee",
            "saturated": limit is not valid[-1],
        },
        "signals": signals,
        "confidence": confidence(valid, knee_i, signals, draws, cfg.plateau_tolerance),
    }


def _without_knee(
    steps: list[dict[str, Any]], valid: list[dict[str, Any]], cfg: KneeConfig,
    server: list[dict[str, Any]] | None, slo: dict[str, Any] | None,
) -> dict[str, Any]:
    """Fewer than 2 valid steps. Where steps were excluded for the generator's timing error, the reason says
    why and what to change, and `provisional` holds the rule's answer over the excluded steps too (never
    used by gates: their numbers may be off by more than the bounds of analysis.validity)."""
    reason = f"need at least 2 valid steps, have {len(valid)}"
    excluded = [s for s in steps if s.get("excluded")]
    if not excluded:
        return {"knee": None, "limit": None, "reason": reason}
    causes = sorted({str((s["validity"]["generator"] or {}).get("cause")) for s in excluded if s.get("validity")})
    advice = "; ".join(ADVICE[c] for c in causes if c in ADVICE)
    reason += f": {len(excluded)} of {len(steps)} steps excluded ({', '.join(causes)}): {advice}"
    result: dict[str, Any] = {"knee": None, "limit": None, "reason": reason}
    trial = find_knee([{**s, "excluded": False} for s in steps], cfg, server, slo)
    if trial.get("knee") is not None:
        result["provisional"] = {
            "knee": trial["knee"],
            "limit": trial["limit"],
            "caveat": f"from {len(excluded)} excluded steps whose generator timing error was over its bounds",
        }
    return result


def _between(low: dict[str, Any], high: dict[str, Any], users: int) -> dict[str, Any]:
    """The limit between two measured levels more than one user apart (rule step 4): each figure linearly
    interpolated at `users`, marked with the two levels it came from."""
    a, b = _point(low), _point(high)
    f = (users - a["users"]) / (b["users"] - a["users"])
    point = {k: a[k] + f * (b[k] - a[k]) if a[k] is not None and b[k] is not None else None for k in a}
    return {**point, "users": users, "interpolated_between": [a["users"], b["users"]]}


def _server_adjusted(
    plateau_i: int, users: list[int], smooth: list[float], queue: tuple[int, bool] | None
) -> int:
    """Rule step 3b: the last level before a sustained server queue, when it lies below the plateau knee and
    the server admitted no more requests past it, or it still gives near-peak throughput."""
    if queue is None or queue[0] >= users[plateau_i]:
        return plateau_i
    clean, admission_full = queue
    below = [i for i, u in enumerate(users) if u <= clean]
    if not below or (not admission_full and smooth[below[-1]] < (1 - SERVER_PLATEAU_TOLERANCE) * max(smooth)):
        return plateau_i
    return below[-1]


def _knee_rule(moved_by_server: bool) -> str:
    if moved_by_server:
        return "last level before the server's sustained queue (admission full, or throughput within 10% of peak)"
    return "smallest level within plateau tolerance of peak throughput"


def _valid_draws(
    steps: list[dict[str, Any]], valid: list[dict[str, Any]], rps_draws: list[list[float]] | None
) -> list[list[float]] | None:
    """Bootstrap curves restricted to the valid steps, in users order."""
    if not rps_draws:
        return None
    position = {id(s): i for i, s in enumerate(steps)}
    columns = [position[id(s)] for s in valid]
    return [[draw[c] for c in columns] for draw in rps_draws]
