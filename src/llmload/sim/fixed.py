"""Engine "fixed": every request independent (no batching), exact absolute deadlines.

Token k (1-based) of a request that arrived at ``a`` is due at ``a + ttft_s + (k-1) * itl_s``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from llmload.sim.events import EngineStats, FinishedRecord, TokenEvent
from llmload.sim.sim_profile import SimProfile


@dataclass
class _Req:
    arrival_s: float
    prompt_tokens: int
    output_tokens: int
    emitted: int = 0

    def due_s(self, k: int, ttft_s: float, itl_s: float) -> float:
        return self.arrival_s + ttft_s + (k - 1) * itl_s


class FixedEngine:
    def __init__(self, profile: SimProfile) -> None:
        self.profile = profile
        self.ttft_s = profile.ttft_s
        self.itl_s = profile.itl_s
        self._active: dict[str, _Req] = {}
        self._finished: list[FinishedRecord] = []
        self.prompt_tokens_total = 0
        self.generation_tokens_total = 0
        self.finished_total = 0

    def add_request(self, req_id: str, prompt_tokens: int, output_tokens: int, now_s: float) -> None:
        if req_id in self._active:
            raise ValueError(f"duplicate request id {req_id!r}")
        if output_tokens < 1:
            raise ValueError("output_tokens must be >= 1")
        self._active[req_id] = _Req(now_s, prompt_tokens, output_tokens)
        self.prompt_tokens_total += prompt_tokens

    def abort(self, req_id: str) -> None:
        self._active.pop(req_id, None)

    def _due_count(self, req: _Req, until_s: float) -> int:
        if until_s < req.due_s(1, self.ttft_s, self.itl_s):
            return 0
        if self.itl_s <= 0:
            return req.output_tokens
        k = 1 + math.floor((until_s - req.arrival_s - self.ttft_s) / self.itl_s)
        k = min(k + 1, req.output_tokens)
        while k > 1 and req.due_s(k, self.ttft_s, self.itl_s) > until_s:
            k -= 1
        return k

    def advance(self, until_s: float, start_at_until: bool = True) -> list[TokenEvent]:
        events: list[TokenEvent] = []
        for req_id, req in list(self._active.items()):
            k = self._due_count(req, until_s)
            if k <= req.emitted:
                continue
            n, first = k - req.emitted, req.emitted == 0
            req.emitted = k
            self.generation_tokens_total += n
            t_s = req.due_s(k, self.ttft_s, self.itl_s)
            finished = k >= req.output_tokens
            events.append(TokenEvent(req_id, t_s, n, finished, first))
            if finished:
                del self._active[req_id]
                self.finished_total += 1
                first_s = req.due_s(1, self.ttft_s, self.itl_s)  # no queue: scheduled on arrival
                self._finished.append(FinishedRecord(req_id, req.arrival_s, first_s, t_s, req.prompt_tokens,
                                                     req.output_tokens, 0, req.arrival_s))
        return events

    def _next(self) -> tuple[float, bool] | None:
        best: tuple[float, bool] | None = None
        for req in self._active.values():
            t_s = req.due_s(req.emitted + 1, self.ttft_s, self.itl_s)
            if best is None or t_s < best[0]:
                best = (t_s, req.emitted == 0)
        return best

    def next_token_s(self) -> float | None:
        nxt = self._next()
        return None if nxt is None else nxt[0]

    def next_token_is_first(self) -> bool:
        nxt = self._next()
        return nxt is not None and nxt[1]

    def next_change_s(self) -> float | None:
        return self.next_token_s()

    def stats(self) -> EngineStats:
        return EngineStats(len(self._active), 0, 0.0, 0, self.prompt_tokens_total, self.generation_tokens_total,
                           self.finished_total, None, self.profile.block_size)

    def drain_finished(self) -> list[FinishedRecord]:
        out, self._finished = self._finished, []
        return out
