"""Writes records and step marks to the run directory as they happen, and prints a line per step; measures
the step in progress for the adaptive plan (measure_step) and for `--step-duration auto` (stop_check)."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from llmload.load.level_measurement import Measurement
from llmload.load.record_sink import RecordSink
from llmload.records import Record, RecordWriter, StepMark
from llmload.rundir import RECORDS, STEPS
from llmload.steady import auto_warmup_s, empty_window_warning, steady_mask
from llmload.step_stop import WARMUP_FALLBACK_FACTOR, StopDecision, StopRule, decide, precision


@dataclass(slots=True)
class _StepTally:
    mark: StepMark
    inflight_at_start: int  # closed loop: the previous level's users, each in a request at the boundary
    failed: int = 0
    ok_spans: list[tuple[float, float]] = field(default_factory=list)  # (send_s, end_s) of ok requests
    ok_e2e_s: list[float] = field(default_factory=list)  # their E2E (send to last content chunk), wall s
    straddling_end_s: list[float] = field(default_factory=list)  # requests sent before the step's start

    def steady(self, warm_start_s: float, end_s: float) -> np.ndarray:
        spans = np.asarray(self.ok_spans, dtype=float).reshape(-1, 2)
        return steady_mask(np.ones(len(spans), dtype=bool), spans[:, 0], spans[:, 1], warm_start_s, end_s)


class RunRecorder:
    def __init__(self, run_dir: Path, time_scale: float = 1.0, out: TextIO = sys.stdout) -> None:
        self.run_dir = run_dir
        self.time_scale = time_scale
        self.out = out
        self.records = RecordSink(RecordWriter(run_dir / RECORDS))
        self.steps = RecordWriter(run_dir / STEPS)
        self._tally: _StepTally | None = None
        self._previous_users = 0  # closed loop: each was in a request when the next step began
        self.previous_answer_s: float | None = None  # wall: the median request of the last step ended
        self.total_steps = 0
        self.step_duration_s: float | None = 0.0  # None: auto steps
        self.longest_hold_s = 0.0  # wall: the longest request recorded so far
        self.warnings: list[str] = []  # said at once on `out`; the web UI's live view shows them too

    def record(self, record: Record) -> None:
        self.records.write(record)
        self.count(record)

    def record_line(self, line: str, record: Record) -> None:
        """A record already serialised (by a worker): written verbatim, counted for progress."""
        self.records.write_line(line)
        self.count(record)

    def count(self, record: Record) -> None:
        self.longest_hold_s = max(self.longest_hold_s, record.end_s - record.send_s)
        tally = self._tally
        if tally is None or record.end_s < tally.mark.start_s:
            return
        if record.send_s < tally.mark.start_s:
            tally.straddling_end_s.append(record.end_s)
        if record.ok:
            tally.ok_spans.append((record.send_s, record.end_s))
            last = record.last_token_s if record.last_token_s is not None else record.end_s
            tally.ok_e2e_s.append(last - record.send_s)
        else:
            tally.failed += 1

    def start_step(
        self, index: int, users: int, now_s: float, rate_rps: float | None = None, join_spread_s: float | None = None
    ) -> None:
        """join_spread_s: auto steps: the users the step adds join at random moments of its first seconds."""
        self.end_step(now_s)
        mark = StepMark(index=index, users=users, start_s=now_s, rate_rps=rate_rps, join_spread_s=join_spread_s)
        self.steps.write_line(mark.to_json())
        self._tally = _StepTally(mark, self._previous_users)

    def measure(self, now_s: float) -> Measurement | None:
        """The current step so far (measure_step), for the adaptive plan; with auto steps its window starts
        when the step's warm-up ended (warmup_end_s)."""
        tally = self._tally
        if tally is None:
            return None
        warm = self.warmup_end_s(now_s) if self.step_duration_s is None else None
        return measure_step(tally.mark.users, tally.mark.start_s, now_s, tally.ok_spans, self.time_scale, warm)

    def warmup_end_s(self, now_s: float) -> float | None:
        """Auto steps: when the requests in flight at the step's start had all ended and its new users had all
        joined (llmload.step_stop), or None while one still runs or a user may still join; a request never
        recorded (its user stopped) is given up after twice the longest request seen."""
        tally = self._tally
        if tally is None:
            return None
        ends = tally.straddling_end_s
        start = tally.mark.start_s
        joined = start + (tally.mark.join_spread_s or 0.0)
        if now_s < joined:
            return None
        if len(ends) >= tally.inflight_at_start or now_s - start >= WARMUP_FALLBACK_FACTOR * self.longest_hold_s:
            return max([joined, *ends])
        return None

    def stop_check(self, now_s: float, rule: StopRule) -> StopDecision | None:
        """Auto steps: whether the step in progress has measured enough (llmload.step_stop.decide)."""
        tally = self._tally
        if tally is None:
            return None
        warm = self.warmup_end_s(now_s)
        measured = None
        if warm is not None:
            steady = tally.steady(warm, now_s)
            spans = np.asarray(tally.ok_spans, dtype=float).reshape(-1, 2)[steady]
            e2e = np.asarray(tally.ok_e2e_s, dtype=float)[steady]
            measured = precision(spans[:, 1] - spans[:, 0], e2e, seed=tally.mark.index)
        return decide(rule, now_s - tally.mark.start_s, measured, warm)

    def end_step(self, now_s: float, stop: StopDecision | None = None) -> None:
        tally = self._tally
        if tally is None:
            return
        tally.mark.end_s = now_s
        tally.mark.stop = stop.to_dict() if stop is not None else None
        self.steps.write_line(tally.mark.to_json())
        self._tally = None
        self._previous_users = tally.mark.users if tally.mark.rate_rps is None else 0
        holds = [end - send for send, end in tally.ok_spans]
        self.previous_answer_s = float(np.median(holds)) if holds else None
        self._print_progress(tally, now_s)
        if stop is None:
            self._check_window(tally, now_s)

    def _check_window(self, tally: _StepTally, now_s: float) -> None:
        """A fixed step whose steady window held no complete request: said at once, never a silent row."""
        mark = tally.mark
        length_s = (now_s - mark.start_s) * self.time_scale
        e2e_s = np.asarray(tally.ok_e2e_s, dtype=float) * self.time_scale
        warm_s = auto_warmup_s(length_s, float(np.median(e2e_s)) if e2e_s.size else 0.0)
        if tally.steady(mark.start_s + warm_s / self.time_scale, now_s).any() or mark.rate_rps is not None:
            return
        shortest_s = self.longest_hold_s * self.time_scale if not e2e_s.size else float(e2e_s.min())
        warning = empty_window_warning(mark.index, mark.users, length_s - warm_s, shortest_s)
        self.warnings.append(warning)
        self.out.write(f"llmload: warning: {warning}\n")
        self.out.flush()

    def note(self, line: str) -> None:
        """A line of the run's progress (the plan's estimate)."""
        self.out.write(line + "\n")
        self.out.flush()

    def _print_progress(self, tally: _StepTally, now_s: float) -> None:
        mark = tally.mark
        wall_s = max(1e-9, now_s - mark.start_s)
        scale = self.time_scale
        rps = len(tally.ok_e2e_s) / (wall_s * scale)
        p95 = _p95(tally.ok_e2e_s) * scale
        self.out.write(
            f"step {mark.index + 1:>3}/{self.total_steps or '?'}  {_load(mark)}  "
            f"ok {len(tally.ok_e2e_s):>5}  failed {tally.failed:>4}  TPS {rps:8.3f}/s  "
            f"p95 E2E {p95:8.2f} s  {self._left_text(mark, wall_s)}\n"
        )
        self.out.flush()

    def _left_text(self, mark: StepMark, wall_s: float) -> str:
        if self.step_duration_s is None or not self.total_steps:
            return f"took {wall_s:6.0f} s"
        return f"left {max(0, self.total_steps - mark.index - 1) * self.step_duration_s:6.0f} s"

    def close(self, now_s: float) -> None:
        self.end_step(now_s)
        self.records.close()
        self.steps.close()


def _p95(values: list[float]) -> float:
    """Linear interpolation between order statistics, as the report's percentiles."""
    return float(np.percentile(values, 95)) if values else math.nan


def _load(mark: StepMark) -> str:
    return f"rate {mark.rate_rps:7.3f}/s" if mark.rate_rps is not None else f"users {mark.users:>4}"


def measure_step(
    users: int, start_s: float, end_s: float, ok_spans: list[tuple[float, float]], scale: float,
    warm_start_s: float | None = None,
) -> Measurement | None:
    """The step [start, end) so far, by the report's steady window (llmload.steady: warm-up `auto` from the
    median E2E of the requests sent in the step, or from `warm_start_s` when given): its throughput and the
    median E2E of its steady requests, in the target's time base; None without a steady request.

    Throughput: with `warm_start_s` (auto steps) the closed loop's X = users / mean hold of the steady requests
    (the interactive response-time law, as step_stop's interval), within 0.2% of the report's work count on
    the seed simulator. Without it, the completions that ended in the window per second: the plan measures a
    step the moment it ends, while each user's last request is still in flight and its share of the window
    unknown; a request in flight at the window's start counts whole though part of its work came before, one
    in flight at its end counts nothing, and in a steady step the two balance (they scatter 1.3% about the
    report's count there)."""
    spans = np.asarray(ok_spans, dtype=float).reshape(-1, 2)
    send_s, done_s = spans[:, 0], spans[:, 1]
    e2e_s = (done_s - send_s) * scale
    by_holds = warm_start_s is not None
    if warm_start_s is None:
        sent = send_s >= start_s
        median_s = float(np.median(e2e_s[sent])) if sent.any() else 0.0
        warm_start_s = start_s + auto_warmup_s((end_s - start_s) * scale, median_s) / scale
    steady = steady_mask(np.ones(len(spans), dtype=bool), send_s, done_s, warm_start_s, end_s)
    window_s = (end_s - warm_start_s) * scale
    if not steady.any() or window_s <= 0:
        return None
    completed = int(((done_s >= warm_start_s) & (done_s < end_s)).sum())
    rps = users / float(e2e_s[steady].mean()) if by_holds else completed / window_s
    return Measurement(users, rps, float(np.median(e2e_s[steady])), warm_start_s, completed=completed)
