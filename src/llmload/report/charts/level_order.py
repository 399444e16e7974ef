"""The order in which per-level curves are drawn."""

from __future__ import annotations

from collections.abc import Iterable

from llmload.analysis.model import StepStats


def level_key(users: int, offered_rps: float | None) -> tuple[float, int]:
    """A step's place in load order (offered rate, else users): an adaptive plan (`--users auto`) runs levels
    out of order, and a curve drawn in run order would zigzag."""
    return (offered_rps if offered_rps is not None else -1.0, users)


def in_level_order(steps: Iterable[StepStats]) -> list[StepStats]:
    """The steps sorted by level_key."""
    return sorted(steps, key=lambda s: level_key(s.users, s.offered_rps))
