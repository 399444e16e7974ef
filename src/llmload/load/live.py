"""A small rolling aggregator for the web UI: every record the recorder writes is also added here, and
a snapshot (current step, TTFT p50/p95, output tokens/s, the knee so far) is computed on demand.

No Locust: the numbers follow the report's rules (the steady window and the work counted in it:
llmload.steady; linear-interpolated percentiles; the knee rule of analysis.knee) but are provisional, since
requests still in flight are not known yet; the report built from records.jsonl at the end is the
authority. Durations are in the target's time base (x time_scale).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from llmload.analysis.knee import knee_of_step_dicts
from llmload.records import Record, StepMark, read_steps
from llmload.rundir import STEPS
from llmload.steady import auto_warmup_s, share_in_window, steady_mask
from llmload.step_stop import INFLIGHT, inflight_warmup_end_s
from llmload.steps import parse_duration_s

ROLLING_WINDOW_S = 10.0  # wall seconds of completions behind the "output tokens/s now" figure
SETTLED_S = 5.0  # a step that ended this long ago gets no more records: its statistics are cached


@dataclass
class Finished:
    """The few facts of every finished request the live view needs, as columns (wall clock)."""

    send_s: list[float] = field(default_factory=list)
    end_s: list[float] = field(default_factory=list)
    ok: list[bool] = field(default_factory=list)
    ttft_s: list[float] = field(default_factory=list)  # NaN without a first token
    output_tokens: list[int] = field(default_factory=list)

    def add(self, record: Record) -> None:
        self.send_s.append(record.send_s)
        self.end_s.append(record.end_s)
        self.ok.append(record.ok)
        self.ttft_s.append(math.nan if record.first_token_s is None else record.first_token_s - record.send_s)
        self.output_tokens.append(record.output_tokens or 0)

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: np.asarray(getattr(self, name), dtype=float) for name in self.__dataclass_fields__}

    def keep_ended_from(self, from_s: float) -> None:
        """Drops the requests that ended before `from_s`: no window still to be computed can hold them."""
        keep = [i for i, end_s in enumerate(self.end_s) if end_s >= from_s]
        if len(keep) < len(self.end_s):
            for name in self.__dataclass_fields__:
                column = getattr(self, name)
                setattr(self, name, [column[i] for i in keep])


def _percentile(values: np.ndarray, q: float) -> float | None:
    return float(np.percentile(values, q)) if values.size else None


class LiveStats:
    def __init__(self, run_dir: Path | None = None, time_scale: float = 1.0, warmup: str = "auto") -> None:
        """warmup: --warmup's value, or INFLIGHT for auto steps (llmload.step_stop)."""
        self.run_dir = run_dir
        self.time_scale = time_scale
        self.warmup = warmup
        self.done = Finished()  # the requests a step still to be computed (or the rolling figure) may need
        self.requests = 0
        self.failed = 0
        self._settled: dict[tuple[int, float], dict[str, Any]] = {}

    def add(self, record: Record) -> None:
        self.done.add(record)
        self.requests += 1
        self.failed += 0 if record.ok else 1

    def steps(self) -> list[StepMark]:
        path = None if self.run_dir is None else self.run_dir / STEPS
        return read_steps(path) if path is not None and path.exists() else []

    def step_stats(self, mark: StepMark, now_s: float, done: dict[str, np.ndarray]) -> dict[str, Any]:
        """One step so far (or finished), by the steady-window rules, in the target's time base."""
        scale = self.time_scale
        end = mark.end_s if mark.end_s is not None else now_s
        send_s, end_s, ok = done["send_s"], done["end_s"], done["ok"].astype(bool)
        sent = (send_s >= mark.start_s) & (send_s < end)
        e2e_s = (end_s - send_s) * scale
        if self.warmup == INFLIGHT:
            warm_start = min(inflight_warmup_end_s(mark.start_s, send_s, end_s, mark.join_spread_s), end)
        else:
            warm_s = self._warmup_s((end - mark.start_s) * scale, _percentile(e2e_s[sent & ok], 50) or 0.0)
            warm_start = mark.start_s + warm_s / scale
        steady = steady_mask(ok, send_s, end_s, warm_start, end)
        share = share_in_window(send_s[ok], end_s[ok], warm_start, end)  # the work done in the window
        window_s = (end - warm_start) * scale
        ttft_s = done["ttft_s"][steady] * scale
        ttft_s = ttft_s[~np.isnan(ttft_s)]
        return {
            "index": mark.index,
            "users": mark.users,
            "rate_rps": mark.rate_rps,
            "finished": mark.end_s is not None,
            "elapsed_s": (end - mark.start_s) * scale,
            "requests_ok": int(steady.sum()),
            "failed": int((sent & ~ok).sum()),
            "rps": float(share.sum()) / window_s if window_s > 0 else math.nan,
            "output_tokens_per_s": float((share * done["output_tokens"][ok]).sum()) / window_s
            if window_s > 0
            else math.nan,
            "ttft_s": {"p50": _percentile(ttft_s, 50), "p95": _percentile(ttft_s, 95)},
            "e2e_s": {
                "p50": _percentile(e2e_s[steady], 50),
                "p95": _percentile(e2e_s[steady], 95),
                "mean": float(e2e_s[steady].mean()) if steady.any() else None,
            },
        }

    def _warmup_s(self, length_s: float, median_e2e_s: float) -> float:
        if self.warmup == "auto":
            return auto_warmup_s(length_s, median_e2e_s)
        return min(parse_duration_s(self.warmup, "--warmup"), length_s / 2)

    def rolling_output_tokens_per_s(self, now_s: float, window_s: float = ROLLING_WINDOW_S) -> float:
        """Output tokens of the requests that ended in the last `window_s` wall seconds, per target second."""
        done = self.done
        tokens = sum(
            n for n, ok, end_s in zip(done.output_tokens, done.ok, done.end_s, strict=True)
            if ok and now_s - window_s <= end_s < now_s
        )  # fmt: skip
        return tokens / (window_s * self.time_scale)

    def _cached_step_stats(self, mark: StepMark, now_s: float, done: dict[str, np.ndarray]) -> dict[str, Any]:
        key = (mark.index, mark.start_s)
        if key in self._settled:
            return self._settled[key]
        stats = self.step_stats(mark, now_s, done)
        if mark.end_s is not None and now_s - mark.end_s > SETTLED_S:
            self._settled[key] = stats
        return stats

    def snapshot(self, now_s: float) -> dict[str, Any]:
        """The live figures; afterwards the requests only settled steps needed are dropped, so a poll costs
        what the steps still running hold, not the whole run (it scanned 4M records in 0.76 s: issue 22)."""
        done = self.done.arrays()
        marks = self.steps()
        steps = [self._cached_step_stats(mark, now_s, done) for mark in marks]
        unsettled = [m.start_s for m in marks if (m.index, m.start_s) not in self._settled]
        self.done.keep_ended_from(min([now_s - ROLLING_WINDOW_S, *unsettled]))
        current = next((s for s in reversed(steps) if not s["finished"]), None)
        return {
            "run_dir": None if self.run_dir is None else str(self.run_dir),
            "time_scale": self.time_scale,
            "requests": self.requests,
            "failed": self.failed,
            "output_tokens_per_s_now": self.rolling_output_tokens_per_s(now_s),
            "current": current,
            "steps": steps,
            "knee": knee_so_far(steps),
        }


def knee_so_far(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The report's knee rule over the finished closed-loop steps (open-loop steps have no user knee)."""
    finished = [s for s in steps if s["finished"] and s["rate_rps"] is None]
    result = knee_of_step_dicts(finished)
    knee = result.get("knee")
    return {
        "users": None if knee is None else knee["users"],
        "rps": None if knee is None else knee["rps"],
        "limit_users": None if result.get("limit") is None else result["limit"]["users"],
        "finished_steps": len(finished),
        "reason": result.get("reason"),
    }
