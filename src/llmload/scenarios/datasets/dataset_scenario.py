"""A workload of prepared requests read from a dataset: the requests go out in the file's order, each one
the next whichever user sends it, wrapping around at the end (a scenario of
llmload.scenarios.workload_request)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import count
from typing import Any

from llmload.scenarios.workload_request import RequestSpec, expected_score


class DatasetScenario:
    def __init__(self, specs: Sequence[RequestSpec], start: int = 0) -> None:
        if not specs:
            raise ValueError("the dataset has no requests")
        self._specs = list(specs)
        self._next = count(start)  # `start`: where this process begins (distributed workers differ)
        self.reads_answers = any(spec.expected is not None for spec in self._specs)

    @property
    def specs(self) -> Sequence[RequestSpec]:
        return self._specs

    def pick(self, user_index: int, iteration: int) -> int:
        return next(self._next) % len(self._specs)

    def score(self, spec: RequestSpec, answer_text: str) -> dict[str, Any]:
        return expected_score(spec, answer_text)
