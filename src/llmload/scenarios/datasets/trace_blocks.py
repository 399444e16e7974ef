"""A trace's prompts, built so that equal block ids are equal text (trace_file: Mooncake's 512-token blocks).

Prompt = "Words:" and words (fitted_words): block j of a request holds the words of its block id, 512 tokens of
them (block 0 less the tokens of "Words:"; the last block what the input length leaves, less the chat
template's framing), so the prompt counts the trace's input_length as the server counts it, and requests
whose ids agree up to block j share their first j blocks word for word. The words of a block id come from a
generator seeded with the id: a shorter last block with the same id (Mooncake's partial last block) is the
start of the same words. The template's opening tokens (a few: under one KV block) come before block 0, so the
server's blocks start that many tokens after the multiples of 512; the prefix-cache hits of shared blocks are
whole all the same.

A block's words are drawn at random and its last words fill the exact count with words of known cost (each
word's cost measured once with the tokenizer); a few prompts are counted again, and a tokenizer whose words
do not add up is said in a warning.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from typing import Any

from llmload.errors import UsageError
from llmload.scenarios.datasets.fitted_words import (
    LEAD,
    prompt_counter,
    prompt_text,
    text_request,
    word_costs,
)
from llmload.scenarios.datasets.token_counting import TokenCounter
from llmload.scenarios.datasets.trace_file import BLOCK_TOKENS, TraceRequest
from llmload.scenarios.workload_request import RequestSpec

NAME = "trace"
CHECKED_PROMPTS = 3


class BlockWords:
    """The words of each block id, for a given number of tokens (deterministic per seed and id)."""

    def __init__(self, costs: dict[str, int], seed: int) -> None:
        self.costs = costs
        self.seed = seed
        self.words = sorted(costs, key=lambda w: (costs[w], w))
        self.max_cost = max(costs.values())
        self._fill = _exact_fills(costs, 4 * self.max_cost)
        self._cache: dict[tuple[Hashable, int], str] = {}

    def text(self, block: Hashable, tokens: int) -> str:
        """`tokens` tokens of words for `block` (its first words whatever the count), joined by spaces."""
        key = (block, tokens)
        if key not in self._cache:
            self._cache[key] = " ".join(self._words(block, tokens))
        return self._cache[key]

    def _words(self, block: Hashable, tokens: int) -> list[str]:
        rng = random.Random(f"{self.seed}:{block}")
        words: list[str] = []
        total = 0
        while tokens - total > 2 * self.max_cost:
            word = rng.choice(self.words)
            words.append(word)
            total += self.costs[word]
        while tokens - total not in self._fill and words:  # no exact fill of this remainder: one word back
            total -= self.costs[words.pop()]
        if tokens - total not in self._fill:
            raise UsageError(f"--trace: cannot build a block of {tokens} tokens from words of costs "
                             f"{sorted(set(self.costs.values()))} with this tokenizer")  # fmt: skip
        return words + self._fill[tokens - total]


def _exact_fills(costs: dict[str, int], most: int) -> dict[int, list[str]]:
    """For each total up to `most`: the fewest words whose costs add up to it (first found), where any do."""
    cheapest: dict[int, str] = {}
    for word in sorted(costs, key=lambda w: (costs[w], w)):
        cheapest.setdefault(costs[word], word)
    fills: dict[int, list[str]] = {0: []}
    for total in range(1, most + 1):
        options = [fills[total - c] + [w] for c, w in cheapest.items() if c <= total and total - c in fills]
        if options:
            fills[total] = min(options, key=len)
    return fills


def block_tokens(request: TraceRequest, lead: int, framing: int) -> list[int]:
    """The word tokens of each block of the request's prompt (module doc); at least 1 each."""
    blocks = -(-request.input_tokens // BLOCK_TOKENS)
    sizes = [BLOCK_TOKENS] * (blocks - 1) + [request.input_tokens - BLOCK_TOKENS * (blocks - 1)]
    sizes[0] -= lead
    sizes[-1] -= framing
    return [max(1, size) for size in sizes]


def build_trace(
    requests: Sequence[TraceRequest], counter: TokenCounter, chat: bool, seed: int = 0
) -> tuple[list[RequestSpec], list[str]]:
    """One request per trace line (same order), and warnings (module doc)."""
    count = prompt_counter(counter, chat)
    costs = word_costs(count)()
    lead = counter.count_text(LEAD)
    framing = count([]) - lead
    words = BlockWords(costs, seed)
    specs = []
    for request in requests:
        sizes = block_tokens(request, lead, framing)
        ids: Sequence[Hashable] = request.hash_ids or [("line", request.line, j) for j in range(len(sizes))]
        text = prompt_text([words.text(block, size) for block, size in zip(ids, sizes, strict=True)])
        built = lead + framing + sum(sizes)
        specs.append(text_request(NAME, text, chat, request.output_tokens, True, _facts(request, built)))
    return specs, _check(specs, counter, chat)


def _facts(request: TraceRequest, built: int) -> dict[str, Any]:
    facts: dict[str, Any] = {"kind": NAME, "line": request.line, "prompt_tokens": request.input_tokens,
                             "output_tokens": request.output_tokens}  # fmt: skip
    if built != request.input_tokens:
        facts["prompt_tokens_built"] = built  # shorter than the template's framing: one word a block at least
    return facts


def _check(specs: list[RequestSpec], counter: TokenCounter, chat: bool) -> list[str]:
    """Counts the first few prompts again: a tokenizer whose word costs do not add up is a warning."""
    off = []
    for spec in specs[:CHECKED_PROMPTS]:
        messages, prompt = (spec.messages, None) if chat else (None, spec.prompt)
        counted = counter.count(messages, prompt)
        wanted = spec.facts.get("prompt_tokens_built", spec.facts["prompt_tokens"])
        if counted != wanted:
            off.append(f"line {spec.facts['line']}: {counted} tokens, built for {wanted}")
    if not off:
        return []
    return [f"--trace: prompts do not have their lengths by this tokenizer ({'; '.join(off)}): its words do "
            "not add up (lengths are estimates)"]  # fmt: skip
