"""Per-level curves are drawn in level order: an adaptive plan runs its levels out of order (the H200's
`--users auto` ran 1, 2, 4, 8, 16, 11, 13, 14, 15, 20, 25, 22, 23) and a line in run order zigzags."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from llmload.analysis.model import StepStats
from llmload.report.charts.level_order import in_level_order


def _steps(*levels: tuple[int, float | None]) -> list[StepStats]:
    return [cast(StepStats, SimpleNamespace(users=u, offered_rps=rate)) for u, rate in levels]


def test_closed_loop_steps_are_drawn_by_users() -> None:
    plan = [1, 2, 4, 8, 16, 11, 13, 14, 15, 20, 25, 22, 23]
    ordered: list[Any] = in_level_order(_steps(*((u, None) for u in plan)))
    assert [s.users for s in ordered] == sorted(plan)


def test_open_loop_steps_are_drawn_by_offered_rate() -> None:
    ordered: list[Any] = in_level_order(_steps((64, 4.0), (64, 1.0), (64, 2.5)))
    assert [s.offered_rps for s in ordered] == [1.0, 2.5, 4.0]
