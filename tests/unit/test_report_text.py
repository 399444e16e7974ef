"""The terminal verdict says when the two numbers cannot be taken at face value."""

from __future__ import annotations

import io
from typing import Any

from llmload.report.text import print_verdict


def summary(**extra: Any) -> dict[str, Any]:
    point = {"users": 8, "e2e_p50_s": 1.0, "e2e_p95_s": 1.2, "rps": 8.0, "output_tokens_per_s": 800.0}
    base: dict[str, Any] = {
        "model": "m", "target": {"host": "http://h"}, "complete": True,
        "steps": [{"users": u} for u in (2, 4, 8, 12)], "knee": point, "limit": {**point, "users": 12},
        "knee_confidence": {"level": "medium"}, "requests": {"total": 10, "failed": 0}, "accuracy": {},
    }
    return {**base, **extra}


def verdict(s: dict[str, Any]) -> str:
    out = io.StringIO()
    print_verdict(s, out)
    return out.getvalue()


def test_complete_run_with_a_knee_below_the_top_has_only_the_confidence_line() -> None:
    text = verdict(summary())
    assert "knee confidence: medium" in text
    assert "PARTIAL" not in text and "not reached" not in text


def test_partial_run_and_knee_at_the_top_level_are_said() -> None:
    top = {"users": 12, "e2e_p50_s": 1.0, "e2e_p95_s": 1.2, "rps": 8.0, "output_tokens_per_s": 800.0}
    text = verdict(summary(complete=False, stopped_reason="target lost: 5 connect errors in a row", knee=top))
    assert "PARTIAL RUN: target lost: 5 connect errors in a row" in text
    assert "saturation not reached: the knee is the plan's top level (12 users)" in text


def test_the_queue_sentence_of_the_time_split_is_said() -> None:
    why = "from 5 users on, requests wait for a slot: the server ran at most 4 at once; ..."
    assert f"where the time goes: {why}" in verdict(summary(time_split={"why_here": why}))
    assert "where the time goes" not in verdict(summary(time_split={"available": False, "why_here": None}))
