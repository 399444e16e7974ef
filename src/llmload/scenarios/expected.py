"""A dataset row's expected answer: a text the answer must contain, or ``re:PATTERN`` that it must match
(Python's re.search). Reasoning (<think> blocks, reasoning_content) never counts: only the answer proper."""

from __future__ import annotations

import re
from dataclasses import dataclass

from llmload.scenarios.chat import strip_reasoning

REGEX_PREFIX = "re:"


@dataclass(frozen=True, slots=True)
class Expected:
    text: str  # as the dataset gives it ("re:..." included)
    pattern: re.Pattern[str] | None = None

    def matches(self, answer_text: str) -> bool:
        answer = strip_reasoning(answer_text)
        if self.pattern is not None:
            return self.pattern.search(answer) is not None
        return self.text in answer


def parse_expected(value: object) -> Expected:
    """An `expected` value of a dataset row; ValueError (the caller names file and line) when it is not a
    non-empty string or its regex does not compile."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("'expected' must be a non-empty string (text, or re:PATTERN)")
    if not value.startswith(REGEX_PREFIX):
        return Expected(value.strip())
    try:
        return Expected(value, re.compile(value[len(REGEX_PREFIX) :]))
    except re.error as exc:
        raise ValueError(f"'expected' is not a valid regex ({exc})") from None
