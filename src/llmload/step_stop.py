"""`--step-duration auto`: when a step has measured enough (sequential stopping; pure, numpy). One definition
for the run (load.recorder asks it every shape tick) and the report (analysis.step_windows takes the same
warm-up, analysis.stats the same interval).

Warm-up: a step is steady once every request in flight at its start has ended: from then on every request
in flight was sent at this level (inflight_warmup_end_s). Its steady samples are then the successes sent
after the warm-up that have ended, the report's steady window (llmload.steady).

Stop: at least `min_samples` steady samples, and both 95% intervals within +-`tolerance` of their estimate:
  throughput  closed loop, X = N / mean hold (the interactive response-time law, as the knee's bootstrap in
              analysis.throughput_bootstrap): the Student-t interval of the mean hold (send to end);
  p95 E2E     the report's bootstrap interval (analysis.stats, seeded with the step index: the report's
              `ci95` of the same samples is the same interval).
Bounded by `max_step_s` (wall seconds, as --step-duration): a step that reaches it ends there and says so
(`reason` MAX_DURATION), its numbers marked less certain.
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
DEFAULT_MIN_SAMPLES = 30
DEFAULT_TOLERANCE = 0.05
DEFAULT_MAX_STEP_S = 900.0
WARMUP_FALLBACK_FACTOR = 2.0  # a straddling request never seen: warm-up over after 2x the longest request


def inflight_warmup_end_s(start_s: float, send_s: npt.ArrayLike, end_s: npt.ArrayLike) -> float:
    """When the last request sent before `start_s` and still running at it ended (`start_s` if none)."""
    send, end = np.asarray(send_s, dtype=float), np.asarray(end_s, dtype=float)
    straddling = end[(send < start_s) & (end >= start_s)]
    return float(max(start_s, straddling.max())) if straddling.size else start_s


@dataclass(frozen=True)
class StopRule:
    min_samples: int = DEFAULT_MIN_SAMPLES
    tolerance: float = DEFAULT_TOLERANCE  # relative: 0.05 is +-5%
    max_step_s: float = DEFAULT_MAX_STEP_S  # wall seconds


@dataclass(frozen=True)
class Precision:
    """A step's steady samples and how well they pin its throughput and p95 E2E (relative 95% half-widths:
    the interval's farther end from the estimate, over the estimate; None with fewer than 2 samples)."""

    samples: int
    rps_ci_rel: float | None
    e2e_p95_s: float | None
    e2e_p95_ci_rel: float | None

    def within(self, rule: StopRule) -> bool:
        widths = (self.rps_ci_rel, self.e2e_p95_ci_rel)
        return self.samples >= rule.min_samples and all(w is not None and w <= rule.tolerance for w in widths)


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
    p95 = float(np.percentile(e2e, 95))
    interval = bootstrap_percentile_ci(e2e, seed=seed)["p95"]  # all of the report's: the same random draws
    p95_rel = None if interval is None or p95 <= 0 else max(p95 - interval[0], interval[1] - p95) / p95
    return Precision(n, half / mean if mean > 0 else None, p95, p95_rel)


@dataclass(frozen=True)
class StopDecision:
    """Why an auto step ended, with the figures the rule saw (kept in steps.jsonl: `stop`)."""

    reason: str  # CONVERGED or MAX_DURATION
    samples: int
    rps_ci_rel: float | None
    e2e_p95_ci_rel: float | None
    warmup_end_s: float | None  # epoch seconds; None: the step ended still warming up
    min_samples: int
    tolerance: float
    max_step_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide(rule: StopRule, elapsed_s: float, measured: Precision | None, warmup_end_s: float | None) -> StopDecision | None:
    """The step ends now (a decision) or runs on (None). `measured` is None while it warms up."""
    converged = measured is not None and measured.within(rule)
    if not converged and elapsed_s < rule.max_step_s:
        return None
    m = measured or Precision(0, None, None, None)
    return StopDecision(
        CONVERGED if converged else MAX_DURATION, m.samples, m.rps_ci_rel, m.e2e_p95_ci_rel, warmup_end_s,
        rule.min_samples, rule.tolerance, rule.max_step_s,
    )  # fmt: skip
