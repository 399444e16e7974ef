"""Types shared by the simulated engines (pure, virtual time)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class TokenEvent:
    """``n_tokens`` new tokens of ``req_id``; the last of them was due at virtual time ``t_s``."""

    req_id: str
    t_s: float
    n_tokens: int
    finished: bool
    first: bool  # the first of these tokens is the request's first token


@dataclass(frozen=True)
class FinishedRecord:
    """One finished request as the scheduler saw it; its phases are vLLM's (v1/metrics/stats.py): queue =
    first scheduled - arrival, prefill = first token - first scheduled (a preemption does not restart it),
    decode = last token - first token, inference = last token - first scheduled."""

    req_id: str
    arrival_s: float
    first_token_s: float
    finish_s: float
    prompt_tokens: int
    output_tokens: int
    preemptions: int
    scheduled_s: float  # first admitted to the running batch

    @property
    def ttft_s(self) -> float:
        return self.first_token_s - self.arrival_s

    @property
    def e2e_s(self) -> float:
        return self.finish_s - self.arrival_s

    @property
    def queue_s(self) -> float:
        return self.scheduled_s - self.arrival_s

    @property
    def prefill_s(self) -> float:
        return self.first_token_s - self.scheduled_s

    @property
    def decode_s(self) -> float:
        return self.finish_s - self.first_token_s

    @property
    def inference_s(self) -> float:
        return self.finish_s - self.scheduled_s


@dataclass(frozen=True)
class EngineStats:
    running: int
    waiting: int
    kv_usage: float  # fraction of KV blocks in use, 0..1
    preemptions_total: int
    prompt_tokens_total: int
    generation_tokens_total: int
    finished_total: int
    num_gpu_blocks: int | None
    block_size: int


class Engine(Protocol):
    """What the server and predict need from an engine; all times are virtual seconds."""

    def add_request(self, req_id: str, prompt_tokens: int, output_tokens: int, now_s: float) -> None: ...

    def abort(self, req_id: str) -> None: ...

    def advance(self, until_s: float, start_at_until: bool = True) -> list[TokenEvent]: ...

    def next_token_s(self) -> float | None: ...

    def next_token_is_first(self) -> bool: ...

    def next_change_s(self) -> float | None: ...

    def stats(self) -> EngineStats: ...

    def drain_finished(self) -> list[FinishedRecord]: ...
