"""`--step-duration auto`: when a step has measured enough (sequential stopping; pure, numpy). One definition
for the run (load.recorder asks it every shape tick) and the report (analysis.step_windows takes the same
warm-up, analysis.stats the same interval).

Warm-up: a step is steady once every request in flight at its start has ended and every user it added has
joined (each at a random moment of its first `join_spread_s`): from then on every request in flight was sent
at this level, by all its users (inflight_warmup_end_s). Its steady samples are then the successes sent
after the warm-up that have ended, the report's steady window (llmload.steady).

Stop: at least `min_samples` steady samples, and both 95% intervals within +-`tolerance` of their estimate:
  throughput  closed loop, X = N / mean hold (the interactive response-time law, as the knee's bootstrap in
              analysis.throughput_bootstrap): the Student-t interval of the mean hold (send to end);
  p95 E2E     the report's bootstrap interval (analysis.stats, seeded with the step index: the report's
              `ci95` of the same samples is the same interval).
Bounded by `max_step_s` (wall seconds, as --step-duration): a step that reaches it ends there and says so
(`reason` MAX_DURATION), its numbers marked less certain.

The adaptive plan (load.adaptive) sets two things per step: a tighter throughput tolerance for levels near
the knee (`rps_tolerance`: the knee rule ranks levels 2% apart, so their throughput must be known to about 1%),
and `past_knee` for a level past it, where answers wait in the server's queue or are preempted and the p95 keeps
growing for many answers: such a step also ends once its throughput and its median E2E (what the limit reads)
are within the tolerance (`reason` PAST_KNEE), its p95 marked less certain.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import stdtrit

from llmload.analysis.stats import bootstrap_percentile_ci

INFLIGHT = "inflight"  # the warm-up of auto steps, as --warmup's value inside llmload (inflight_warmup_end_s)
CONVERGED = "converged"  # both intervals within the tolerance, with enough samples
MAX_DURATION = "max duration"  # the bound: numbers less certain
PAST_KNEE = "past knee"  # throughput and median E2E within the tolerance, the p95 not: less certain
DEFAULT_MIN_SAMPLES = 30
DEFAULT_TOLERANCE = 0.05
DEFAULT_MAX_STEP_S = 900.0
WARMUP_FALLBACK_FACTOR = 2.0  # a straddling request never seen: warm-up over after 2x the longest request


def inflight_warmup_end_s(
    start_s: float, send_s: npt.ArrayLike, end_s: npt.ArrayLike, join_spread_s: float | None = None
) -> float:
    """When the last request sent before `start_s` and still running at it ended (`start_s` if none), and
    the users the step added had all joined (`join_spread_s` after the start)."""
    send, end = np.asarray(send_s, dtype=float), np.asarray(end_s, dtype=float)
    straddling = end[(send < start_s) & (end >= start_s)]
    joined_s = start_s + (join_spread_s or 0.0)
    return float(max(joined_s, straddling.max())) if straddling.size else joined_s


@dataclass(frozen=True)
class StopRule:
    min_samples: int = DEFAULT_MIN_SAMPLES
    tolerance: float = DEFAULT_TOLERANCE  # relative: 0.05 is +-5%
    max_step_s: float = DEFAULT_MAX_STEP_S  # wall seconds
    rps_tolerance: float | None = None  # the throughput's own when tighter (None: `tolerance`)
    past_knee: bool = False  # the median E2E may stand in for the p95 (module doc)

    @property
    def throughput_tolerance(self) -> float:
        return self.tolerance if self.rps_tolerance is None else min(self.tolerance, self.rps_tolerance)


@dataclass(frozen=True)
class Precision:
    """A step's steady samples and how well they pin its throughput and p95 E2E (relative 95% half-widths:
    the interval's farther end from the estimate, over the estimate; None with fewer than 2 samples)."""

    samples: int
    rps_ci_rel: float | None
    e2e_p95_s: float | None
    e2e_p95_ci_rel: float | None
    e2e_p50_ci_rel: float | None = None

    def within(self, rule: StopRule, latency_ci_rel: float | None = None) -> bool:
        """Enough samples, the throughput within its tolerance and the p95 (or `latency_ci_rel`) within the rule's."""
        latency = self.e2e_p95_ci_rel if latency_ci_rel is None else latency_ci_rel
        return (
            self.samples >= rule.min_samples
            and _le(self.rps_ci_rel, rule.throughput_tolerance)
            and _le(latency, rule.tolerance)
        )

    def median_within(self, rule: StopRule) -> bool:
        """As `within`, with the median E2E's interval in place of the p95's (a step past the knee)."""
        return self.e2e_p50_ci_rel is not None and self.within(rule, self.e2e_p50_ci_rel)


def _le(width: float | None, tolerance: float) -> bool:
    return width is not None and width <= tolerance


def precision(hold_s: npt.ArrayLike, e2e_s: npt.ArrayLike, seed: int) -> Precision:
    """hold_s: each steady sample's send-to-end time; e2e_s: its E2E (same samples; any time base)."""
    holds = np.asarray(hold_s, dtype=float)
    e2e = np.asarray(e2e_s, dtype=float)
    e2e = e2e[~np.isnan(e2e)]
    n = int(holds.size)
    if n < 2 or e2e.size < 2:
        return Precision(n, None, float(np.percentile(e2e, 95)) if e2e.size else None, None)
    mean = float(holds.mean())
    half = float(stdtrit(n - 1, 0.975)) * float(holds.std(ddof=1)) / math.sqrt(n)
    intervals = bootstrap_percentile_ci(e2e, seed=seed)  # all of the report's: the same random draws
    p95 = float(np.percentile(e2e, 95))
    p50_rel = _relative(float(np.percentile(e2e, 50)), intervals["p50"])
    return Precision(n, half / mean if mean > 0 else None, p95, _relative(p95, intervals["p95"]), p50_rel)


def _relative(value: float, interval: list[float] | None) -> float | None:
    """The interval's farther end from the value, over the value."""
    return None if interval is None or value <= 0 else max(value - interval[0], interval[1] - value) / value


@dataclass(frozen=True)
class StopDecision:
    """Why an auto step ended, with the figures the rule saw (kept in steps.jsonl: `stop`)."""

    reason: str  # CONVERGED, PAST_KNEE or MAX_DURATION
    samples: int
    rps_ci_rel: float | None
    e2e_p95_ci_rel: float | None
    warmup_end_s: float | None  # epoch seconds; None: the step ended still warming up
    min_samples: int
    tolerance: float
    max_step_s: float
    rps_tolerance: float = DEFAULT_TOLERANCE  # the throughput's (StopRule.throughput_tolerance)
    e2e_p50_ci_rel: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide(rule: StopRule, elapsed_s: float, measured: Precision | None, warmup_end_s: float | None) -> StopDecision | None:
    """The step ends now (a decision) or runs on (None). `measured` is None while it warms up."""
    m = measured or Precision(0, None, None, None)
    if m.within(rule):
        reason = CONVERGED
    elif rule.past_knee and m.median_within(rule):
        reason = PAST_KNEE
    elif elapsed_s >= rule.max_step_s:
        reason = MAX_DURATION
    else:
        return None
    return StopDecision(
        reason, m.samples, m.rps_ci_rel, m.e2e_p95_ci_rel, warmup_end_s, rule.min_samples, rule.tolerance,
        rule.max_step_s, rule.throughput_tolerance, m.e2e_p50_ci_rel,
    )  # fmt: skip
