"""Builders for hand-made run directories with known answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmload.load.adaptive import AdaptivePlan
from llmload.load.level_measurement import Measurement
from llmload.records import Record, StepMark

T0 = 1_700_000_000.0


def write_run(
    run_dir: Path, steps: list[StepMark], records: list[Record], meta: dict[str, Any] | None = None
) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "steps.jsonl").write_text("".join(s.to_json() + "\n" for s in steps))
    (run_dir / "records.jsonl").write_text("".join(r.to_json() + "\n" for r in records), encoding="utf-8")
    base = {
        "run_id": "test",
        "options": {"model": "m", "warmup": "auto"},
        "target": {"time_scale": 1.0},
        "ended_s": T0,
    }
    (run_dir / "meta.json").write_text(json.dumps({**base, **(meta or {})}))
    return run_dir


def rec(
    i: int,
    send: float,
    e2e: float,
    ttft: float = 0.1,
    tokens: int = 11,
    ok: bool = True,
    user: int = 0,
    **kw: Any,
) -> Record:
    """A request sent at T0+send that streamed `tokens` chunks evenly from ttft to e2e."""
    first = T0 + send + ttft
    last = T0 + send + e2e
    chunks = [first + (last - first) * k / (tokens - 1) for k in range(tokens)] if ok and tokens > 1 else []
    return Record(
        request_id=f"r{i}",
        user_id=user,
        send_s=T0 + send,
        end_s=last + 0.001,
        ok=ok,
        first_token_s=first if ok else None,
        last_token_s=last if ok else None,
        chunk_s=chunks,
        prompt_tokens=100,
        output_tokens=tokens if ok else None,
        **kw,
    )


def closed_loop(
    users_levels: list[int], step_s: float, e2e_for: dict[int, float], tokens: int = 11, gap_s: float = 0.0,
    **kw: Any,
) -> tuple[list[StepMark], list[Record]]:
    """Users send back to back (or `gap_s` after the previous request ended) with a fixed E2E per level:
    the exact closed-loop answers are known. `kw` goes into every record."""
    return _closed_loop(users_levels, step_s, lambda users, _u: (e2e_for[users], kw), tokens, gap_s)


def closed_loop_by_name(
    users_levels: list[int], step_s: float, e2e_by_name: dict[str, dict[int, float]], tokens: int = 11
) -> tuple[list[StepMark], list[Record]]:
    """closed_loop with several request names: user u sends the requests of the (u mod n)-th name (in the
    mapping's order), each name with its own E2E per level (the level's users of all names together)."""
    names = list(e2e_by_name)

    def user_requests(users: int, u: int) -> tuple[float, dict[str, Any]]:
        name = names[u % len(names)]
        return e2e_by_name[name][users], {"name": name}

    return _closed_loop(users_levels, step_s, user_requests, tokens)


def _closed_loop(
    users_levels: list[int], step_s: float, user_requests: Callable[[int, int], tuple[float, dict[str, Any]]],
    tokens: int, gap_s: float = 0.0,
) -> tuple[list[StepMark], list[Record]]:
    """user_requests(users, u): user u's E2E at the level of `users` and the fields of its records."""
    steps: list[StepMark] = []
    records: list[Record] = []
    n = 0
    for index, users in enumerate(users_levels):
        start = index * step_s
        end = start + step_s
        steps.append(StepMark(index, users, T0 + start, T0 + end))
        for u in range(users):
            e2e, kw = user_requests(users, u)
            t = start + u * e2e / users  # users staggered evenly
            while t + e2e <= end:
                records.append(rec(n, t, e2e, tokens=tokens, user=u, **kw))
                n += 1
                t += e2e + gap_s
    return steps, records


def drive_plan(plan: AdaptivePlan, measure: Callable[[int], Measurement]) -> list[int]:
    """The levels an adaptive plan runs when each level measures as `measure(users)` says (the plan's steps()
    generator is sent each level's measurement, as load/shape.py does)."""
    levels: list[int] = []
    steps = plan.steps()
    try:
        users = next(steps)
        while True:
            levels.append(users)
            users = steps.send(measure(users))
    except StopIteration:
        pass
    return levels
