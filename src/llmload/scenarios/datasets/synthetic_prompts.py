"""Synthetic prompts built to an exact token count with a tokenizer (token_counting), before the run.

A prompt is "Words:" and common English words, each a whole pre-token for byte-level BPE and SentencePiece
tokenizers. For each prompt length a word list is fitted with a few counts (start with a word per token,
correct by the measured tokens per word, then fix the last word by each word's measured cost); the prompts of
that length are rotations of it, so
no two share a prefix beyond the template and "Words:" (no accidental prefix-cache hits), and a rotation keeps
the count (each word keeps its leading space). Two rotations per length are counted again; where they differ,
every prompt of that length is fitted on its own words.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from llmload.scenarios.datasets.synthetic_spec import SyntheticSpec
from llmload.scenarios.datasets.token_counting import TokenCounter
from llmload.scenarios.workload_request import RequestSpec

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
CHECKED_ROTATIONS = 2
NAME = "synthetic"


def build_synthetic(spec: SyntheticSpec, counter: TokenCounter, chat: bool) -> list[RequestSpec]:
    """spec.prompts requests with lengths drawn from the spec (seeded), as chat messages or prompts."""
    rng = random.Random(spec.seed)
    lengths = [(spec.prompt.draw(rng), spec.output.draw(rng)) for _ in range(spec.prompts)]

    def count(words: list[str]) -> int:
        text = " ".join([LEAD, *words])
        return counter.count([{"role": "user", "content": text}], None) if chat else counter.count(None, text)

    costs = word_costs(count)
    fitted: dict[int, list[tuple[list[str], int]]] = {}  # length -> its prompts' words and counts
    specs = []
    for prompt_len, output_len in lengths:
        made = fitted.setdefault(prompt_len, [])
        if not made:
            made += _prompts_of_length(
                prompt_len, sum(n == prompt_len for n, _ in lengths), rng, count, costs
            )
        words, counted = made.pop(0) if len(made) > 1 else made[0]
        specs.append(_request(" ".join([LEAD, *words]), prompt_len, counted, output_len, spec, chat))
    return specs


def _prompts_of_length(
    target: int,
    wanted: int,
    rng: random.Random,
    count: Callable[[list[str]], int],
    costs: Callable[[], dict[str, int]],
) -> list[tuple[list[str], int]]:
    """`wanted` distinct prompts of `target` tokens (rotations of one fitted word list, see the module doc)."""
    words, counted = fit_words(target, rng, count, costs)
    rotations = [words[r:] + words[:r] for r in range(min(wanted, len(words)))]
    checked = rotations[1 : 1 + CHECKED_ROTATIONS]
    if all(count(rotated) == counted for rotated in checked):
        return [(rotated, counted) for rotated in rotations] or [(words, counted)]
    return [fit_words(target, rng, count, costs) for _ in range(wanted)]


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


def _request(
    text: str, asked: int, counted: int, output_len: int, spec: SyntheticSpec, chat: bool
) -> RequestSpec:
    facts: dict[str, Any] = {"kind": NAME, "prompt_tokens": asked, "output_tokens": output_len}
    if counted != asked:
        facts["prompt_tokens_built"] = counted  # the closest the fit found
    return RequestSpec(
        NAME,
        messages=[{"role": "user", "content": text}] if chat else None,
        prompt=None if chat else text,
        max_tokens=output_len,
        ignore_eos=True if spec.ignore_eos else None,
        facts=facts,
    )
