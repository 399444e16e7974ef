"""Synthetic prompts built to an exact token count with a tokenizer (token_counting), before the run.

For each prompt length a word list is fitted (fitted_words); the prompts of that length are rotations of it, so
no two share a prefix beyond the template and "Words:" (no accidental prefix-cache hits), and a rotation keeps
the count (each word keeps its leading space). Two rotations per length are counted again; where they differ,
every prompt of that length is fitted on its own words.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from llmload.scenarios.datasets.fitted_words import (
    LEAD,
    Count,
    fit_words,
    prompt_counter,
    prompt_text,
    text_request,
    word_costs,
)
from llmload.scenarios.datasets.synthetic_spec import SyntheticSpec
from llmload.scenarios.datasets.token_counting import TokenCounter
from llmload.scenarios.workload_request import RequestSpec

CHECKED_ROTATIONS = 2
NAME = "synthetic"


def build_synthetic(spec: SyntheticSpec, counter: TokenCounter, chat: bool) -> list[RequestSpec]:
    """spec.prompts requests with lengths drawn from the spec (seeded), as chat messages or prompts."""
    rng = random.Random(spec.seed)
    lengths = [(spec.prompt.draw(rng), spec.output.draw(rng)) for _ in range(spec.prompts)]
    count = prompt_counter(counter, chat)
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
        specs.append(_request(prompt_text(words), prompt_len, counted, output_len, spec, chat))
    return specs


def _prompts_of_length(
    target: int,
    wanted: int,
    rng: random.Random,
    count: Count,
    costs: Callable[[], dict[str, int]],
) -> list[tuple[list[str], int]]:
    """`wanted` distinct prompts of `target` tokens (rotations of one fitted word list, see the module doc)."""
    words, counted = fit_words(target, rng, count, costs)
    rotations = [words[r:] + words[:r] for r in range(min(wanted, len(words)))]
    checked = rotations[1 : 1 + CHECKED_ROTATIONS]
    if all(count(rotated) == counted for rotated in checked):
        return [(rotated, counted) for rotated in rotations] or [(words, counted)]
    return [fit_words(target, rng, count, costs) for _ in range(wanted)]


def _request(
    text: str, asked: int, counted: int, output_len: int, spec: SyntheticSpec, chat: bool
) -> RequestSpec:
    facts: dict[str, Any] = {"kind": NAME, "prompt_tokens": asked, "output_tokens": output_len}
    if counted != asked:
        facts["prompt_tokens_built"] = counted  # the closest the fit found
    return text_request(NAME, text, chat, output_len, spec.ignore_eos, facts)


__all__ = ["LEAD", "build_synthetic"]
