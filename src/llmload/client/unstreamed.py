"""A non-streamed response (`--no-stream`): the whole answer arrives at once, so only the end-to-end time
exists. TTFT is not applicable (first_token_s stays None, never the end time); the tokens come from `usage`;
the last content-bearing byte is the body's last byte."""

from __future__ import annotations

from typing import Any

from llmload.client.answer_text import completion_text, decode_object, strip_think
from llmload.client.stream_facts import MalformedStream, StreamFacts, take_usage


def unstreamed_facts(body: bytes, last_byte_s: float, keep_text: bool, completions: bool) -> StreamFacts:
    """The facts of one whole chat completion (or, with `completions`, text completion) response body;
    MalformedStream when the body is not one."""
    response = decode_object(body)
    facts = StreamFacts(done=True, last_token_s=last_byte_s)
    take_usage(facts, response.get("usage"))
    choice = _first_choice(response)
    reason = choice.get("finish_reason")
    facts.finish_reason = reason if isinstance(reason, str) else None
    if keep_text:
        text, reasoning = _texts(choice, completions, response)
        reasoning_parts = [reasoning] if reasoning else []
        facts.answer_text, _ = strip_think(text, False, reasoning_parts)
        facts.reasoning_text = "".join(reasoning_parts)
    return facts


def _first_choice(response: dict[str, Any]) -> dict[str, Any]:
    choices = response.get("choices")
    if not isinstance(choices, list):
        raise MalformedStream("response without a 'choices' list")
    first = choices[0] if choices else {}
    return first if isinstance(first, dict) else {}


def _texts(choice: dict[str, Any], completions: bool, response: dict[str, Any]) -> tuple[str, str]:
    """(content, reasoning) of the first choice."""
    if completions:
        return completion_text(response), ""
    message = choice.get("message")
    if not isinstance(message, dict):
        return "", ""
    content = message.get("content")
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    return (content if isinstance(content, str) else ""), (reasoning if isinstance(reasoning, str) else "")
