"""What one response told the client before it becomes a Record, and the error of a malformed one."""

from __future__ import annotations

from dataclasses import dataclass, field


class MalformedStream(Exception):
    """An SSE payload (or a whole non-streamed body) was not a valid completion chunk (response)."""


@dataclass(slots=True)
class StreamFacts:
    """What one response told us, before it becomes a Record."""

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


def int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def take_usage(facts: StreamFacts, usage: object) -> None:
    """The server's token counts (an OpenAI `usage` object) into `facts`; anything else is ignored."""
    if not isinstance(usage, dict):
        return
    facts.prompt_tokens = int_or_none(usage.get("prompt_tokens"))
    facts.output_tokens = int_or_none(usage.get("completion_tokens"))
    details = usage.get("completion_tokens_details")
    if isinstance(details, dict):
        facts.reasoning_tokens = int_or_none(details.get("reasoning_tokens"))
