"""Prompts of common English words fitted to exact token counts with a tokenizer (token_counting), shared by the
generated workloads (synthetic, shared-prefix, sessions, trace blocks).

A prompt is "Words:" and common English words, each a whole pre-token for byte-level BPE and SentencePiece
tokenizers, so a word costs the same tokens wherever it stands and word lists add up: a list is fitted with a
few counts (start with a word per token, correct by the measured tokens per word, then fix the last word by
each word's measured cost), and a shuffle of a fitted list keeps its count.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from llmload.scenarios.datasets.token_counting import TokenCounter
from llmload.scenarios.workload_request import RequestSpec

Count = Callable[[list[str]], int]  # words -> tokens of the prompt they make

LEAD = "Words:"
# fmt: off
WORDS = (
    "time", "year", "people", "way", "day", "man", "thing", "woman", "life", "child", "world", "school",
    "state", "family", "student", "group", "country", "problem", "hand", "part", "place", "case", "week",
    "company", "system", "program", "question", "work", "government", "number", "night", "point", "home",
    "water", "room", "mother", "area", "money", "story", "fact", "month", "lot", "right", "study", "book",
    "eye", "job", "word", "business", "issue", "side", "kind", "head", "house", "service", "friend",
    "father", "power", "hour", "game", "line", "end", "member", "law", "car", "city", "community", "name",
    "president", "team", "minute", "idea", "kid", "body", "information", "back", "parent", "face",
    "others", "level", "office", "door", "health", "person", "art", "war", "history", "party", "result",
    "change", "morning", "reason", "research", "girl", "guy", "moment", "air", "teacher", "force",
    "education", "good", "new", "first", "last", "long", "great", "little", "own", "other", "old", "big",
    "high", "different", "small", "large", "next", "early", "young", "important", "few", "public", "bad",
    "same", "able",
)
# fmt: on
MAX_COUNTS = 8  # per fitted length
CHECKED_SHUFFLES = 2


def prompt_text(words: Sequence[str]) -> str:
    return " ".join([LEAD, *words])


def prompt_counter(counter: TokenCounter, chat: bool, before: Sequence[str] = ()) -> Count:
    """Tokens of the prompt LEAD + `before` + words as the server counts them: one user message with the chat
    template and its reply primer (`chat`), or a completion prompt."""

    def count(words: list[str]) -> int:
        text = prompt_text([*before, *words])
        return counter.count([{"role": "user", "content": text}], None) if chat else counter.count(None, text)

    return count


def text_request(
    name: str, text: str, chat: bool, max_tokens: int, ignore_eos: bool, facts: dict[str, Any]
) -> RequestSpec:
    """A generated prompt as one user message (chat) or a completion prompt; ignore_eos None: the run's."""
    return RequestSpec(
        name,
        messages=[{"role": "user", "content": text}] if chat else None,
        prompt=None if chat else text,
        max_tokens=max_tokens,
        ignore_eos=True if ignore_eos else None,
        facts=facts,
    )


def shuffled_lists(
    target: int, wanted: int, rng: random.Random, count: Count, costs: Callable[[], dict[str, int]]
) -> list[tuple[list[str], int]]:
    """`wanted` distinct word lists of `target` tokens and their counts: shuffles of one fitted list, two of
    them counted again (where a shuffle counts otherwise, each list is fitted on its own). A list of few words
    has few shuffles: then further lists are fitted."""
    found: dict[tuple[str, ...], int] = {}
    while len(found) < wanted:
        words, counted = fit_words(target, rng, count, costs)
        shuffles = {tuple(words): None}
        for _ in range(4 * (wanted - len(found))):
            shuffles.setdefault(tuple(rng.sample(words, len(words))), None)
            if len(shuffles) >= wanted - len(found):
                break
        made = [list(s) for s in shuffles]
        if any(count(s) != counted for s in made[1 : 1 + CHECKED_SHUFFLES]):
            made = [words]
        for s in made:
            found.setdefault(tuple(s), counted)
    return [(list(words), counted) for words, counted in list(found.items())[:wanted]]


def fit_words(
    target: int, rng: random.Random, count: Callable[[list[str]], int], costs: Callable[[], dict[str, int]]
) -> tuple[list[str], int]:
    """Words whose prompt counts `target` tokens (or the closest found), and its count: the number of words
    corrected by the measured tokens per word (MAX_COUNTS counts at most), then the last word fixed."""
    pool = [rng.choice(WORDS) for _ in range(2 * target + 8)]
    n, per_word = max(1, target), 1.0
    tried: dict[int, int] = {}
    while len(tried) < MAX_COUNTS and n not in tried:
        tried[n] = count(pool[:n])
        if tried[n] == target:
            break
        others = [m for m in tried if m != n]
        if others:
            m = min(others, key=lambda k: abs(k - n))
            per_word = max(0.2, (tried[n] - tried[m]) / (n - m))
        step = round((target - tried[n]) / per_word) or (1 if target > tried[n] else -1)
        n = min(len(pool), max(1, n + step))
    best = min(tried, key=lambda k: (abs(tried[k] - target), k))
    if tried[best] == target:
        return pool[:best], target
    return _fix_last_word(pool[:best], tried[best], target, count, costs())


def _fix_last_word(
    words: list[str], counted: int, target: int, count: Callable[[list[str]], int], costs: dict[str, int]
) -> tuple[list[str], int]:
    """A few tokens off where one more word jumps past the target: a word of the missing cost after the
    last one, or one of the right cost in its place (each word's cost measured once: word_costs)."""
    missing = target - counted
    candidates = [[*words, w] for w, c in costs.items() if c == missing][:1]
    candidates += [[*words[:-1], w] for w, c in costs.items() if c == costs[words[-1]] + missing][:1]
    for candidate in candidates:
        found = count(candidate)
        if found == target:
            return candidate, found
    return words, counted


def word_costs(count: Callable[[list[str]], int]) -> Callable[[], dict[str, int]]:
    """Tokens each word adds to a prompt, measured on first use only (one count per word, once a build)."""
    cache: dict[str, int] = {}

    def costs() -> dict[str, int]:
        if not cache:
            base = count([])
            cache.update({word: count([word]) - base for word in dict.fromkeys(WORDS)})
        return cache

    return costs
