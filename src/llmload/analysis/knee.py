"""The optimal concurrency (the knee) and the limit concurrency, with the evidence for each.

Rule (docs/knee.md):
  1. Valid steps: at least MIN_SAMPLES successful requests in the steady window, a throughput, a median
     E2E, and not excluded (load generator saturated). Sorted by users.
  2. Single-step spikes and holes in throughput are removed (despike): a step more than SPIKE_TOLERANCE
     (10%) above both neighbours is lowered to the higher one, more than 10% below both is raised to the
     lower one (the last step: against its neighbour and the line through the two before it). So one
     noisy step can neither become a false peak nor punch a hole in the plateau, while a genuine sharp
     peak (KV-bound servers: throughput falls once preemption starts) within 10% of its neighbours is kept
     (a running median of 3 would clip it: the KV-bound simulator's real peak at 11 users, 7% above its
     neighbours, would move that knee to 10). Limit: a single step reading 3-10% high on the plateau can
     still move the knee; the bootstrap confidence (6) is where that shows.
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
  5. Evidence, reported beside the rule and never moving it (analysis.knee_signals): marginal
     throughput gain per added user, Kneedle on throughput vs users and on p95 E2E vs users, the server's
     own queue / KV-cache / preemption metrics when sampled, and the SLO breach when an SLO is given.
  6. Confidence (analysis.knee_confidence): how many of the fired evidence signals agree with
     knee.users within one measured level, and how often the rule gives the same knee on bootstrap
     resamples of each step's throughput. "high": >= 90% of resamples within one level of the knee and
     at least 2/3 of >= 2 fired signals agree; "low": < 60% of resamples within one level, or fewer than
     1/3 of the fired signals agree, or neither resamples nor fired signals exist; otherwise "medium".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from llmload.analysis.knee_confidence import confidence
from llmload.analysis.knee_model import (
    KneeLevel,
    KneePoint,
    KneeResult,
    LevelFigures,
    ProvisionalKnee,
    level_of_step_dict,
)
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


def valid_steps(levels: Sequence[KneeLevel], cfg: KneeConfig | None = None) -> list[KneeLevel]:
    """Rule step 1: the levels the rule reads, sorted by users."""
    cfg = cfg or KneeConfig()
    return sorted((level for level in levels if _valid(level, cfg)), key=lambda level: level.users)


def _valid(level: KneeLevel, cfg: KneeConfig) -> bool:
    return (
        level.requests_ok >= cfg.min_samples
        and level.rps is not None
        and level.e2e_p50_s is not None
        and not level.excluded
    )


def _rps(level: KneeLevel) -> float:
    assert level.rps is not None  # a valid level's
    return level.rps


def _e2e_p50_s(level: KneeLevel) -> float:
    assert level.e2e_p50_s is not None  # a valid level's
    return level.e2e_p50_s


def find_knee(
    levels: Sequence[KneeLevel],
    cfg: KneeConfig | None = None,
    server: list[dict[str, Any]] | None = None,
    slo: Mapping[str, Any] | None = None,
    rps_draws: list[list[float]] | None = None,
) -> KneeResult:
    """Knee, limit, per-signal evidence and confidence.

    server: per-step vLLM /metrics aggregates [{users, waiting_mean, running_mean, kv_usage_max,
            preemptions}] (analysis.knee_signals.server_signal); slo: the "slo" summary block
            (per_step with users and passed); rps_draws: bootstrap throughput curves, one list per draw
            with one value per level of `levels` (analysis.throughput_bootstrap.throughput_draws).
    """
    cfg = cfg or KneeConfig()
    order = sorted((i for i, level in enumerate(levels) if _valid(level, cfg)), key=lambda i: levels[i].users)
    valid = [levels[i] for i in order]
    if len(valid) < 2:
        return _without_knee(levels, valid, cfg, server, slo)
    users, rps = [level.users for level in valid], [_rps(level) for level in valid]
    smooth = despike(rps, users)
    plateau_i = plateau_knee(rps, users, cfg.plateau_tolerance)
    knee_i = _server_adjusted(plateau_i, users, smooth, last_level_before_queue(server))
    limit_e2e = cfg.limit_latency_factor * _e2e_p50_s(valid[knee_i])
    limit, over = _limit(valid[knee_i:], limit_e2e)
    signals = {
        "plateau": _plateau_signal(valid, plateau_i, smooth, cfg),
        "marginal_gain": marginal_gain_signal(valid),
        "kneedle_throughput": kneedle_signal(valid, "throughput"),
        "kneedle_e2e_p95": kneedle_signal(valid, "e2e_p95"),
        "server": server_signal(server),
        "slo": slo_signal(slo),
        "limit_latency": _limit_signal(valid[knee_i], limit, over, limit is not valid[-1], limit_e2e, cfg),
    }
    limit_users = interpolate_limit([(level.users, _e2e_p50_s(level)) for level in valid[knee_i:]], limit_e2e)
    limit_point = _point(limit) if over is None or limit_users == limit.users else _between(limit, over, limit_users)
    draws = [[draw[i] for i in order] for draw in rps_draws] if rps_draws else None
    return KneeResult(
        knee=replace(_point(valid[knee_i]), rule=_knee_rule(knee_i != plateau_i)),
        limit=replace(
            limit_point,
            rule=f"largest level with p50 E2E <= {cfg.limit_latency_factor} x knee",
            saturated=limit is not valid[-1],
        ),
        signals=signals,
        confidence=confidence(users, knee_i, signals, draws, cfg.plateau_tolerance),
    )


def _limit(from_knee: list[KneeLevel], bound_s: float) -> tuple[KneeLevel, KneeLevel | None]:
    """Rule step 4: the last level from the knee up within the latency bound, and the first one over it."""
    limit = from_knee[0]
    for level in from_knee:
        if _e2e_p50_s(level) > bound_s:
            return limit, level
        limit = level
    return limit, None


def _plateau_signal(valid: list[KneeLevel], plateau_i: int, smooth: list[float], cfg: KneeConfig) -> dict[str, Any]:
    peak_i = max(range(len(valid)), key=lambda i: smooth[i])
    return {
        "users": valid[plateau_i].users,
        "fired": True,
        "peak_users": valid[peak_i].users,
        "peak_rps": smooth[peak_i],
        "tolerance": cfg.plateau_tolerance,
        "smoothed_rps": {level.users: value for level, value in zip(valid, smooth, strict=True)},
        "detail": f"first level within {cfg.plateau_tolerance:.0%} of the peak smoothed throughput "
        f"{smooth[peak_i]:.4g} req/s (at {valid[peak_i].users} users)",
    }


def _limit_signal(
    knee: KneeLevel, limit: KneeLevel, over: KneeLevel | None, fired: bool, bound_s: float, cfg: KneeConfig
) -> dict[str, Any]:
    return {
        "users": limit.users,
        "fired": fired,
        "factor": cfg.limit_latency_factor,
        "e2e_p50_bound_s": bound_s,
        "detail": f"last level with p50 E2E <= {cfg.limit_latency_factor} x {_e2e_p50_s(knee):.4g} s"
        + (f" (between measured {limit.users} and {over.users} users, interpolated)" if over else ""),
    }


def _without_knee(
    levels: Sequence[KneeLevel], valid: list[KneeLevel], cfg: KneeConfig,
    server: list[dict[str, Any]] | None, slo: Mapping[str, Any] | None,
) -> KneeResult:
    """Fewer than 2 valid steps. Where steps were excluded for the generator's timing error, the reason says
    why and what to change, and `provisional` holds the rule's answer over the excluded steps too (never
    used by gates: their numbers may be off by more than the bounds of analysis.validity)."""
    reason = f"need at least 2 valid steps, have {len(valid)}"
    excluded = [level for level in levels if level.excluded]
    if not excluded:
        return KneeResult(None, None, reason)
    causes = sorted({str(level.cause) for level in excluded if level.cause is not None})
    advice = "; ".join(ADVICE[c] for c in causes if c in ADVICE)
    reason += f": {len(excluded)} of {len(levels)} steps excluded ({', '.join(causes)}): {advice}"
    trial = find_knee([replace(level, excluded=False) for level in levels], cfg, server, slo)
    if trial.knee is None:
        return KneeResult(None, None, reason)
    caveat = f"from {len(excluded)} excluded steps whose generator timing error was over its bounds"
    return KneeResult(None, None, reason, provisional=ProvisionalKnee(trial.knee, trial.limit, caveat))


def _point(level: KneeLevel) -> KneePoint:
    return KneePoint(**{f.name: getattr(level, f.name) for f in fields(LevelFigures)})


def _between(low: KneeLevel, high: KneeLevel, users: int) -> KneePoint:
    """The limit between two measured levels more than one user apart (rule step 4): each figure linearly
    interpolated at `users`, marked with the two levels it came from."""
    f = (users - low.users) / (high.users - low.users)

    def at(a: float | None, b: float | None) -> float | None:
        return a + f * (b - a) if a is not None and b is not None else None

    return KneePoint(
        users, at(low.rps, high.rps), at(low.output_tokens_per_s, high.output_tokens_per_s),
        at(low.e2e_p50_s, high.e2e_p50_s), at(low.e2e_p95_s, high.e2e_p95_s), at(low.e2e_mean_s, high.e2e_mean_s),
        at(low.ttft_p95_s, high.ttft_p95_s), interpolated_between=(low.users, high.users),
    )


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


def knee_of_step_dicts(steps: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The rule over steps shaped as summary.json's (the web UI's live view, load.live): its knee, limit
    (plain dicts or None) and reason."""
    result = find_knee([level_of_step_dict(step) for step in steps])
    return {
        "knee": None if result.knee is None else asdict(result.knee),
        "limit": None if result.limit is None else asdict(result.limit),
        "reason": result.reason,
    }
