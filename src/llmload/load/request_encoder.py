"""A scenario's request (llmload.scenarios.workload_request.RequestSpec) as the bytes the client sends, with
the run's settings: the endpoint (chat messages, or a completion prompt: the other form converted), streamed
with the usage trailer or not, temperature, max_tokens and ignore_eos (the request's own, else the run's), and
--extra-body merged last. Encoded once per distinct request, before the first step; a locustfile's own
request (LlmUser.chat / complete) when it is sent, with the call's fields merged after the run's."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmload.client.stream import CHAT_PATH, COMPLETIONS_PATH
from llmload.load.settings import LoadSettings
from llmload.scenarios.datasets.token_counting import message_texts
from llmload.scenarios.workload_request import RequestSpec


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    spec: RequestSpec
    path: str  # CHAT_PATH or COMPLETIONS_PATH
    body: bytes
    stream: bool = True  # the body asks for a stream (else one whole answer)

    @property
    def completions(self) -> bool:
        return self.path == COMPLETIONS_PATH


def request_body(
    settings: LoadSettings, spec: RequestSpec, chat: bool | None = None, stream: bool | None = None
) -> dict[str, Any]:
    """The body of `spec` with the run's settings; `chat` / `stream` given: that endpoint / mode instead of the
    run's."""
    chat = settings.chat if chat is None else chat
    stream = settings.stream if stream is None else stream
    body: dict[str, Any] = {"model": settings.model}
    if chat:
        body["messages"] = list(spec.messages) if spec.messages is not None else [_user(spec.prompt or "")]
    else:
        body["prompt"] = spec.prompt if spec.prompt is not None else "\n".join(message_texts(spec.messages or []))
    body["stream"] = stream
    if stream:
        body["stream_options"] = {"include_usage": True}
    body["temperature"] = settings.temperature
    max_tokens = spec.max_tokens if spec.max_tokens is not None else settings.max_tokens
    if max_tokens:
        body["max_tokens"] = max_tokens
    if spec.ignore_eos if spec.ignore_eos is not None else settings.ignore_eos:
        body["ignore_eos"] = True
    body.update(settings.extra_body)
    return body


def prepare(settings: LoadSettings, spec: RequestSpec) -> PreparedRequest:
    path = CHAT_PATH if settings.chat else COMPLETIONS_PATH
    return PreparedRequest(spec, path, encode(request_body(settings, spec)), settings.stream)


def prepare_own(
    settings: LoadSettings, spec: RequestSpec, chat: bool, fields: Mapping[str, Any]
) -> PreparedRequest:
    """A locustfile's request to one endpoint: the run's body for `spec`, then the call's own `fields` (which
    win, `stream` included: False sends no stream_options)."""
    stream = bool(fields.get("stream", settings.stream))
    body = request_body(settings, spec, chat, stream)
    body.update(fields)
    return PreparedRequest(spec, CHAT_PATH if chat else COMPLETIONS_PATH, encode(body), stream)


def encode(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def prepare_all(settings: LoadSettings, specs: Sequence[RequestSpec]) -> list[PreparedRequest]:
    return [prepare(settings, spec) for spec in specs]


def _user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}
