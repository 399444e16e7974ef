"""How many tokens a session's prompt grows by at each turn beyond the previous prompt and answer, counted with
the server's tokenizer before the run: Turn.added_tokens.

Turn k's prompt is turn k-1's (its primer included) + the answer + what the template closes it with + turn k's
messages + the primer again. With any answer text A (the recorded one, else a word):

    added_k = count(history + [A] + turn k) - count(history) - count_text(A)

Then the load side expects prompt_tokens(k) = prompt_tokens(k-1) + output_tokens(k-1) + added_k
(`prompt_tokens_implied` in the record): the history's tokens if the server tokenises the answer it sent back
into as many tokens as it generated. Where it does not (answer text that re-tokenises otherwise: special tokens
dropped from the text, bytes of a character split), the prompt differs by that many tokens and the KV of the
answer cannot be reused; the report shows the measured difference per turn (analysis.session_turns).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from llmload.scenarios.datasets.conversations import Conversation, Turn
from llmload.scenarios.datasets.token_counting import TokenCounter

STAND_IN_ANSWER = "ok"  # a turn without a recorded answer is counted with this one


def growth(conversation: Conversation, counter: TokenCounter) -> tuple[int | None, ...]:
    """added_tokens of each turn (None for the first)."""
    history: list[Mapping[str, Any]] = list(conversation.turns[0].messages)
    before = counter.count(history, None)
    added: list[int | None] = [None]
    for previous, turn in zip(conversation.turns, conversation.turns[1:], strict=False):
        answer = previous.recorded_answer or STAND_IN_ANSWER
        history = [*history, {"role": "assistant", "content": answer}, *turn.messages]
        grown = counter.count(history, None)
        added.append(grown - before - counter.count_text(answer))
        before = grown
    return tuple(added)


def with_growth(
    conversations: Sequence[Conversation], counter: TokenCounter, alike: bool = False
) -> list[Conversation]:
    """The conversations with each turn's added_tokens. `alike`: every conversation is built the same way
    (synthetic sessions), so the first one's count holds for all."""
    shared = growth(conversations[0], counter) if alike else None
    out = []
    for conversation in conversations:
        added = shared or growth(conversation, counter)
        turns = tuple(_with(turn, n) for turn, n in zip(conversation.turns, added, strict=True))
        out.append(replace(conversation, turns=turns))
    return out


def _with(turn: Turn, added: int | None) -> Turn:
    return replace(turn, added_tokens=added)
