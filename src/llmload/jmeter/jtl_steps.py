"""The load steps of an imported JMeter run (llmload.records.StepMark), from the thread counts JMeter saved
or from the levels the user gives.

From allThreads: consecutive samples (file order: JMeter writes a sample when it ends) with the same count
form a step, whose users are that count. It starts where its first sample was sent, and ends where the
next step starts (the last step: at the last sample's end). A start never precedes the step before it.
Given: `--users 1,2,4 --step-duration 60s` lay the levels end to end from the first sample's send on; steps
that would begin after the last sample's end are left out.
"""

from __future__ import annotations

from llmload.errors import UsageError
from llmload.jmeter.jtl_sample import JMeterSample
from llmload.records import StepMark


def steps_from_threads(samples: list[JMeterSample], where: str) -> list[StepMark]:
    if not samples:
        return []
    missing = sum(1 for s in samples if s.all_threads is None)
    if missing:
        raise UsageError(
            f"{where}: {missing} sample(s) without allThreads (jmeter.save.saveservice.thread_counts=false?): "
            "give the steps with --users LEVELS --step-duration D"
        )
    runs: list[list[JMeterSample]] = []
    for sample in samples:
        if not runs or runs[-1][0].all_threads != sample.all_threads:
            runs.append([])
        runs[-1].append(sample)
    groups: list[tuple[int, float]] = []  # (users, start s)
    seen: set[str] = set()
    for run in runs:
        start_s = _start_s(run, seen)
        groups.append((int(run[0].all_threads or 0), max(start_s, groups[-1][1]) if groups else start_s))
        seen.update(s.thread for s in run)
    end_s = max(s.ts_ms + s.elapsed_ms for s in samples) / 1000.0
    return _marks(groups, end_s)


def _start_s(run: list[JMeterSample], seen: set[str]) -> float:
    """The first send of a thread new in this run of samples (the threads the step added start sending at
    once); without new threads (fewer threads, or names not saved): the run's first sample's send."""
    new = [s.ts_ms for s in run if s.thread and s.thread not in seen]
    return (min(new) if new else run[0].ts_ms) / 1000.0


def steps_from_levels(samples: list[JMeterSample], levels: list[int], step_s: float) -> list[StepMark]:
    if not samples:
        return []
    first_s = min(s.ts_ms for s in samples) / 1000.0
    end_s = max(s.ts_ms + s.elapsed_ms for s in samples) / 1000.0
    groups = [(users, first_s + i * step_s) for i, users in enumerate(levels) if first_s + i * step_s < end_s]
    return _marks(groups, min(end_s, first_s + len(levels) * step_s))


def _marks(groups: list[tuple[int, float]], end_s: float) -> list[StepMark]:
    starts = [start for _, start in groups]
    ends = [*starts[1:], max(end_s, starts[-1])]
    return [
        StepMark(index=i, users=users, start_s=start, end_s=end)
        for i, ((users, start), end) in enumerate(zip(groups, ends, strict=True))
    ]
