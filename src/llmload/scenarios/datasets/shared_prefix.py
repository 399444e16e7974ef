"""The shared-prefix workload: `shared-prefix:groups=G,prefix_tokens=P,suffix_tokens=S,output_tokens=O`.

G distinct prefixes (word lists fitted to P tokens: a prompt of the prefix alone counts P, chat template
included), and `prompts` requests (default max(1000, G)), request i the prefix of group i mod G plus a suffix
of its own fitted to S more tokens, so every prompt counts P + S and the requests of a group share their first
P tokens less the template's closing tokens (RAG and agent traffic: one long system context, a new question).
With groups equal to the requests sent, nothing is shared: the same lengths without prefix-cache hits.
`seed` makes them reproducible, `ignore_eos=0` for a server without vLLM's ignore_eos.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from llmload.errors import UsageError
from llmload.scenarios.datasets.fitted_words import (
    prompt_counter,
    prompt_text,
    shuffled_lists,
    text_request,
    word_costs,
)
from llmload.scenarios.datasets.spec_keys import require, spec_flag, spec_number, spec_values
from llmload.scenarios.datasets.token_counting import TokenCounter
from llmload.scenarios.workload_request import RequestSpec

KIND = "shared-prefix"
PREFIX = KIND + ":"
REQUIRED = ("groups", "prefix_tokens", "suffix_tokens", "output_tokens")
KEYS = (*REQUIRED, "prompts", "seed", "ignore_eos")
MIN_PROMPTS = 1000
EXAMPLE = "groups=8,prefix_tokens=1024,suffix_tokens=64,output_tokens=64"


@dataclass(frozen=True, slots=True)
class SharedPrefixSpec:
    groups: int
    prefix_tokens: int
    suffix_tokens: int
    output_tokens: int
    prompts: int
    seed: int = 0
    ignore_eos: bool = True


def is_shared_prefix(source: str) -> bool:
    return source.startswith(PREFIX)


def parse_shared_prefix(source: str, what: str = "--dataset") -> SharedPrefixSpec:
    """The spec of `shared-prefix:key=value,...`; a UsageError naming the key that is wrong."""
    values = spec_values(source, KIND, KEYS, "groups=8", what)
    require(values, REQUIRED, KIND, EXAMPLE, what)
    ints = {k: int(spec_number(KIND, k, v, what, low=0 if k == "seed" else 1)) for k, v in values.items()
            if k != "ignore_eos"}  # fmt: skip
    prompts = ints.get("prompts", max(MIN_PROMPTS, ints["groups"]))
    if prompts < ints["groups"]:
        raise spec_error(what, f"prompts={prompts} is below groups={ints['groups']} (each group needs a request)")
    return SharedPrefixSpec(
        ints["groups"], ints["prefix_tokens"], ints["suffix_tokens"], ints["output_tokens"], prompts,
        ints.get("seed", 0), spec_flag(KIND, "ignore_eos", values.get("ignore_eos", "1"), what),
    )  # fmt: skip


def spec_error(what: str, why: str) -> UsageError:
    return UsageError(f"{what}: {KIND}: {why}")


def build_shared_prefix(spec: SharedPrefixSpec, counter: TokenCounter, chat: bool) -> list[RequestSpec]:
    """spec.prompts requests: group g's prefix + a suffix of each request's own (module doc)."""
    rng = random.Random(spec.seed)
    count = prompt_counter(counter, chat)
    costs = word_costs(count)
    prefixes = shuffled_lists(spec.prefix_tokens, spec.groups, rng, count, costs)
    first_words, first_count = prefixes[0]
    suffix_count = prompt_counter(counter, chat, before=first_words)

    def count_suffix(words: list[str]) -> int:  # the tokens a suffix adds after a prefix
        return suffix_count(words) - first_count

    suffixes = shuffled_lists(spec.suffix_tokens, spec.prompts, rng, count_suffix, costs)
    asked = spec.prefix_tokens + spec.suffix_tokens
    specs = []
    for i, (suffix, suffix_counted) in enumerate(suffixes):
        group = i % spec.groups
        prefix, prefix_counted = prefixes[group]
        facts = {"kind": KIND, "group": group, "prompt_tokens": asked, "prefix_tokens": spec.prefix_tokens,
                 "output_tokens": spec.output_tokens}  # fmt: skip
        built = prefix_counted + suffix_counted
        if built != asked:
            facts["prompt_tokens_built"] = built  # the closest the fit found
        text = prompt_text([*prefix, *suffix])
        specs.append(text_request(KIND, text, chat, spec.output_tokens, spec.ignore_eos, facts))
    return specs
