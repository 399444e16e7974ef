"""Discrete-event model of vLLM's V1 scheduler in virtual time (pure: no asyncio, no wall clock).

Model:
- FCFS waiting queue; at most ``max_num_seqs`` running; KV cache in blocks of ``block_size`` tokens.
- At the start of every step each running request with P prompt and g generated tokens must hold
  ceil((P+g)/block_size) blocks (the KV of all its known tokens). If a block is missing and none is free,
  the most recently admitted running request is preempted (recompute mode: its blocks are freed, it goes to
  the FRONT of the waiting queue, a preemption is counted).
- Waiting requests (arrived by the step start) are admitted in order, only in steps without preemption,
  while a slot and ceil((P+g)/block_size) free blocks exist; admission prefills P+g tokens.
- Each step gives every running request one token. Step time = step_base_s + step_per_seq_s*batch
  + step_per_kv_token_s*sum(P+g) + prefill_s_per_token*prefilled tokens.
For speed, consecutive steps with the same batch (no admission, preemption or finish) form one "bundle"
whose sub-step end times have a closed form; bundles are split when a request arrives mid-bundle.
"""

from __future__ import annotations

from collections import deque

from llmload.sim.events import EngineStats, FinishedRecord, TokenEvent
from llmload.sim.sim_profile import SimProfile
from llmload.sim.step_bundle import Seq, StepBundle

MAX_BUNDLE_STEPS = 1 << 20
UNLIMITED_BLOCKS = 1 << 40


class VllmEngine:
    """vLLM V1-like continuous batching with a finite KV cache (see module docstring)."""

    def __init__(self, profile: SimProfile) -> None:
        self.profile = profile
        self.block_size = profile.block_size
        nb = profile.num_gpu_blocks
        self.total_blocks = UNLIMITED_BLOCKS if nb is None else nb
        self.free_blocks = self.total_blocks
        self._waiting: deque[Seq] = deque()
        self._running: list[Seq] = []
        self._by_id: dict[str, Seq] = {}
        self._bundle: StepBundle | None = None
        self._clock_s = 0.0
        self._last_until_s = 0.0
        self._finished: list[FinishedRecord] = []
        self.preemptions_total = 0
        self.prompt_tokens_total = 0
        self.generation_tokens_total = 0
        self.finished_total = 0

    # -- public API ---------------------------------------------------------------------------------
    def add_request(self, req_id: str, prompt_tokens: int, output_tokens: int, now_s: float) -> None:
        if req_id in self._by_id:
            raise ValueError(f"duplicate request id {req_id!r}")
        if prompt_tokens < 1 or output_tokens < 1:
            raise ValueError("prompt_tokens and output_tokens must be >= 1")
        if self._blocks_for(prompt_tokens + output_tokens - 1) > self.total_blocks:
            raise ValueError(
                f"request needs {prompt_tokens + output_tokens} tokens of KV cache but only "
                f"{self.total_blocks * self.block_size} exist"
            )
        arrival_s = max(now_s, self._last_until_s)
        seq = Seq(req_id, prompt_tokens, output_tokens, arrival_s)
        self._by_id[req_id] = seq
        self._waiting.append(seq)
        if self._bundle is not None:
            self._truncate(self._bundle, self._bundle.step_in_progress_at(arrival_s))

    def abort(self, req_id: str) -> None:
        seq = self._by_id.pop(req_id, None)
        if seq is None:
            return
        seq.aborted = True
        if seq in self._running:
            self._running.remove(seq)
            self.free_blocks += seq.blocks
            seq.blocks = 0
        else:
            self._waiting.remove(seq)

    def advance(self, until_s: float, start_at_until: bool = True) -> list[TokenEvent]:
        """Run every step that completes by ``until_s``; return the tokens that became due.

        A step starting exactly at ``until_s`` is begun only if ``start_at_until`` (pass False when
        requests arriving at ``until_s`` are still to be added, then call again).
        """
        events: list[TokenEvent] = []
        while True:
            bundle = self._bundle
            if bundle is not None:
                steps = bundle.completed_by(until_s)
                if steps > bundle.done:
                    self._apply(bundle, steps, events)
                if bundle.done < bundle.n_steps:
                    break
                self._clock_s = bundle.end_s(bundle.n_steps)
                self._bundle = None
                continue
            start_s = self._next_start_s()
            if start_s is None or start_s > until_s or (start_s == until_s and not start_at_until):
                break
            self._bundle = self._schedule(start_s)
            if self._bundle is None:
                break
        self._last_until_s = max(self._last_until_s, until_s)
        return events

    def next_token_s(self) -> float | None:
        """Virtual time the next token becomes due (end of the next sub-step), None if idle."""
        if self._bundle is not None:
            return self._bundle.end_s(self._bundle.done + 1)
        return self._next_start_s()

    def next_token_is_first(self) -> bool:
        b = self._bundle
        return b is None or (b.done == 0 and any(s.first_token_s is None for s in b.seqs))

    def next_change_s(self) -> float | None:
        """End of the current bundle (or the next step start): the next time the batch can change."""
        if self._bundle is not None:
            return self._bundle.end_s(self._bundle.n_steps)
        return self._next_start_s()

    def stats(self) -> EngineStats:
        used = self.total_blocks - self.free_blocks
        return EngineStats(
            running=len(self._running),
            waiting=len(self._waiting),
            kv_usage=used / self.total_blocks,
            preemptions_total=self.preemptions_total,
            prompt_tokens_total=self.prompt_tokens_total,
            generation_tokens_total=self.generation_tokens_total,
            finished_total=self.finished_total,
            num_gpu_blocks=self.profile.num_gpu_blocks,
            block_size=self.block_size,
        )

    def drain_finished(self) -> list[FinishedRecord]:
        out, self._finished = self._finished, []
        return out

    # -- scheduling ---------------------------------------------------------------------------------
    def _blocks_for(self, tokens: int) -> int:
        return -(-tokens // self.block_size)

    def _next_start_s(self) -> float | None:
        if self._running:
            return self._clock_s
        if self._waiting:
            return max(self._clock_s, self._waiting[0].arrival_s)
        return None

    def _preempt(self, seq: Seq) -> None:
        self.free_blocks += seq.blocks
        seq.blocks = 0
        seq.preemptions += 1
        self.preemptions_total += 1
        self._waiting.appendleft(seq)

    def _allocate_running(self) -> bool:
        """Give every running request the blocks for this step; return True if any was preempted."""
        preempted = False
        i = 0
        while i < len(self._running):
            seq = self._running[i]
            need = self._blocks_for(seq.prompt_tokens + seq.generated) - seq.blocks
            while need > self.free_blocks and self._running[-1] is not seq:
                self._preempt(self._running.pop())
                preempted = True
            if need > self.free_blocks:
                self._preempt(self._running.pop())
                return True
            self.free_blocks -= need
            seq.blocks += need
            i += 1
        return preempted

    def _admit(self, start_s: float) -> int:
        """Admit waiting requests FCFS; return the number of tokens to prefill."""
        prefill = 0
        while self._waiting and len(self._running) < self.profile.max_num_seqs:
            seq = self._waiting[0]
            if seq.arrival_s > start_s:
                break
            need = self._blocks_for(seq.prompt_tokens + seq.generated)
            if need > self.free_blocks:
                break
            self._waiting.popleft()
            self.free_blocks -= need
            seq.blocks = need
            self._running.append(seq)
            if not seq.admitted_once:
                seq.admitted_once = True
                seq.scheduled_s = start_s
                self.prompt_tokens_total += seq.prompt_tokens
            prefill += seq.prompt_tokens + seq.generated
        return prefill

    def _schedule(self, start_s: float) -> StepBundle | None:
        preempted_before = self.preemptions_total
        preempted = self._allocate_running()
        penalty_s = (self.preemptions_total - preempted_before) * self.profile.preemption_penalty_s
        prefill = 0 if preempted else self._admit(start_s)
        if not self._running:
            return None
        p = self.profile
        batch = len(self._running)
        context = sum(s.prompt_tokens + s.generated for s in self._running)
        bundle = StepBundle(
            start_s=start_s,
            seqs=list(self._running),
            start_generated=[s.generated for s in self._running],
            n_steps=1,
            first_extra_s=p.prefill_s_per_token * prefill + penalty_s,
            per_step_s=p.step_base_s + p.step_per_seq_s * batch + p.step_per_kv_token_s * context,
            growth_s=p.step_per_kv_token_s * batch,
        )
        if not preempted and prefill == 0:
            self._extend(bundle)
        return bundle

    def _extra_blocks(self, steps: int) -> int:
        """Blocks the running batch needs beyond what it holds to run ``steps`` sub-steps."""
        b, last = self.block_size, steps - 1
        return sum(max(0, -(-(s.prompt_tokens + s.generated + last) // b) - s.blocks) for s in self._running)

    def _extend(self, bundle: StepBundle) -> None:
        """Grow a decode-only bundle up to the next finish, block exhaustion or known arrival."""
        limit = min(MAX_BUNDLE_STEPS, min(s.output_tokens - s.generated for s in self._running))
        lo, hi = 1, limit
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._extra_blocks(mid) <= self.free_blocks:
                lo = mid
            else:
                hi = mid - 1
        for s in self._running:
            extra = self._blocks_for(s.prompt_tokens + s.generated + lo - 1) - s.blocks
            s.blocks += extra
            self.free_blocks -= extra
        bundle.n_steps = lo
        later = [s.arrival_s for s in self._waiting if s.arrival_s > bundle.start_s]
        if later:
            self._truncate(bundle, bundle.step_in_progress_at(min(later)))

    def _truncate(self, bundle: StepBundle, steps: int) -> None:
        if steps >= bundle.n_steps:
            return
        bundle.n_steps = steps
        for s, g0 in zip(bundle.seqs, bundle.start_generated, strict=True):
            if s.aborted:
                continue
            keep = self._blocks_for(s.prompt_tokens + g0 + steps - 1)
            self.free_blocks += s.blocks - keep
            s.blocks = keep

    def _apply(self, bundle: StepBundle, steps: int, events: list[TokenEvent]) -> None:
        """Commit sub-steps ``bundle.done+1 .. steps``: tokens, first-token times, finishes."""
        t_first = bundle.end_s(bundle.done + 1)
        t_last = bundle.end_s(steps)
        n = steps - bundle.done
        bundle.done = steps
        for s in bundle.seqs:
            if s.aborted:
                continue
            first = s.first_token_s is None
            if first:
                s.first_token_s = t_first
            s.generated += n
            self.generation_tokens_total += n
            finished = s.generated >= s.output_tokens
            events.append(TokenEvent(s.req_id, t_last, n, finished, first))
            if finished:
                self._finish(s, t_last)

    def _finish(self, seq: Seq, t_s: float) -> None:
        self._running.remove(seq)
        self.free_blocks += seq.blocks
        seq.blocks = 0
        del self._by_id[seq.req_id]
        self.finished_total += 1
        assert seq.first_token_s is not None and seq.scheduled_s is not None
        self._finished.append(FinishedRecord(seq.req_id, seq.arrival_s, seq.first_token_s, t_s,
                                             seq.prompt_tokens, seq.output_tokens, seq.preemptions, seq.scheduled_s))
