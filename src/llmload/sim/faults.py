"""Faults the simulator can inject, and its own count of what happened to every request.

A fault plan comes from ``llmload sim --fault KIND=SPEC`` flags and/or a profile's ``[faults]`` table
(flags win per kind). Kinds and their SPEC:

==============  ==================  =====================================================================
kind            SPEC                what the server does
==============  ==================  =====================================================================
http_500        RATE                answers HTTP 500 (JSON error body) instead of streaming
http_503        RATE                answers HTTP 503
http_429        RATE                answers HTTP 429 with ``Retry-After: 1``
slow_headers    RATE:DURATION       waits DURATION before sending the response headers
stall_first     RATE:DURATION       sends headers, then no token for DURATION before the first token
stall           RATE:DURATION       no token for DURATION in the middle of the stream
disconnect      RATE                closes the connection in the middle of the stream
malformed       RATE                sends an SSE event with broken JSON in the middle of the stream
no_done         RATE                ends the stream (usage included) with neither a finish_reason nor ``[DONE]``
exit_at         DURATION            the whole server process exits DURATION after it started
==============  ==================  =====================================================================

RATE is a probability per chat request (0..1; all rates together at most 1). DURATION is ``5``, ``5s``,
``500ms``, ``2m``: WALL-CLOCK seconds, never scaled by ``--time-scale`` (they exist to test the client's
wall-clock timeouts). The choice is one uniform draw per chat request from a ``random.Random`` seeded with
the simulator's seed, so the same seed and the same request order give the same faults.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from llmload.errors import UsageError
from llmload.steps import parse_duration_s

HTTP_FAULTS = {"http_500": 500, "http_503": 503, "http_429": 429}
TIMED_FAULTS = ("slow_headers", "stall_first", "stall")
STREAM_FAULTS = ("disconnect", "malformed", "no_done")
FAULT_KINDS = (*HTTP_FAULTS, *TIMED_FAULTS, *STREAM_FAULTS)
EXIT_AT = "exit_at"
SEED_SALT = 0x5EED_FA17  # the fault stream never shares draws with the output-length sampler


@dataclass(frozen=True)
class FaultPlan:
    """Per-kind rates (probability per chat request), durations (wall s) and the exit time (wall s)."""

    rates: tuple[tuple[str, float], ...] = ()
    durations_s: tuple[tuple[str, float], ...] = ()
    exit_at_s: float | None = None

    def rate(self, kind: str) -> float:
        return dict(self.rates).get(kind, 0.0)

    def duration_s(self, kind: str) -> float:
        return dict(self.durations_s).get(kind, 0.0)

    @property
    def active(self) -> bool:
        return bool(self.rates) or self.exit_at_s is not None

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for kind, rate in self.rates:
            out[kind] = {"rate": rate, "duration_wall_s": self.duration_s(kind)} if kind in TIMED_FAULTS \
                else {"rate": rate}
        if self.exit_at_s is not None:
            out[EXIT_AT] = {"after_wall_s": self.exit_at_s}
        return out


def _parse_rate(text: str, kind: str, where: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        raise UsageError(f"{where}: fault {kind}: rate {text!r} is not a number") from None
    if not 0.0 <= rate <= 1.0:
        raise UsageError(f"{where}: fault {kind}: rate {text!r} must be between 0 and 1")
    return rate


def parse_fault(kind: str, spec: str, where: str) -> tuple[float | None, float | None]:
    """(rate, duration_s) of one fault; ``exit_at`` gives (None, seconds). Raises UsageError."""
    kind, spec = kind.strip(), str(spec).strip()
    if kind == EXIT_AT:
        return None, parse_duration_s(spec, f"{where}: fault exit_at")
    if kind not in FAULT_KINDS:
        raise UsageError(f"{where}: unknown fault {kind!r} (known: {', '.join((*FAULT_KINDS, EXIT_AT))})")
    rate_text, _, duration_text = spec.partition(":")
    rate = _parse_rate(rate_text, kind, where)
    if kind in TIMED_FAULTS:
        if not duration_text:
            raise UsageError(f"{where}: fault {kind} needs RATE:DURATION, e.g. {kind}=0.02:5s")
        return rate, parse_duration_s(duration_text, f"{where}: fault {kind} duration")
    if duration_text:
        raise UsageError(f"{where}: fault {kind} takes a rate only, got {spec!r}")
    return rate, None


def build_plan(items: list[tuple[str, str, str]]) -> FaultPlan:
    """``items``: (kind, spec, where) in order; a later item replaces an earlier one of the same kind."""
    rates: dict[str, float] = {}
    durations: dict[str, float] = {}
    exit_at: float | None = None
    for kind, spec, where in items:
        rate, duration_s = parse_fault(kind, spec, where)
        if rate is None:
            exit_at = duration_s
            continue
        rates[kind.strip()] = rate
        if duration_s is not None:
            durations[kind.strip()] = duration_s
        if sum(rates.values()) > 1.0 + 1e-9:
            raise UsageError(f"{where}: fault rates add up to {sum(rates.values()):g}, more than 1")
    return FaultPlan(tuple((k, r) for k, r in rates.items() if r > 0), tuple(durations.items()), exit_at)


def flag_items(flags: list[str]) -> list[tuple[str, str, str]]:
    """``--fault KIND=SPEC`` flags as build_plan items."""
    items = []
    for flag in flags:
        kind, sep, spec = flag.partition("=")
        if not sep:
            raise UsageError(f"--fault {flag!r}: expected KIND=SPEC, e.g. http_500=0.05 or stall=0.02:5s")
        items.append((kind, spec, f"--fault {flag}"))
    return items


def table_items(table: Any, source: str, line_of: Any) -> list[tuple[str, str, str]]:
    """A profile's ``[faults]`` table as build_plan items (values: numbers or "RATE:DURATION" strings)."""
    if not isinstance(table, dict):
        raise UsageError(f"{source}:{line_of('faults')}: 'faults' must be a table ([faults])")
    items = []
    for kind, value in table.items():
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise UsageError(f"{source}:{line_of(kind)}: fault {kind}: expected a number or a string")
        items.append((kind, str(value), f"{source}:{line_of(kind)}"))
    return items


@dataclass
class FaultInjector:
    """Draws the fault of each chat request and counts what the server did."""

    plan: FaultPlan
    seed: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed ^ SEED_SALT)
        self.counts = {kind: 0 for kind, _ in self.plan.rates}

    def draw(self) -> str | None:
        """The fault of the next chat request (one uniform draw, bands in the plan's order), or None."""
        if not self.plan.rates:
            return None
        u = self._rng.random()
        edge = 0.0
        for kind, rate in self.plan.rates:
            edge += rate
            if u < edge:
                return kind
        return None

    def injected(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1


@dataclass
class RequestTally:
    """The simulator's own account of chat requests (the ground truth the client's records are checked
    against): every request that reached the handler ends in exactly one of the outcome counters."""

    received: int = 0  # chat requests past authentication
    completed_ok: int = 0  # streams that ended with [DONE] written (non-streaming: the body sent)
    rejected: int = 0  # 4xx for a bad request (validation), not a fault
    faulted: int = 0  # ended by an injected fault (HTTP error, disconnect, malformed, no [DONE])
    client_gone: int = 0  # the client closed the connection first (timeouts, preflight, killed runner)
    unauthorized: int = 0  # 401: missing or wrong API key (not counted in received)

    def as_dict(self) -> dict[str, int]:
        return {"requests_received": self.received, "completed_ok": self.completed_ok,
                "rejected": self.rejected, "faulted": self.faulted, "client_gone": self.client_gone,
                "unauthorized": self.unauthorized}


def merge_plans(base: FaultPlan, override: FaultPlan) -> FaultPlan:
    """``override``'s kinds replace ``base``'s (flags over the profile's table)."""
    rates = dict(base.rates) | dict(override.rates)
    if sum(rates.values()) > 1.0 + 1e-9:
        raise UsageError(f"fault rates add up to {sum(rates.values()):g}, more than 1")
    durations = dict(base.durations_s) | dict(override.durations_s)
    exit_at = override.exit_at_s if override.exit_at_s is not None else base.exit_at_s
    return FaultPlan(tuple(rates.items()), tuple(durations.items()), exit_at)


@dataclass
class SimFaults:
    """Everything the server needs for faults and accounting: the injector, the tally, the API key."""

    injector: FaultInjector
    tally: RequestTally = field(default_factory=RequestTally)
    api_key: str | None = field(default=None, repr=False)  # never printed, logged or served

    def info(self) -> dict[str, Any]:
        t = self.tally
        in_flight = t.received - t.completed_ok - t.rejected - t.faulted - t.client_gone
        return {"faults": self.injector.plan.describe(), "faults_injected": dict(self.injector.counts),
                **t.as_dict(), "in_flight": in_flight, "auth_required": self.api_key is not None}
