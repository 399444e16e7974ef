"""One user's session in progress (llmload.scenarios.datasets.conversations): turn k sends the history (every
earlier turn's messages and the answers exactly as they were received: the answer proper, reasoning left out as
chat templates leave it out) and its own messages, encoded as it is played (a few tens of microseconds, between
turns). After each answer it knows the prompt tokens the next turn implies: this prompt + this answer's tokens +
the next turn's counted growth (session_growth), written in the next record as `prompt_tokens_implied`. A failed
turn ends the session (its history has no answer to go on with)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmload.client.stream import StreamOutcome
from llmload.load.request_encoder import PreparedRequest, prepare
from llmload.load.settings import LoadSettings
from llmload.scenarios.datasets.conversations import Conversation, turn_facts
from llmload.scenarios.workload_request import RequestSpec


class SessionPlay:
    def __init__(self, conversation: Conversation, session_id: str) -> None:
        self.conversation = conversation
        self.session_id = session_id
        self.turn = 0  # the next turn's position
        self.history: list[Mapping[str, Any]] = []
        self.implied: int | None = None  # the next turn's prompt tokens, as the history implies them

    def request(self, settings: LoadSettings) -> PreparedRequest:
        """The next turn: the history and its own messages."""
        conversation, turn = self.conversation, self.conversation.turns[self.turn]
        spec = RequestSpec(
            conversation.name,
            messages=[*self.history, *turn.messages],
            max_tokens=turn.max_tokens,
            ignore_eos=conversation.ignore_eos,
            facts=turn_facts(conversation, self.turn + 1, self.session_id, self.implied),
        )
        return prepare(settings, spec)

    def answered(self, outcome: StreamOutcome) -> bool:
        """Takes the turn's answer into the history; whether the session goes on."""
        if not outcome.ok:
            return False
        turns, facts = self.conversation.turns, outcome.facts
        self.history += [*turns[self.turn].messages, {"role": "assistant", "content": facts.answer_text}]
        self.turn += 1
        if self.turn >= len(turns):
            return False
        added = turns[self.turn].added_tokens
        counted = facts.token_source == "usage" and facts.prompt_tokens is not None
        if added is None or not counted or facts.output_tokens is None:
            self.implied = None
        else:
            self.implied = (facts.prompt_tokens or 0) + facts.output_tokens + added
        return True
