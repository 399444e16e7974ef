"""Pure Server-Sent-Events handling for OpenAI-style completion streams (chat, and legacy completions).

`SseSplitter` turns arbitrary byte pieces (as they come off the socket) into complete `data:` payloads.
`StreamAccumulator` turns timestamped payloads into the raw facts of a record. The hot path never decodes
JSON per chunk: content-bearing chunks are recognised with one byte regex; only the usage trailer (and, when
the answer text is needed, the chunks in batches of answer_text.DECODE_EVERY, one regex pass each:
client.answer_text) are decoded.
"""

from __future__ import annotations

import re

from llmload.client.answer_text import AnswerText, decode_object
from llmload.client.stream_facts import MalformedStream, StreamFacts, take_usage

# a chat delta whose content / reasoning string is non-empty
_CONTENT = re.compile(rb'"(?:content|reasoning_content|reasoning)":\s?"(?!")')
# a legacy completion chunk (/v1/completions) whose text is non-empty
_COMPLETION_TEXT = re.compile(rb'"text":\s?"(?!")')
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


class StreamAccumulator:
    """Feeds on (arrival time, payload) pairs; `finish()` returns the StreamFacts. `completions`: the chunks
    of /v1/completions (`choices[0].text`) instead of chat deltas."""

    def __init__(self, keep_text: bool, completions: bool = False) -> None:
        self.facts = StreamFacts()
        self.events: list[bytes] | None = None  # a list: every payload is kept in it as it came
        self.text = AnswerText(self.facts.chunk_s, completions) if keep_text else None
        self._has_content = (_COMPLETION_TEXT if completions else _CONTENT).search

    def add(self, arrival_s: float, payloads: list[bytes]) -> None:
        """All payloads of one read share its arrival time: per event only the content check runs;
        finish_reason and usage are looked for once in the read's payloads joined."""
        facts = self.facts
        if self.events is not None:
            self.events += payloads
        if len(payloads) == 1:  # the paced case: one event per read
            block = payloads[0]
            content = payloads if self._has_content(block) else []
            finish_possible = b'"finish_reason":null' not in block
        else:
            search = self._has_content
            content = [payload for payload in payloads if search(payload)]
            block = b"\n".join(payloads)
            finish_possible = True
        if content:
            if facts.first_token_s is None:
                facts.first_token_s = arrival_s
            facts.last_token_s = arrival_s
            facts.chunk_s.extend([arrival_s] * len(content))
            if self.text is not None:
                self.text.add(content)
        if DONE in payloads:
            facts.done = True
        if facts.finish_reason is None and finish_possible:
            m = _FINISH.search(block)
            if m:
                facts.finish_reason = m.group(1).decode()
        if b'"usage"' in block:
            for payload in payloads:
                if _USAGE.search(payload):
                    take_usage(self.facts, decode_object(payload).get("usage"))

    def finish(self) -> StreamFacts:
        facts = self.facts
        if self.text is not None:
            self.text.finish(facts)
        if facts.output_tokens is None:
            facts.output_tokens = len(facts.chunk_s)
            facts.token_source = "chunks"
        return facts


__all__ = ["DONE", "MalformedStream", "SseSplitter", "StreamAccumulator", "StreamFacts", "decode_object"]
