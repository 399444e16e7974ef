"""A small rolling aggregator for the web UI: every record the recorder writes is also added here, and
a snapshot (current step, TTFT p50/p95, output tokens/s, the knee so far) is computed on demand.

Pure Python, no Locust: the numbers follow the analysis' rules (steady window after the `auto` warm-up,
linear-interpolated percentiles, the knee rule of analysis.knee) but are provisional; the report built
from records.jsonl at the end is the authority. Durations are in the target's time base (x time_scale).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmload.analysis.knee import find_knee
from llmload.records import Record, StepMark, read_steps
from llmload.steady import auto_warmup_s

ROLLING_WINDOW_S = 10.0  # wall seconds of completions behind the "output tokens/s now" figure
SETTLED_S = 5.0  # a step that ended this long ago gets no more records: its statistics are cached


@dataclass(frozen=True, slots=True)
class Done:
    """The few facts of one finished request the live view needs."""

    send_s: float
    end_s: float
    ok: bool
    ttft_s: float | None
    output_tokens: int


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default), q in [0, 100]."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


class LiveStats:
    def __init__(self, run_dir: Path | None = None, time_scale: float = 1.0, warmup: str = "auto") -> None:
        self.run_dir = run_dir
        self.time_scale = time_scale
        self.warmup = warmup
        self.done: list[Done] = []
        self._settled: dict[tuple[int, float], dict[str, Any]] = {}

    def add(self, record: Record) -> None:
        ttft = None if record.first_token_s is None else record.first_token_s - record.send_s
        self.done.append(Done(record.send_s, record.end_s, record.ok, ttft, record.output_tokens or 0))

    def steps(self) -> list[StepMark]:
        path = None if self.run_dir is None else self.run_dir / "steps.jsonl"
        return read_steps(path) if path is not None and path.exists() else []

    def step_stats(self, mark: StepMark, now_s: float) -> dict[str, Any]:
        """One step so far (or finished), by the steady-window rules, in the target's time base."""
        scale = self.time_scale
        end = mark.end_s if mark.end_s is not None else now_s
        sent = [d for d in self.done if mark.start_s <= d.send_s < end]
        ok_e2e = [(d.end_s - d.send_s) * scale for d in sent if d.ok]
        warm_s = self._warmup_s((end - mark.start_s) * scale, percentile(ok_e2e, 50) or 0.0)
        warm_start = mark.start_s + warm_s / scale
        ended = [d for d in self.done if d.ok and warm_start <= d.end_s < end]
        steady = [d for d in sent if d.ok and d.send_s >= warm_start and d.end_s <= end]
        window_s = (end - warm_start) * scale
        e2e = [(d.end_s - d.send_s) * scale for d in steady]
        ttft = [d.ttft_s * scale for d in steady if d.ttft_s is not None]
        return {
            "index": mark.index,
            "users": mark.users,
            "rate_rps": mark.rate_rps,
            "finished": mark.end_s is not None,
            "elapsed_s": (end - mark.start_s) * scale,
            "requests_ok": len(steady),
            "failed": sum(1 for d in sent if not d.ok),
            "rps": len(ended) / window_s if window_s > 0 else math.nan,
            "output_tokens_per_s": sum(d.output_tokens for d in ended) / window_s if window_s > 0 else math.nan,
            "ttft_s": {"p50": percentile(ttft, 50), "p95": percentile(ttft, 95)},
            "e2e_s": {"p50": percentile(e2e, 50), "p95": percentile(e2e, 95), "mean": _mean(e2e)},
        }

    def _warmup_s(self, length_s: float, median_e2e_s: float) -> float:
        if self.warmup == "auto":
            return auto_warmup_s(length_s, median_e2e_s)
        from llmload.steps import parse_duration_s

        return min(parse_duration_s(self.warmup, "--warmup"), length_s / 2)

    def rolling_output_tokens_per_s(self, now_s: float, window_s: float = ROLLING_WINDOW_S) -> float:
        tokens = sum(d.output_tokens for d in self.done if d.ok and now_s - window_s <= d.end_s < now_s)
        return tokens / (window_s * self.time_scale)

    def _cached_step_stats(self, mark: StepMark, now_s: float) -> dict[str, Any]:
        key = (mark.index, mark.start_s)
        if key in self._settled:
            return self._settled[key]
        stats = self.step_stats(mark, now_s)
        if mark.end_s is not None and now_s - mark.end_s > SETTLED_S:
            self._settled[key] = stats
        return stats

    def snapshot(self, now_s: float) -> dict[str, Any]:
        steps = [self._cached_step_stats(mark, now_s) for mark in self.steps()]
        current = next((s for s in reversed(steps) if not s["finished"]), None)
        return {
            "run_dir": None if self.run_dir is None else str(self.run_dir),
            "time_scale": self.time_scale,
            "requests": len(self.done),
            "failed": sum(1 for d in self.done if not d.ok),
            "output_tokens_per_s_now": self.rolling_output_tokens_per_s(now_s),
            "current": current,
            "steps": steps,
            "knee": knee_so_far(steps),
        }


def knee_so_far(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The report's knee rule over the finished closed-loop steps (open-loop steps have no user knee)."""
    finished = [s for s in steps if s["finished"] and s["rate_rps"] is None]
    result = find_knee(finished)
    knee = result.get("knee")
    return {
        "users": None if knee is None else knee["users"],
        "rps": None if knee is None else knee["rps"],
        "limit_users": None if result.get("limit") is None else result["limit"]["users"],
        "finished_steps": len(finished),
        "reason": result.get("reason"),
    }


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None
