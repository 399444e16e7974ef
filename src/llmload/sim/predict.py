"""Closed-loop load prediction in virtual time (pure): N users, zero think time.

Each user sends its next request the moment the previous one finishes. Users start evenly spread over the
first half of the warm-up so that their phases are mixed (as in a step-load where users join one by one);
only requests that finish inside the measured window [warmup_s, warmup_s + duration_s] are counted.
This is the calibration tool for the profiles and a capacity model for a given profile.
"""

from __future__ import annotations

import heapq
import random
import statistics
from dataclasses import dataclass

from llmload.sim.engine import VllmEngine
from llmload.sim.events import Engine, FinishedRecord
from llmload.sim.fixed import FixedEngine
from llmload.sim.sim_profile import SimProfile


@dataclass(frozen=True)
class PredictedStep:
    users: int
    completed: int
    throughput_rps: float
    output_tokens_per_s: float
    mean_response_s: float
    p50_response_s: float
    p95_response_s: float
    mean_ttft_s: float
    mean_running: float  # time-weighted over the window
    mean_waiting: float
    max_waiting: int
    preemptions: int  # during the window


def make_engine(profile: SimProfile) -> Engine:
    return FixedEngine(profile) if profile.engine == "fixed" else VllmEngine(profile)


def sample_output_tokens(profile: SimProfile, rng: random.Random, max_tokens: int) -> int:
    """Output length when EOS is honoured: normal(mean, cv*mean), rounded, clipped to [1, max_tokens]."""
    if profile.engine == "fixed":
        return max(1, min(profile.output_tokens, max_tokens))
    mean = profile.output_mean_tokens
    value = round(rng.gauss(mean, profile.output_cv * mean)) if profile.output_cv > 0 else mean
    return max(1, min(value, max_tokens))


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


class _Loop:
    """One closed-loop run at a fixed number of users."""

    def __init__(self, profile: SimProfile, users: int, rng: random.Random) -> None:
        self.profile, self.rng = profile, rng
        self.engine = make_engine(profile)
        self.max_tokens = profile.max_model_len - profile.workload_prompt_tokens
        self.owner: dict[str, int] = {}
        self.counter = 0
        self.records: list[FinishedRecord] = []

    def send(self, user: int, now_s: float) -> None:
        self.counter += 1
        req_id = f"u{user}-{self.counter}"
        self.owner[req_id] = user
        out = sample_output_tokens(self.profile, self.rng, self.max_tokens)
        self.engine.add_request(req_id, self.profile.workload_prompt_tokens, out, now_s)


def _run_level(profile: SimProfile, users: int, duration_s: float, warmup_s: float, seed: int) -> PredictedStep:
    loop = _Loop(profile, users, random.Random(seed * 1_000_003 + users))
    starts = [(i * warmup_s / 2 / users, i) for i in range(users)]
    heapq.heapify(starts)
    end_s = warmup_s + duration_s
    t_prev, run_area, wait_area, max_waiting = 0.0, 0.0, 0.0, 0
    pre_start: int | None = None
    while True:
        candidates = [t for t in (loop.engine.next_change_s(), starts[0][0] if starts else None) if t is not None]
        t = min(min(candidates) if candidates else end_s, end_s)
        st = loop.engine.stats()  # the state that held during (t_prev, t]
        if t > warmup_s:
            span = t - max(t_prev, warmup_s)
            run_area += st.running * span
            wait_area += st.waiting * span
            max_waiting = max(max_waiting, st.waiting)
        if pre_start is None and t >= warmup_s:
            pre_start = st.preemptions_total
        t_prev = t
        if t >= end_s:
            break
        for ev in loop.engine.advance(t, start_at_until=False):
            if ev.finished:
                loop.send(loop.owner.pop(ev.req_id), ev.t_s)
        while starts and starts[0][0] <= t:
            loop.send(heapq.heappop(starts)[1], t)
        loop.engine.advance(t)  # begin the step at t with the requests that arrived at t
        loop.records.extend(r for r in loop.engine.drain_finished() if warmup_s <= r.finish_s <= end_s)
    preemptions = loop.engine.stats().preemptions_total - (pre_start or 0)
    return _summarise(users, loop.records, duration_s, run_area, wait_area, max_waiting, preemptions)


def _summarise(users: int, records: list[FinishedRecord], duration_s: float, run_area: float, wait_area: float,
               max_waiting: int, preemptions: int) -> PredictedStep:
    latencies = sorted(r.e2e_s for r in records)
    nan = float("nan")
    return PredictedStep(
        users=users,
        completed=len(records),
        throughput_rps=len(records) / duration_s,
        output_tokens_per_s=sum(r.output_tokens for r in records) / duration_s,
        mean_response_s=statistics.fmean(latencies) if latencies else nan,
        p50_response_s=_percentile(latencies, 0.5),
        p95_response_s=_percentile(latencies, 0.95),
        mean_ttft_s=statistics.fmean(r.ttft_s for r in records) if records else nan,
        mean_running=run_area / duration_s,
        mean_waiting=wait_area / duration_s,
        max_waiting=max_waiting,
        preemptions=preemptions,
    )


def predict_closed_loop(profile: SimProfile, users_levels: list[int], duration_s: float = 1800.0, seed: int = 0,
                        warmup_s: float | None = None) -> list[PredictedStep]:
    """Predict steady-state closed-loop behaviour for each user count (virtual seconds of the profile).

    ``warmup_s`` defaults to ``duration_s / 3``.
    """
    if duration_s <= 0 or any(u < 1 for u in users_levels):
        raise ValueError("duration_s must be > 0 and every user level >= 1")
    warm = duration_s / 3 if warmup_s is None else warmup_s
    return [_run_level(profile, users, duration_s, warm, seed) for users in users_levels]
