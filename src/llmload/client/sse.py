"""Pure Server-Sent-Events handling for OpenAI-style chat completion streams.

`SseSplitter` turns arbitrary byte pieces (as they come off the socket) into complete `data:` payloads.
`StreamAccumulator` turns timestamped payloads into the raw facts of a record. The hot path never decodes
JSON: content-bearing chunks are recognised with one byte regex; only the usage trailer (and, when the
answer text is needed, all chunks after the stream ended, in one decode call) are decoded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

try:  # orjson decodes the answer chunks several times faster; the stdlib is the fallback
    import orjson

    _loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover - exercised where orjson is not installed
    _loads = json.loads

# a delta whose content / reasoning string is non-empty
_CONTENT = re.compile(rb'"(?:content|reasoning_content|reasoning)":\s?"(?!")')
_FINISH = re.compile(rb'"finish_reason":\s?"([a-z_]+)"')
_USAGE = re.compile(rb'"usage":\s?\{')
# the usual chunk: one choice whose delta holds one text key (and maybe the role): read without decoding
_SIMPLE_DELTA = re.compile(
    rb'"delta":\{(?:"role":"assistant",)?"(content|reasoning_content|reasoning)":"((?:[^"\\]|\\.)*)"\}'
)
DONE = b"[DONE]"


class SseSplitter:
    """Accumulates bytes and yields the data payload of every complete event."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[bytes]:
        buffer = self._buffer + data if self._buffer else data
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        events = buffer.split(b"\n\n")
        self._buffer = events.pop()
        if not events:
            return []
        complete = len(buffer) - len(self._buffer)
        if len(events) > 1 and (  # many events, each one `data: {...}` line: no per-event checks needed
            buffer.startswith(b"data: ")
            and buffer.count(b"\n\ndata: ", 0, complete) == len(events) - 1
            and buffer.count(b"\n", 0, complete) == 2 * len(events)
            and buffer.find(b"data:  ", 0, complete) < 0
        ):
            return [event[6:] for event in events]
        payloads: list[bytes] = []
        for event in events:
            # the common case, one `data: {...}` line, without splitting lines
            if event[:6] == b"data: " and event[6:7] != b" " and b"\n" not in event:
                payloads.append(event[6:])
            else:
                payload = _event_data(event)
                if payload is not None:
                    payloads.append(payload)
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
        """All payloads of one read share its arrival time: per event only the content check runs;
        finish_reason and usage are looked for once in the read's payloads joined."""
        facts = self.facts
        if len(payloads) == 1:  # the paced case: one event per read
            block = payloads[0]
            content = payloads if _CONTENT.search(block) else []
            finish_possible = b'"finish_reason":null' not in block
        else:
            search = _CONTENT.search
            content = [payload for payload in payloads if search(payload)]
            block = b"\n".join(payloads)
            finish_possible = True
        if content:
            if facts.first_token_s is None:
                facts.first_token_s = arrival_s
            facts.last_token_s = arrival_s
            facts.chunk_s.extend([arrival_s] * len(content))
            if self.keep_text:
                self._content.extend([(arrival_s, payload) for payload in content])
        if DONE in payloads:
            facts.done = True
        if facts.finish_reason is None and finish_possible:
            m = _FINISH.search(block)
            if m:
                facts.finish_reason = m.group(1).decode()
        if b'"usage"' in block:
            for payload in payloads:
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
        obj = _loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedStream(f"invalid JSON in SSE event: {payload[:80]!r}") from exc
    if not isinstance(obj, dict):
        raise MalformedStream(f"SSE event is not a JSON object: {payload[:80]!r}")
    return obj


def _chunk_delta(payload: bytes) -> dict[str, Any]:
    """The delta of the first choice. The usual one-key delta is read straight from the bytes (a full
    decode costs ~2 us per chunk, most of the client's CPU at high token rates); anything else is decoded."""
    if payload.count(b'"delta":') == 1:
        m = _SIMPLE_DELTA.search(payload)
        if m:
            return {m.group(1).decode(): _json_string(m.group(2))}
    return _delta(_decode(payload))


def _simple_deltas(payloads: list[bytes]) -> list[tuple[str, str]] | None:
    """(key, text) of every payload with one regex pass over all of them, when each holds exactly one
    simple delta (see _SIMPLE_DELTA; a match never reaches past its own payload); else None."""
    joined = b"\n".join(payloads)
    found = _SIMPLE_DELTA.findall(joined)
    if len(found) != len(payloads) or joined.count(b'"delta":') != len(payloads):
        return None
    return [(key.decode(), _json_string(raw)) for key, raw in found]


def _answer_only(facts: StreamFacts, content: list[tuple[float, bytes]], deltas: list[tuple[str, str]]) -> bool:
    """The common case, no reasoning at all: the answer is every piece joined. False: not this case."""
    if any(key != "content" for key, _ in deltas):
        return False
    text = "".join([piece for _, piece in deltas])
    if "<think>" in text or "</think>" in text:
        return False
    facts.answer_text = text
    facts.reasoning_text = ""
    facts.first_answer_s = next(
        (arrival_s for (arrival_s, _), (_, piece) in zip(content, deltas, strict=True) if piece.strip()), None
    )
    return True


def _json_string(raw: bytes) -> str:
    """The text of a JSON string literal's inside (without the quotes)."""
    try:
        if b"\\" not in raw:
            return raw.decode("utf-8")
        text = json.loads(b'"' + raw + b'"')
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedStream(f"invalid JSON string in SSE event: {raw[:80]!r}") from exc
    if not isinstance(text, str):  # pragma: no cover - a quoted literal always decodes to str
        raise MalformedStream(f"invalid JSON string in SSE event: {raw[:80]!r}")
    return text


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _split_reasoning(facts: StreamFacts, content: list[tuple[float, bytes]]) -> None:
    """Decodes the content chunks, separates reasoning (reasoning_content or <think>...</think>)
    from the answer, and finds the first answer chunk."""
    deltas = _simple_deltas([payload for _, payload in content])
    if deltas is not None and _answer_only(facts, content, deltas):
        return
    answer: list[str] = []
    reasoning: list[str] = []
    in_think = False
    for i, (arrival_s, payload) in enumerate(content):
        delta = {deltas[i][0]: deltas[i][1]} if deltas is not None else _chunk_delta(payload)
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
