"""Synthetic sessions: `sessions:turns=T,prompt_tokens=P,output_tokens=O` and optional `think_s=S` (the pause
between a session's turns, seconds), `sessions=N` distinct conversations (default 100, then they repeat in
turn), `seed`, `ignore_eos=0` for a server without vLLM's ignore_eos.

Every turn's user message is words fitted so that a prompt of it alone counts P tokens (chat template
included); no two messages share a prefix beyond "Words:". Each answer is O tokens (max_tokens + ignore_eos),
so turn k's prompt holds about k x P + (k - 1) x O tokens.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from llmload.scenarios.datasets.conversations import Conversation, Turn
from llmload.scenarios.datasets.fitted_words import prompt_counter, prompt_text, shuffled_lists, word_costs
from llmload.scenarios.datasets.spec_keys import require, spec_flag, spec_number, spec_values
from llmload.scenarios.datasets.token_counting import TokenCounter

KIND = "sessions"
PREFIX = KIND + ":"
REQUIRED = ("turns", "prompt_tokens", "output_tokens")
KEYS = (*REQUIRED, "think_s", "sessions", "seed", "ignore_eos")
DEFAULT_SESSIONS = 100


@dataclass(frozen=True, slots=True)
class SessionSpec:
    turns: int
    prompt_tokens: int
    output_tokens: int
    think_s: float = 0.0
    sessions: int = DEFAULT_SESSIONS
    seed: int = 0
    ignore_eos: bool = True


def is_session_spec(source: str) -> bool:
    return source.startswith(PREFIX)


def parse_sessions(source: str, what: str = "--dataset") -> SessionSpec:
    """The spec of `sessions:key=value,...`; a UsageError naming the key that is wrong."""
    values = spec_values(source, KIND, KEYS, "turns=3", what)
    require(values, REQUIRED, KIND, "turns=3,prompt_tokens=128,output_tokens=64", what)
    ints = {k: int(spec_number(KIND, k, v, what, low=0 if k == "seed" else 1)) for k, v in values.items()
            if k not in ("think_s", "ignore_eos")}  # fmt: skip
    return SessionSpec(
        ints["turns"], ints["prompt_tokens"], ints["output_tokens"],
        spec_number(KIND, "think_s", values.get("think_s", "0"), what, low=0, real=True),
        ints.get("sessions", DEFAULT_SESSIONS), ints.get("seed", 0),
        spec_flag(KIND, "ignore_eos", values.get("ignore_eos", "1"), what),
    )  # fmt: skip


def build_sessions(spec: SessionSpec, counter: TokenCounter) -> list[Conversation]:
    """spec.sessions conversations of spec.turns user messages of prompt_tokens tokens each."""
    rng = random.Random(spec.seed)
    count = prompt_counter(counter, chat=True)
    messages = shuffled_lists(spec.prompt_tokens, spec.sessions * spec.turns, rng, count, word_costs(count))
    conversations = []
    for n in range(spec.sessions):
        texts = [prompt_text(words) for words, _ in messages[n * spec.turns : (n + 1) * spec.turns]]
        turns = tuple(Turn(({"role": "user", "content": text},), spec.output_tokens) for text in texts)
        facts = {"source": KIND, "conversation": n}
        conversations.append(Conversation(KIND, turns, facts, ignore_eos=True if spec.ignore_eos else None))
    return conversations
