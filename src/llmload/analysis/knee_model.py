"""The knee rule's typed input and result (rule: analysis.knee). Pure: no pandas, so that the web UI's live
view (load.live) can run the same rule on its own numbers.

Field names are summary.json's keys (docs/run-directory.md: knee, limit, knee_provisional); a number that
was not measured is None, never NaN (analysis.figures).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llmload.analysis.figures import OMIT_IF_NONE, figure


@dataclass(frozen=True)
class LevelFigures:
    """The figures of a load level that the knee and the limit report."""

    users: int
    rps: float | None
    output_tokens_per_s: float | None
    e2e_p50_s: float | None
    e2e_p95_s: float | None
    e2e_mean_s: float | None
    ttft_p95_s: float | None


@dataclass(frozen=True)
class KneeLevel(LevelFigures):
    """One measured step as the knee rule reads it."""

    requests_ok: int
    excluded: bool = False  # the load generator's timing error was over its bounds (analysis.validity)
    cause: str | None = None  # why (validity_rule.SATURATED or CONTENDED)


@dataclass(frozen=True)
class KneePoint(LevelFigures):
    """The knee or the limit: a measured level's figures (or, for a limit between two levels more than one
    user apart, figures interpolated between them), and the rule that chose it."""

    interpolated_between: tuple[int, int] | None = field(default=None, metadata=OMIT_IF_NONE)
    rule: str = ""
    saturated: bool | None = field(default=None, metadata=OMIT_IF_NONE)  # the limit: below the plan's top


@dataclass(frozen=True)
class ProvisionalKnee:
    """The rule's answer over steps excluded for the generator's timing error: shown, never gated."""

    knee: KneePoint
    limit: KneePoint | None
    caveat: str


@dataclass(frozen=True)
class KneeResult:
    knee: KneePoint | None
    limit: KneePoint | None
    reason: str | None = None  # why there is no knee
    signals: Mapping[str, Mapping[str, Any]] | None = None  # evidence by name (analysis.knee_signals)
    confidence: Mapping[str, Any] | None = None  # analysis.knee_confidence
    provisional: ProvisionalKnee | None = None


def level_of_step_dict(step: Mapping[str, Any]) -> KneeLevel:
    """A step shaped as summary.json's (users, rps, requests_ok, e2e_s: {p50, p95, mean}, ttft_s: {p95}, ...)."""
    e2e, ttft = step.get("e2e_s") or {}, step.get("ttft_s") or {}
    return KneeLevel(
        users=int(step["users"]),
        rps=figure(step.get("rps")),
        output_tokens_per_s=figure(step.get("output_tokens_per_s")),
        e2e_p50_s=figure(e2e.get("p50")),
        e2e_p95_s=figure(e2e.get("p95")),
        e2e_mean_s=figure(e2e.get("mean")),
        ttft_p95_s=figure(ttft.get("p95")),
        requests_ok=int(step.get("requests_ok") or 0),
        excluded=bool(step.get("excluded")),
    )
