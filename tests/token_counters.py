"""A tokenizer stand-in for tests of the generated workloads: words add up exactly (a word of up to 6 letters is
one token, a longer one two), a chat message costs 5 tokens of framing and the reply primer 3, a completion
prompt 1 (its BOS). The sum is exact like a real BPE tokenizer's over whole words, and not one per word."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

FRAMING, PRIMER = 5, 3


def words(text: str) -> int:
    return sum(1 if len(w) <= 6 else 2 for w in text.split())


class WordCounter:
    label = "test words"

    def __init__(self) -> None:
        self.calls = 0

    def count(self, messages: Sequence[Mapping[str, Any]] | None, prompt: str | None) -> int:
        self.calls += 1
        if messages is None:
            return 1 + words(prompt or "")
        return sum(FRAMING + words(str(m.get("content", ""))) for m in messages) + PRIMER

    def count_text(self, text: str) -> int:
        self.calls += 1
        return words(text)
