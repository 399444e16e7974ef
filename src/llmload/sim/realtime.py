"""Real-time shell around a virtual-time engine: virtual = (wall - t0) * time_scale.

A single driver task sleeps until the next token is due (never waking more often than the profile's
``stream_min_interval_wall_s`` except for first tokens), advances the engine to virtual-now and hands the due
tokens to per-request streams. Handlers then write all pending tokens of a stream as one chunk.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field

from llmload.sim.events import Engine, FinishedRecord
from llmload.sim.predict import make_engine
from llmload.sim.request_histograms import RequestHistograms
from llmload.sim.sim_profile import SimProfile


@dataclass
class Stream:
    """Tokens due for one request and not yet written."""

    output_tokens: int
    finish_reason: str
    pending: int = 0
    due: int = 0
    event: asyncio.Event = field(default_factory=asyncio.Event)


class SimRuntime:
    def __init__(self, profile: SimProfile, time_scale: float) -> None:
        self.profile = profile
        self.time_scale = time_scale
        self.engine: Engine = make_engine(profile)
        self.loop = asyncio.get_running_loop()
        self.t0 = self.loop.time()
        self.streams: dict[str, Stream] = {}
        self.histograms = RequestHistograms(time_scale)  # vLLM's per-request histograms (wall seconds)
        self.success: dict[str, int] = {"length": 0, "stop": 0}
        self._reasons: dict[str, str] = {}
        self._ids = itertools.count(1)
        self._waiter: asyncio.Future[None] | None = None
        self.lag_sum_wall_s = 0.0  # how late token events were handed to streams (wall seconds)
        self.lag_max_wall_s = 0.0
        self.lag_count = 0
        self._advanced_v = 0.0  # virtual time the engine was last advanced to

    def virtual_now(self) -> float:
        return (self.loop.time() - self.t0) * self.time_scale

    def submit(self, prompt_tokens: int, output_tokens: int, finish_reason: str,
               arrived_s: float) -> tuple[str, Stream]:
        """Add a request to the engine; raises ValueError if it can never fit.

        ``arrived_s`` (loop time) is when the handler received it: its clock starts there, so parsing the
        body is server time inside TTFT, as on a real server; never earlier than the engine's last advance.
        """
        req_id = f"{next(self._ids)}"
        at_v = min(self.virtual_now(), max(self._advanced_v, (arrived_s - self.t0) * self.time_scale))
        self.engine.add_request(req_id, prompt_tokens, output_tokens, at_v)
        stream = Stream(output_tokens, finish_reason)
        self.streams[req_id] = stream
        self._reasons[req_id] = finish_reason
        self.wake()
        return req_id, stream

    def release(self, req_id: str) -> None:
        """The handler is done with the request; abort it in the engine if unfinished (disconnect)."""
        stream = self.streams.pop(req_id, None)
        if stream is not None and stream.due < stream.output_tokens:
            self.engine.abort(req_id)
            self._reasons.pop(req_id, None)

    def wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _dispatch(self) -> None:
        now = self.loop.time()
        self._advanced_v = (now - self.t0) * self.time_scale
        for ev in self.engine.advance(self._advanced_v):
            stream = self.streams.get(ev.req_id)
            if stream is not None:
                lag = now - (self.t0 + ev.t_s / self.time_scale)
                self.lag_sum_wall_s += lag
                self.lag_max_wall_s = max(self.lag_max_wall_s, lag)
                self.lag_count += 1
                stream.pending += ev.n_tokens
                stream.due += ev.n_tokens
                stream.event.set()
        for rec in self.engine.drain_finished():
            self._record(rec)

    def _record(self, rec: FinishedRecord) -> None:
        self.histograms.observe(rec)
        reason = self._reasons.pop(rec.req_id, "length")
        self.success[reason] = self.success.get(reason, 0) + 1

    def _delay_s(self, woke_at: float) -> float | None:
        nxt = self.engine.next_token_s()
        if nxt is None:
            return None
        now = self.loop.time()
        delay = max(0.0, self.t0 + nxt / self.time_scale - now)
        if not self.engine.next_token_is_first():
            delay = max(delay, self.profile.stream_min_interval_wall_s - (now - woke_at))
        return max(0.0, delay - self.profile.precise_wake_wall_s)

    def _sleep_to_next_token(self) -> None:
        """With ``precise_wake_wall_s``: the timer fired early on purpose; sleep (blocking, sub-ms precise)
        until the next token is due, if that is within the lead."""
        lead_s = self.profile.precise_wake_wall_s
        if lead_s <= 0:
            return  # most profiles: no look-up of the next token on the driver's hot path
        nxt = self.engine.next_token_s()
        if nxt is None:
            return
        remaining_s = self.t0 + nxt / self.time_scale - self.loop.time()
        if 0 < remaining_s <= lead_s:
            time.sleep(remaining_s)

    async def run(self) -> None:
        """The driver task (runs until cancelled)."""
        while True:
            self._sleep_to_next_token()
            woke_at = self.loop.time()
            self._dispatch()
            delay = self._delay_s(woke_at)
            self._waiter = self.loop.create_future()
            handle = None if delay is None else self.loop.call_later(delay, self.wake)
            try:
                await self._waiter
            finally:
                if handle is not None:
                    handle.cancel()
