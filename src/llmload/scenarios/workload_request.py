"""The scenario extension point: a scenario turns (user, iteration) into a request and may score its answer.

A request is its body parts (chat messages or a completion prompt, its own max_tokens / ignore_eos), its
``name`` (the class of traffic: Locust's request name and the record's ``name``), an optional ``expected``
answer, and ``facts``: the scenario's own part of the record (``{"kind": ..., ...}``), what it asked for.
The load side (llmload.load.request_encoder) turns the parts into the bytes sent, with the run's settings,
before the first step; the scenario's ``score`` adds to the facts what it read in the answer.

The plate scenario (scenarios.plates.plate_scenario) and the dataset scenarios (scenarios.datasets) are
implementations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from llmload.scenarios.expected import Expected


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """One request as a scenario asks for it. ``messages`` (chat) or ``prompt`` (completions): the other
    endpoint gets the one converted (llmload.load.request_encoder)."""

    name: str
    messages: Sequence[Mapping[str, Any]] | None = None
    prompt: str | None = None
    max_tokens: int | None = None  # None: the run's --max-tokens
    ignore_eos: bool | None = None  # None: the run's --ignore-eos
    expected: Expected | None = None
    facts: dict[str, Any] = field(default_factory=dict)


class Scenario(Protocol):
    """What the load side needs of a workload. ``specs`` are every distinct request, built before the run
    (never on the hot path); ``pick`` says which one (user, iteration) sends."""

    @property
    def specs(self) -> Sequence[RequestSpec]: ...

    @property
    def reads_answers(self) -> bool:
        """Whether ``score`` needs the answer text (the client keeps it only then)."""
        ...

    def pick(self, user_index: int, iteration: int) -> int: ...

    def score(self, spec: RequestSpec, answer_text: str) -> dict[str, Any]:
        """What the answer showed, merged into the record's scenario part ({} for nothing)."""
        ...


def expected_score(spec: RequestSpec, answer_text: str) -> dict[str, Any]:
    """The `expected` scoring any dataset scenario shares: {"matched": bool}, and on a miss the answer's start
    (what explains the miss in the report); {} without an expected answer."""
    if spec.expected is None:
        return {}
    matched = spec.expected.matches(answer_text)
    return {"matched": True} if matched else {"matched": False, "answer": answer_text[:ANSWER_CHARS]}


ANSWER_CHARS = 200  # of a missed answer, kept in its record
