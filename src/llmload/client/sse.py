"""Pure Server-Sent-Events handling for OpenAI-style chat completion streams.

`SseSplitter` turns arbitrary byte pieces (as they come off the socket) into complete `data:` payloads.
`StreamAccumulator` turns timestamped payloads into the raw facts of a record. The hot path never decodes
JSON: content-bearing chunks are recognised with one byte regex; only the usage trailer (and, when the
answer text is needed, all chunks after the stream ended) are decoded.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_EVENT_END = re.compile(rb"\r?\n\r?\n")
# a delta whose content / reasoning string is non-empty
_CONTENT = re.compile(rb'"(?:content|reasoning_content|reasoning)":\s?"(?!")')
_FINISH = re.compile(rb'"finish_reason":\s?"([a-z_]+)"')
_USAGE = re.compile(rb'"usage":\s?\{')
DONE = b"[DONE]"


class SseSplitter:
    """Accumulates bytes and yields the data payload of every complete event."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[bytes]:
        buffer = self._buffer + data if self._buffer else data
        payloads: list[bytes] = []
        start = 0
        for match in _EVENT_END.finditer(buffer):
            payload = _event_data(buffer[start : match.start()])
            if payload is not None:
                payloads.append(payload)
            start = match.end()
        self._buffer = buffer[start:]
        return payloads

    @property
    def pending(self) -> bytes:
        """Bytes of an event that has not been terminated yet."""
        return self._buffer


def _event_data(event: bytes) -> bytes | None:
    data_lines = []
    for line in event.splitlines():
        if line.startswith(b"data:"):
            data_lines.append(line[5:].lstrip(b" "))
    if not data_lines:
        return None  # comment or keep-alive
    return b"\n".join(data_lines)


class MalformedStream(Exception):
    """An SSE payload was not a valid chat completion chunk."""


@dataclass(slots=True)
class StreamFacts:
    """What one stream told us, before it becomes a Record."""

    first_token_s: float | None = None
    first_answer_s: float | None = None
    last_token_s: float | None = None
    chunk_s: list[float] = field(default_factory=list)
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    token_source: str = "usage"
    finish_reason: str | None = None
    done: bool = False
    answer_text: str = ""
    reasoning_text: str = ""


class StreamAccumulator:
    """Feeds on (arrival time, payload) pairs; `finish()` returns the StreamFacts."""

    def __init__(self, keep_text: bool) -> None:
        self.keep_text = keep_text
        self.facts = StreamFacts()
        self._content: list[tuple[float, bytes]] = []

    def add(self, arrival_s: float, payloads: list[bytes]) -> None:
        facts = self.facts
        for payload in payloads:
            if payload == DONE:
                facts.done = True
                continue
            if _CONTENT.search(payload):
                if facts.first_token_s is None:
                    facts.first_token_s = arrival_s
                facts.last_token_s = arrival_s
                facts.chunk_s.append(arrival_s)
                if self.keep_text:
                    self._content.append((arrival_s, payload))
            if facts.finish_reason is None:
                m = _FINISH.search(payload)
                if m:
                    facts.finish_reason = m.group(1).decode()
            if _USAGE.search(payload):
                self._take_usage(payload)

    def _take_usage(self, payload: bytes) -> None:
        usage = _decode(payload).get("usage")
        if not isinstance(usage, dict):
            return
        self.facts.prompt_tokens = _int_or_none(usage.get("prompt_tokens"))
        self.facts.output_tokens = _int_or_none(usage.get("completion_tokens"))
        details = usage.get("completion_tokens_details")
        if isinstance(details, dict):
            self.facts.reasoning_tokens = _int_or_none(details.get("reasoning_tokens"))

    def finish(self) -> StreamFacts:
        facts = self.facts
        if self.keep_text:
            _split_reasoning(facts, self._content)
        if facts.output_tokens is None:
            facts.output_tokens = len(facts.chunk_s)
            facts.token_source = "chunks"
        return facts


def _decode(payload: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedStream(f"invalid JSON in SSE event: {payload[:80]!r}") from exc
    if not isinstance(obj, dict):
        raise MalformedStream(f"SSE event is not a JSON object: {payload[:80]!r}")
    return obj


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _split_reasoning(facts: StreamFacts, content: list[tuple[float, bytes]]) -> None:
    """Decodes the content chunks, separates reasoning (reasoning_content or <think>...</think>)
    from the answer, and finds the first answer chunk."""
    answer: list[str] = []
    reasoning: list[str] = []
    in_think = False
    for arrival_s, payload in content:
        delta = _delta(_decode(payload))
        reasoning_piece = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning_piece, str):
            reasoning.append(reasoning_piece)
        piece = delta.get("content")
        if not isinstance(piece, str) or not piece:
            continue
        answer_piece, in_think = _strip_think(piece, in_think, reasoning)
        if answer_piece:
            if facts.first_answer_s is None and answer_piece.strip():
                facts.first_answer_s = arrival_s
            answer.append(answer_piece)
    facts.answer_text = "".join(answer)
    facts.reasoning_text = "".join(reasoning)


def _delta(chunk: dict[str, Any]) -> dict[str, Any]:
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        raise MalformedStream("chat completion chunk without a 'choices' list")
    if not choices:
        return {}
    first = choices[0]
    delta = first.get("delta") if isinstance(first, dict) else None
    return delta if isinstance(delta, dict) else {}


def _strip_think(piece: str, in_think: bool, reasoning: list[str]) -> tuple[str, bool]:
    """Returns the answer part of one content piece, moving <think> text to `reasoning`."""
    answer: list[str] = []
    rest = piece
    while rest:
        if in_think:
            end = rest.find("</think>")
            if end < 0:
                reasoning.append(rest)
                return "".join(answer), True
            reasoning.append(rest[:end])
            rest = rest[end + len("</think>") :]
            in_think = False
        else:
            start = rest.find("<think>")
            if start < 0:
                answer.append(rest)
                break
            answer.append(rest[:start])
            rest = rest[start + len("<think>") :]
            in_think = True
    return "".join(answer), in_think
