"""Checks shared by the simulator and real-vLLM tests of sessions and trace replay, on a finished run directory."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from llmload.scenarios.datasets.trace_file import load_trace

SEND_TOLERANCE_S = 0.010  # every request leaves within 10 ms of its scheduled time


def records(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]


def steps(run_dir: Path) -> list[dict[str, Any]]:
    marks: dict[int, dict[str, Any]] = {}
    for line in (run_dir / "steps.jsonl").read_text().splitlines():
        mark = json.loads(line)
        marks[mark["index"]] = mark
    return [marks[i] for i in sorted(marks)]


def assert_trace_on_schedule(
    run_dir: Path, trace: Path, speeds: Sequence[float], step_s: float, worst_s: float = SEND_TOLERANCE_S
) -> list[float]:
    """Every step replayed each trace request it reaches exactly once, at the step's trace start + its trace
    time / the speed (1 ms), 95% sent within SEND_TOLERANCE_S of that and every one within `worst_s`
    (by default the same); returns every send's lateness (s)."""
    arrivals = {r.line: r.at_s for r in load_trace(trace)}
    rows, late = records(run_dir), []
    for mark, speed in zip(steps(run_dir), speeds, strict=True):
        sent = [r for r in rows if mark["start_s"] <= r["intended_send_s"] < mark["end_s"]]
        lines = sorted(r["scenario"]["line"] for r in sent)
        assert lines == sorted(line for line, at in arrivals.items() if at / speed < step_s), (speed, lines)
        start = min(r["intended_send_s"] for r in sent)
        for r in sent:
            assert abs((r["intended_send_s"] - start) * speed - arrivals[r["scenario"]["line"]]) < 0.001 * speed
            late.append(r["send_s"] - r["intended_send_s"])
    assert late and sorted(late)[int(0.95 * (len(late) - 1))] < SEND_TOLERANCE_S, sorted(late)[-5:]
    assert max(late) < worst_s, sorted(late)[-5:]
    return late


def assert_turns_count_their_history(
    rows: Sequence[Mapping[str, Any]], conversations: Sequence[Sequence[Mapping[str, Any]]],
    count: Callable[[list[dict[str, Any]]], int],
) -> int:
    """Each turn's prompt tokens (the server's usage) equal `count` (the server's /tokenize) of the messages it
    sent: the conversation's user messages so far with the answers recorded before it. Returns turns checked."""
    sessions: dict[str, list[Mapping[str, Any]]] = {}
    for r in sorted(rows, key=lambda r: r["send_s"]):
        facts = r["scenario"]
        if facts.get("kind") == "session" and r["ok"]:
            sessions.setdefault(facts["session_id"], []).append(r)
    checked = 0
    for turns in sessions.values():
        users = [m for m in conversations[turns[0]["scenario"]["line"] - 1] if m["role"] == "user"]
        history: list[dict[str, Any]] = []
        for k, r in enumerate(turns):
            assert r["scenario"]["turn"] == k + 1
            history.append(dict(users[k]))
            assert r["prompt_tokens"] == count(history), (r["scenario"], r["prompt_tokens"], count(history))
            history.append({"role": "assistant", "content": r["scenario"]["answer"]})
            checked += 1
    return checked
