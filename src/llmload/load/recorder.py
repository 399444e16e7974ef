"""Writes records and step marks to the run directory as they happen, and prints a line per step."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from llmload.load.adaptive import Measurement
from llmload.records import Record, RecordWriter, StepMark
from llmload.rundir import RECORDS, STEPS
from llmload.steady import auto_warmup_s, steady_mask


@dataclass(slots=True)
class _StepTally:
    mark: StepMark
    e2e_s: list[float] = field(default_factory=list)
    failed: int = 0
    ok_spans: list[tuple[float, float]] = field(default_factory=list)  # (send_s, end_s) of ok requests


class RunRecorder:
    def __init__(self, run_dir: Path, time_scale: float = 1.0, out: TextIO = sys.stdout) -> None:
        self.run_dir = run_dir
        self.time_scale = time_scale
        self.out = out
        self.records = RecordWriter(run_dir / RECORDS)
        self.steps = RecordWriter(run_dir / STEPS)
        self._tally: _StepTally | None = None
        self.total_steps = 0
        self.step_duration_s = 0.0

    def record(self, record: Record) -> None:
        self.records.write(record)
        self.count(record)

    def record_line(self, line: str, record: Record) -> None:
        """A record already serialised (by a worker): written verbatim, counted for progress."""
        self.records.write_line(line)
        self.count(record)

    def count(self, record: Record) -> None:
        tally = self._tally
        if tally is None or record.end_s < tally.mark.start_s:
            return
        if record.ok:
            tally.e2e_s.append(record.end_s - record.send_s)
            tally.ok_spans.append((record.send_s, record.end_s))
        else:
            tally.failed += 1

    def start_step(self, index: int, users: int, now_s: float, rate_rps: float | None = None) -> None:
        self.end_step(now_s)
        mark = StepMark(index=index, users=users, start_s=now_s, rate_rps=rate_rps)
        self.steps.write_line(mark.to_json())
        self._tally = _StepTally(mark)

    def measure(self, now_s: float) -> Measurement | None:
        """The current step so far (measure_step), for the adaptive plan."""
        tally = self._tally
        if tally is None:
            return None
        return measure_step(tally.mark.users, tally.mark.start_s, now_s, tally.ok_spans, self.time_scale)

    def end_step(self, now_s: float) -> None:
        tally = self._tally
        if tally is None:
            return
        tally.mark.end_s = now_s
        self.steps.write_line(tally.mark.to_json())
        self._tally = None
        self._print_progress(tally, now_s)

    def _print_progress(self, tally: _StepTally, now_s: float) -> None:
        mark = tally.mark
        wall_s = max(1e-9, now_s - mark.start_s)
        scale = self.time_scale
        rps = len(tally.e2e_s) / (wall_s * scale)
        p95 = _p95(tally.e2e_s) * scale
        left_s = max(0, self.total_steps - mark.index - 1) * self.step_duration_s
        total = str(self.total_steps) if self.total_steps else "?"
        self.out.write(
            f"step {mark.index + 1:>3}/{total}  {_load(mark)}  "
            f"ok {len(tally.e2e_s):>5}  failed {tally.failed:>4}  TPS {rps:8.3f}/s  "
            f"p95 E2E {p95:8.2f} s  left {left_s:6.0f} s\n"
        )
        self.out.flush()

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
    users: int, start_s: float, end_s: float, ok_spans: list[tuple[float, float]], scale: float
) -> Measurement | None:
    """The step [start, end) so far, by the report's steady window (llmload.steady: warm-up `auto` from the
    median E2E of the requests sent in the step): completions per second in the window and the median E2E of
    its steady requests, in the target's time base; None without a steady request.

    Throughput counts the completions that ended in the window, not the work done in it as the report does
    (share_in_window): the plan measures a step the moment it ends, while each user's last request is still
    in flight and its share of the window unknown. A request in flight at the window's start counts whole
    though part of its work came before; one in flight at its end counts nothing: in a steady step the two
    balance."""
    spans = np.asarray(ok_spans, dtype=float).reshape(-1, 2)
    send_s, done_s = spans[:, 0], spans[:, 1]
    e2e_s = (done_s - send_s) * scale
    sent = send_s >= start_s
    median_s = float(np.median(e2e_s[sent])) if sent.any() else 0.0
    warm_start = start_s + auto_warmup_s((end_s - start_s) * scale, median_s) / scale
    steady = steady_mask(np.ones(len(spans), dtype=bool), send_s, done_s, warm_start, end_s)
    window_s = (end_s - warm_start) * scale
    if not steady.any() or window_s <= 0:
        return None
    completed = int(((done_s >= warm_start) & (done_s < end_s)).sum())
    return Measurement(users, completed / window_s, float(np.median(e2e_s[steady])), warm_start)
