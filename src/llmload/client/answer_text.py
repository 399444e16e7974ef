"""The answer's text, decoded DECODE_EVERY content chunks at a time while the stream lasts (never per chunk):
reasoning (reasoning_content, or <think>...</think> in the content) separated from the answer proper, and the
first chunk of the answer."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from llmload.client.stream_facts import MalformedStream, StreamFacts

try:  # orjson decodes the answer chunks several times faster; the stdlib is the fallback
    import orjson

    _loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover - exercised where orjson is not installed
    _loads = json.loads

# content chunks decoded together: one byte-regex pass, ~0.25-0.4 ms of work (benchmarks/README.md, target 3)
DECODE_EVERY = 64

# the usual chunk: one choice whose delta holds one text key (and maybe the role): read without decoding
_SIMPLE_DELTA = re.compile(
    rb'"delta":\{(?:"role":"assistant",)?"(content|reasoning_content|reasoning)":"((?:[^"\\]|\\.)*)"\}'
)


def decode_object(payload: bytes) -> dict[str, Any]:
    """One JSON object (an SSE payload, or a whole non-streamed body); MalformedStream when it is none."""
    try:
        obj = _loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedStream(f"invalid JSON in SSE event: {payload[:80]!r}") from exc
    if not isinstance(obj, dict):
        raise MalformedStream(f"SSE event is not a JSON object: {payload[:80]!r}")
    return obj


class AnswerText:
    """The text of one answer, built as its content chunks come, DECODE_EVERY at a time. Decoded at the end
    instead, answers of equal length that ended together were decoded one after another with the event loop's
    sockets unread (a 32k-token answer: 30-50 ms), and their chunks, kept until then, were walked by every full
    garbage collection while they streamed (16 such answers: 11 ms a collection)."""

    def __init__(self, chunk_s: list[float], completions: bool = False) -> None:
        self.completions = completions
        self.first_answer_s: float | None = None  # the first chunk of the answer proper (after any reasoning)
        self._chunk_s = chunk_s  # every content chunk's arrival, as the stream's facts grow it (the payloads' in step)
        self._decoded = 0  # chunks decoded so far
        self._payloads: list[bytes] = []  # chunks not decoded yet (fewer than DECODE_EVERY)
        self._answer: list[str] = []  # one string per batch of chunks
        self._reasoning: list[str] = []  # likewise
        self._in_think = False

    @property
    def undecoded(self) -> int:
        """Chunks received and not decoded yet."""
        return len(self._payloads)

    def add(self, payloads: list[bytes]) -> None:
        """Content chunks, once their arrivals are in chunk_s."""
        self._payloads += payloads
        if len(self._payloads) >= DECODE_EVERY:
            self._decode()

    def finish(self, facts: StreamFacts) -> None:
        """Decodes what is left and puts the answer, the reasoning and first_answer_s in `facts`."""
        self._decode()
        facts.answer_text = "".join(self._answer)
        facts.reasoning_text = "".join(self._reasoning)
        facts.first_answer_s = self.first_answer_s

    def _decode(self) -> None:
        payloads = self._payloads
        if not payloads:
            return
        arrivals_s = self._chunk_s[self._decoded : self._decoded + len(payloads)]
        self._payloads = []
        self._decoded += len(payloads)
        deltas = (_completion_deltas if self.completions else _simple_deltas)(payloads)
        if deltas is not None and not self.completions and self._answer_only(arrivals_s, deltas):
            return
        answer: list[str] = []
        reasoning: list[str] = []
        for i, arrival_s in enumerate(arrivals_s):
            delta = {deltas[i][0]: deltas[i][1]} if deltas is not None else _chunk_delta(payloads[i])
            reasoning_piece = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning_piece, str):
                reasoning.append(reasoning_piece)
            piece = delta.get("content")
            if not isinstance(piece, str) or not piece:
                continue
            answer_piece, self._in_think = strip_think(piece, self._in_think, reasoning)
            if answer_piece:
                if self.first_answer_s is None and answer_piece.strip():
                    self.first_answer_s = arrival_s
                answer.append(answer_piece)
        self._answer.append("".join(answer))
        self._reasoning.append("".join(reasoning))

    def _answer_only(self, arrivals_s: list[float], deltas: list[tuple[str, str]]) -> bool:
        """The common case, no reasoning in these chunks nor open before them: their answer is every piece
        joined. False: not this case."""
        if self._in_think or any(key != "content" for key, _ in deltas):
            return False
        text = "".join([piece for _, piece in deltas])
        if "<think>" in text or "</think>" in text:
            return False
        self._answer.append(text)
        if self.first_answer_s is None:
            pieces = zip(arrivals_s, deltas, strict=True)
            self.first_answer_s = next((arrival_s for arrival_s, (_, piece) in pieces if piece.strip()), None)
        return True


def completion_text(chunk: dict[str, Any]) -> str:
    """The text of a /v1/completions chunk or response's first choice ("" without one)."""
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        raise MalformedStream("completion without a 'choices' list")
    first = choices[0] if choices else None
    text = first.get("text") if isinstance(first, dict) else None
    return text if isinstance(text, str) else ""


def _chunk_delta(payload: bytes) -> dict[str, Any]:
    """The delta of the first choice. The usual one-key delta is read straight from the bytes (a full
    decode costs ~2 us per chunk, most of the client's CPU at high token rates); anything else is decoded."""
    if payload.count(b'"delta":') == 1:
        m = _SIMPLE_DELTA.search(payload)
        if m:
            return {m.group(1).decode(): _json_string(m.group(2))}
    return _delta(decode_object(payload))


def _completion_deltas(payloads: list[bytes]) -> list[tuple[str, str]]:
    return [("content", completion_text(decode_object(p))) for p in payloads]


def _simple_deltas(payloads: list[bytes]) -> list[tuple[str, str]] | None:
    """(key, text) of every payload with one regex pass over all of them, when each holds exactly one
    simple delta (see _SIMPLE_DELTA; a match never reaches past its own payload); else None."""
    joined = b"\n".join(payloads)
    found = _SIMPLE_DELTA.findall(joined)
    if len(found) != len(payloads) or joined.count(b'"delta":') != len(payloads):
        return None
    return [(key.decode(), _json_string(raw)) for key, raw in found]


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


def _delta(chunk: dict[str, Any]) -> dict[str, Any]:
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        raise MalformedStream("chat completion chunk without a 'choices' list")
    if not choices:
        return {}
    first = choices[0]
    delta = first.get("delta") if isinstance(first, dict) else None
    return delta if isinstance(delta, dict) else {}


def strip_think(piece: str, in_think: bool, reasoning: list[str]) -> tuple[str, bool]:
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
