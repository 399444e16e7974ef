"""`self.openai` of an LlmUser: an object shaped like the `openai` SDK's client, so that code written against
the SDK moves into a locustfile unchanged:

    stream = self.openai.chat.completions.create(model=MODEL, messages=messages, stream=True)
    for chunk in stream:                      # the SDK's own ChatCompletionChunk objects
        text += chunk.choices[0].delta.content or ""
    answer = self.openai.chat.completions.create(model=MODEL, messages=messages)   # a ChatCompletion
    self.openai.completions.create(model=MODEL, prompt="...", stream=True)          # Completion chunks

Each call is one request on the user's own recorded client: sent, timed and recorded exactly as `self.chat`'s
(records.jsonl, Locust's statistics, steps, report) under `name=` (llmload's addition to the SDK's arguments;
default "chat" / "completion"). What differs from the SDK:
- create() reads the response to its end (timed on the socket, as every request) before it returns; the stream
  then hands out the chunks the server sent. Leaving the loop early does not cut the request short.
- The body is the call's (the run's --temperature and --max-tokens are not added): the run's model where the
  call names none, `stream_options.include_usage` on a stream (the server's token counts; the usage-only chunk
  this adds is not handed out unless the call asked for it), then the run's --extra-body and the call's
  `extra_body`. `extra_headers`, `extra_query` and `timeout` are not taken (TypeError): the run's API key and
  timeouts apply.
- A failed request (recorded as failed) raises RequestFailed, an `openai.OpenAIError`.

Cost per chunk (benchmarks/locustfile_api_cost.py, one client core against the fake server, one run each on a
2-core machine): +1.9 us of client CPU per chunk over `self.chat` when answers come in bursts (64 streams x 256
tokens unpaced: 4.3 us against 2.4 us, so about 230,000 instead of 410,000 tokens/s per client core), +4.5 us
on about 53 us when each token comes on its own (32 streams x 64 tokens at 20 ms: there the per-read cost
dominates). The extra is keeping each payload and parsing it into the SDK's type (pydantic's JSON validator,
about 2 us a chunk); timings are unaffected: they are taken before any of it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import Any, Generic, TypeVar

import openai
from openai.types import Completion
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import BaseModel, ValidationError

from llmload.client.sse import DONE
from llmload.client.stream import CHAT_PATH, COMPLETIONS_PATH, StreamOutcome
from llmload.load.locustfile_requests import own_spec
from llmload.load.request_encoder import PreparedRequest, encode
from llmload.load.settings import LoadSettings
from llmload.records import Record

Send = Callable[..., tuple[Record, StreamOutcome]]  # LlmUser.send(prepared, scenario, keep_text, keep_events)
T = TypeVar("T", bound=BaseModel)
NOT_TAKEN = ("extra_headers", "extra_query", "timeout")
_UNSET = tuple(t for t in (getattr(openai, "NotGiven", None), getattr(openai, "Omit", None)) if t is not None)


class RequestFailed(openai.OpenAIError):
    """A request that failed (timeout, HTTP status, disconnect, ...): recorded, then raised to the task."""

    def __init__(self, record: Record) -> None:
        super().__init__(f"{record.error_kind}: {record.error}")
        self.record = record
        self.status_code = record.http_status
        self.error_kind = record.error_kind


class ChunkStream(Generic[T]):
    """What the SDK's Stream gives code that iterates it: the chunks, one object each, as the SDK types them."""

    def __init__(self, events: list[bytes], model: type[T], hide_usage_chunk: bool) -> None:
        self._chunks = _chunks(events, model, hide_usage_chunk)

    def __iter__(self) -> Iterator[T]:
        return self._chunks

    def __next__(self) -> T:
        return next(self._chunks)

    def __enter__(self) -> ChunkStream[T]:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._chunks.close()


def _chunks(events: list[bytes], model: type[T], hide_usage_chunk: bool) -> Generator[T, None, None]:
    for payload in events:
        if payload == DONE:
            return
        chunk = parse(payload, model)
        if (
            hide_usage_chunk
            and not getattr(chunk, "choices", True)
            and getattr(chunk, "usage", None) is not None
        ):
            continue
        yield chunk


def parse(payload: bytes, model: type[T]) -> T:
    """The SDK's object of one payload: validated by pydantic's JSON parser (fast), or, for a field outside the
    SDK's types (a server's own finish reason), built without validation as the SDK itself builds it."""
    try:
        return model.model_validate_json(payload)
    except ValidationError:
        return model.construct(**json.loads(payload))


class _Create:
    """`create(...)` of one endpoint."""

    def __init__(self, settings: LoadSettings, send: Send, user_class: str, chat: bool) -> None:
        self._settings, self._send, self._user_class, self._chat = settings, send, user_class, chat
        self._types: tuple[type[BaseModel], type[BaseModel]] = (
            (ChatCompletion, ChatCompletionChunk) if chat else (Completion, Completion)
        )

    def create(
        self, *, name: str | None = None, extra_body: Mapping[str, Any] | None = None, **params: Any
    ) -> Any:
        """The SDK's create(): a ChatCompletion (Completion), or with stream=True a ChunkStream of chunks."""
        for key in NOT_TAKEN:
            if key in params:
                raise TypeError(
                    f"{key}: not taken by llmload's openai-shaped client (the run's settings apply)"
                )
        body = {key: value for key, value in params.items() if not isinstance(value, _UNSET)}
        body.setdefault("model", self._settings.model)
        stream = bool(body.get("stream", False))
        options = dict(body.get("stream_options") or {})
        asked_usage = bool(options.get("include_usage"))
        if stream and not asked_usage:
            body["stream_options"] = {**options, "include_usage": True}
        body.update(self._settings.extra_body)
        body.update(extra_body or {})
        spec = own_spec(name or ("chat" if self._chat else "completion"), self._user_class)
        prepared = PreparedRequest(spec, CHAT_PATH if self._chat else COMPLETIONS_PATH, encode(body), stream)
        record, outcome = self._send(prepared, None, keep_text=False, keep_events=True)
        if not record.ok:
            raise RequestFailed(record)
        events = outcome.events or []
        whole, chunk = self._types
        if stream:
            return ChunkStream(events, chunk, hide_usage_chunk=not asked_usage)
        return parse(events[0], whole)


class _Chat:
    def __init__(self, completions: _Create) -> None:
        self.completions = completions


class OpenAiShape:
    """`.chat.completions.create(...)` and `.completions.create(...)`, as on `openai.OpenAI()`."""

    def __init__(self, settings: LoadSettings, send: Send, user_class: str) -> None:
        self.chat = _Chat(_Create(settings, send, user_class, chat=True))
        self.completions = _Create(settings, send, user_class, chat=False)
