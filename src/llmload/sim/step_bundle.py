"""The vLLM engine's bookkeeping (pure): one request as the scheduler holds it, and a bundle of consecutive
decode steps with the same batch, whose sub-step end times have a closed form."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Seq:
    """One request in the scheduler: its tokens, KV blocks held, first-token time and preemptions."""

    req_id: str
    prompt_tokens: int
    output_tokens: int
    arrival_s: float
    generated: int = 0
    blocks: int = 0
    first_token_s: float | None = None
    scheduled_s: float | None = None  # first admitted (vLLM's scheduled_ts: preemptions do not move it)
    admitted_once: bool = False
    preemptions: int = 0
    aborted: bool = False


@dataclass
class StepBundle:
    """Steps ``1..n_steps`` of one batch from ``start_s``; step j ends at ``end_s(j)``."""

    start_s: float
    seqs: list[Seq]
    start_generated: list[int]
    n_steps: int
    first_extra_s: float  # prefill cost of the first sub-step
    per_step_s: float  # base + per_seq*batch + per_kv*context at bundle start
    growth_s: float  # per_kv * batch: extra time of sub-step j (0-based) is growth_s * j
    done: int = 0

    def end_s(self, steps: int) -> float:
        """Virtual time at which the first ``steps`` sub-steps have completed."""
        return self.start_s + self.first_extra_s + steps * self.per_step_s + self.growth_s * steps * (steps - 1) / 2

    def completed_by(self, until_s: float) -> int:
        lo, hi = self.done, self.n_steps
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.end_s(mid) <= until_s:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def step_in_progress_at(self, t_s: float) -> int:
        """Smallest step count whose end is >= t_s (at least max(done, 1))."""
        lo, hi = max(self.done, 1), self.n_steps
        while lo < hi:
            mid = (lo + hi) // 2
            if self.end_s(mid) >= t_s:
                hi = mid
            else:
                lo = mid + 1
        return lo
