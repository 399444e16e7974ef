"""The answer's text, decoded once the stream has ended (never per chunk): reasoning (reasoning_content, or
<think>...</think> in the content) separated from the answer proper, and the first chunk of the answer."""

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

Pause = Callable[[], None]
PAUSE_EVERY = 256  # chunks decoded between two pauses: ~0.25 ms of work (benchmarks/README.md, target 3)

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


def split_reasoning(
    facts: StreamFacts, content: list[tuple[float, bytes]], completions: bool = False, pause: Pause | None = None
) -> None:
    """Decodes the content chunks, separates reasoning (reasoning_content or <think>...</think>) from the
    answer, and finds the first answer chunk. `completions`: chunks of /v1/completions (choices[0].text).
    `pause`: called between slices of PAUSE_EVERY chunks, so a long answer's decoding (~1 us a chunk) lets
    the other streams' reads run (under gevent: a yield to the loop)."""
    payloads = [payload for _, payload in content]
    deltas = _in_slices(payloads, _completion_deltas if completions else _simple_deltas, pause)
    if deltas is not None and not completions and _answer_only(facts, content, deltas):
        return
    answer: list[str] = []
    reasoning: list[str] = []
    in_think = False
    for i, (arrival_s, payload) in enumerate(content):
        if pause is not None and i % PAUSE_EVERY == PAUSE_EVERY - 1:
            pause()
        delta = {deltas[i][0]: deltas[i][1]} if deltas is not None else _chunk_delta(payload)
        reasoning_piece = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning_piece, str):
            reasoning.append(reasoning_piece)
        piece = delta.get("content")
        if not isinstance(piece, str) or not piece:
            continue
        answer_piece, in_think = strip_think(piece, in_think, reasoning)
        if answer_piece:
            if facts.first_answer_s is None and answer_piece.strip():
                facts.first_answer_s = arrival_s
            answer.append(answer_piece)
    facts.answer_text = "".join(answer)
    facts.reasoning_text = "".join(reasoning)


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


def _in_slices(
    payloads: list[bytes], deltas_of: Callable[[list[bytes]], list[tuple[str, str]] | None], pause: Pause | None
) -> list[tuple[str, str]] | None:
    """deltas_of over slices of PAUSE_EVERY payloads with a pause between them; None if any slice is None."""
    if pause is None or len(payloads) <= PAUSE_EVERY:
        return deltas_of(payloads)
    out: list[tuple[str, str]] = []
    for start in range(0, len(payloads), PAUSE_EVERY):
        if start:
            pause()
        part = deltas_of(payloads[start : start + PAUSE_EVERY])
        if part is None:
            return None
        out += part
    return out


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


def _answer_only(
    facts: StreamFacts, content: list[tuple[float, bytes]], deltas: list[tuple[str, str]]
) -> bool:
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
