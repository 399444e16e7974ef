"""A trace as a scenario: one prepared request per trace line (trace_blocks), and when each arrives (seconds of
trace time after the first). The load side sends request i at its arrival divided by the step's speed-up
(llmload.load.trace_schedule); `pick` is only the first request, for the preflight."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from llmload.scenarios.datasets.token_counting import TokenCounter
from llmload.scenarios.datasets.trace_blocks import build_trace
from llmload.scenarios.datasets.trace_file import TraceRequest, load_trace, trace_facts
from llmload.scenarios.workload_request import RequestSpec, expected_score


class TraceScenario:
    reads_answers = False

    def __init__(self, specs: Sequence[RequestSpec], arrivals_s: Sequence[float], facts: dict[str, Any]) -> None:
        self._specs = list(specs)
        self.arrivals_s = list(arrivals_s)  # trace time, same order as specs
        self.facts = facts  # meta.json's dataset.trace (trace_file.TraceFacts of the whole file)

    @property
    def specs(self) -> Sequence[RequestSpec]:
        return self._specs

    def pick(self, user_index: int, iteration: int) -> int:
        return iteration % len(self._specs)

    def score(self, spec: RequestSpec, answer_text: str) -> dict[str, Any]:
        return expected_score(spec, answer_text)


def load_trace_scenario(
    path: Path, counter: TokenCounter, chat: bool, until_s: float | None = None, first_only: bool = False
) -> tuple[TraceScenario, list[str]]:
    """The trace's requests that arrive before `until_s` of trace time (the longest a run replays: every
    step's duration x its speed-up; None: all), built; `first_only`: only the first (the preflight)."""
    requests = load_trace(path)
    facts = asdict(trace_facts(path, requests))
    kept = [r for r in requests if until_s is None or r.at_s < until_s] or requests[:1]
    kept = kept[:1] if first_only else kept
    specs, warnings = build_trace(kept, counter, chat)
    return TraceScenario(specs, [r.at_s for r in kept], facts), warnings


def longest_request(path: Path) -> TraceRequest:
    """The request needing the most context (input + output tokens): checked against the server's."""
    return max(load_trace(path), key=lambda r: r.input_tokens + r.output_tokens)
