"""Multi-turn sessions: conversations that one user plays turn by turn (llmload.load.session_play).

A conversation is its turns; a turn is what it adds to the history before the answer (its user message, and a
system message before it), its max_tokens, and how many tokens the prompt grows by beyond the previous prompt
and the previous answer (`added_tokens`: the answer's closing, the new message, the reply primer; counted before
the run, session_growth). Turn k sends the whole history: every earlier turn's messages with the answers
exactly as they were received, then its own. Recorded assistant messages of a dataset are never sent: the live
answers replace them (`recorded_answer` is kept for the growth count and --recorded-output-len).

As a scenario, a SessionScenario's specs are the conversations' first turns (the preflight sends one), `pick`
says which conversation a user plays next, and `score` keeps each answer in its record (whatever --no-score
says: the next turn sends it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import count
from typing import Any

from llmload.scenarios.workload_request import RequestSpec

KIND = "session"
SKIPPED_ROLES = ("assistant",)  # replaced by the live answers


@dataclass(frozen=True, slots=True)
class Turn:
    messages: tuple[Mapping[str, Any], ...]
    max_tokens: int | None = None  # None: the run's --max-tokens
    added_tokens: int | None = None  # None: not counted (no tokenizer, or the first turn)
    recorded_answer: str | None = None


@dataclass(frozen=True, slots=True)
class Conversation:
    name: str
    turns: tuple[Turn, ...]
    facts: Mapping[str, Any]  # where it came from: {"source": "chat", "line": 3}, {"source": "synthetic", ...}
    ignore_eos: bool | None = None  # None: the run's --ignore-eos


def turns_of(messages: Sequence[Mapping[str, Any]], max_tokens: int | None = None) -> tuple[Turn, ...]:
    """A conversation's messages as turns: each user message ends one (with the messages since the previous
    one but assistant answers); the assistant message after it is that turn's recorded answer. ValueError for
    a conversation without a user message, or with tool messages (their calls cannot be replayed)."""
    turns: list[Turn] = []
    pending: list[Mapping[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role == "tool":
            raise ValueError("a tool message cannot be replayed in a session (its call is in a recorded answer)")
        if role in SKIPPED_ROLES:
            if turns and turns[-1].recorded_answer is None and not pending:
                turns[-1] = replace(turns[-1], recorded_answer=_text(message.get("content")))
            continue
        pending.append(message)
        if role == "user":
            turns.append(Turn(tuple(pending), max_tokens))
            pending = []
    if not turns:
        raise ValueError("no user message: a session needs at least one turn")
    return tuple(turns)


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return content if isinstance(content, str) else ""


def first_request(conversation: Conversation) -> RequestSpec:
    """The conversation's first turn as a request (what a session sends first)."""
    turn = conversation.turns[0]
    return RequestSpec(
        conversation.name, messages=list(turn.messages), max_tokens=turn.max_tokens,
        ignore_eos=conversation.ignore_eos, facts=turn_facts(conversation, 1, "", None),
    )  # fmt: skip


def turn_facts(conversation: Conversation, turn: int, session_id: str, implied: int | None) -> dict[str, Any]:
    """The record's scenario part of a session turn (docs/workloads.md, "The record")."""
    facts: dict[str, Any] = {"kind": KIND, "session_id": session_id, "turn": turn,
                             "turns": len(conversation.turns), **conversation.facts}  # fmt: skip
    if implied is not None:
        facts["prompt_tokens_implied"] = implied
    return facts


class SessionScenario:
    """Conversations played in the file's order, each the next whichever user starts a session (the first
    at `start`: distributed workers differ); `think_s`: the pause between a session's turns."""

    reads_answers = True

    def __init__(self, conversations: Sequence[Conversation], think_s: float = 0.0, start: int = 0) -> None:
        if not conversations:
            raise ValueError("the dataset has no conversations")
        self.conversations = list(conversations)
        self.think_s = think_s
        self._specs = [first_request(c) for c in self.conversations]
        self._next = count(start)

    @property
    def specs(self) -> Sequence[RequestSpec]:
        return self._specs

    def pick(self, user_index: int, iteration: int) -> int:
        return next(self._next) % len(self.conversations)

    def score(self, spec: RequestSpec, answer_text: str) -> dict[str, Any]:
        """The answer as received, whole: the next turn sent it back (the record shows what was sent)."""
        return {"answer": answer_text}
