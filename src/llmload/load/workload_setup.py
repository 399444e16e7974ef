"""A run's workload, ready before its first step: the scenario of --dataset or --trace
(llmload.scenarios.datasets), the tokenizer that counted its lengths where it needs one (the server's
/tokenize, else --tokenizer, else the stated estimate), and every distinct request encoded once
(load.request_encoder; a session's turns are encoded as it plays them: load.session_play)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmload.client.tokenize_endpoint import ServerTokenizer
from llmload.load.request_encoder import PreparedRequest, prepare_all
from llmload.load.settings import LoadSettings
from llmload.scenarios.datasets.conversations import SessionScenario
from llmload.scenarios.datasets.local_tokenizer import LocalTokenizer
from llmload.scenarios.datasets.token_counting import EstimateCounter, TokenCounter
from llmload.scenarios.datasets.trace_scenario import TraceScenario
from llmload.scenarios.datasets.workload_source import detect_format, load_workload, needs_tokenizer
from llmload.scenarios.plates.comment_dataset import dataset_sha256
from llmload.scenarios.workload_request import RequestSpec, Scenario


@dataclass
class Workload:
    scenario: Scenario
    requests: list[PreparedRequest]  # scenario.specs, encoded (same order)
    facts: dict[str, Any]  # meta.json "dataset": source, format, sha256 of a file, the tokenizer used
    warnings: list[str]

    def request(self, user_index: int, iteration: int) -> PreparedRequest:
        return self.requests[self.scenario.pick(user_index, iteration)]

    @property
    def sessions(self) -> SessionScenario | None:
        """Conversations played turn by turn (--sessions, a sessions: spec), or None."""
        return self.scenario if isinstance(self.scenario, SessionScenario) else None

    @property
    def trace(self) -> TraceScenario | None:
        """A trace replayed at its arrival times (--trace), or None."""
        return self.scenario if isinstance(self.scenario, TraceScenario) else None


def choose_counter(settings: LoadSettings) -> TokenCounter:
    """The server's /tokenize when it has one, else the local tokenizer the user named, else the estimate."""
    server = ServerTokenizer.probe(settings.host, settings.model, settings.api_key)
    if server is not None:
        return server
    if settings.tokenizer:
        return LocalTokenizer(Path(settings.tokenizer))
    return EstimateCounter()


def build_workload(settings: LoadSettings, start: int = 0) -> Workload:
    """The run's workload (settings name the model); `start`: where this process's requests begin."""
    scenario, warnings, tokenizer = _scenario(settings, start, first_only=False)
    facts = dataset_facts(settings, tokenizer)
    if isinstance(scenario, TraceScenario):
        facts["trace"] = scenario.facts
    return Workload(scenario, prepare_all(settings, scenario.specs), facts, warnings)


def first_request(settings: LoadSettings) -> RequestSpec:
    """The run's first request (user 0, iteration 0), built by the run's own code (the preflight sends it)."""
    scenario = _scenario(settings, 0, first_only=True)[0]
    return scenario.specs[scenario.pick(0, 0)]


def _scenario(settings: LoadSettings, start: int, first_only: bool) -> tuple[Scenario, list[str], str | None]:
    """The scenario, its warnings, and which tokenizer counted its lengths (None: none needed)."""
    options = settings.workload()
    counters: list[TokenCounter] = []

    def counter() -> TokenCounter:
        counters.append(choose_counter(settings))
        return counters[-1]

    scenario, warnings = load_workload(options, counter if needs_tokenizer(options) else None, start, first_only)
    for used in counters:
        if isinstance(used, ServerTokenizer):
            used.close()
    return scenario, warnings, counters[0].label if counters else None


def dataset_facts(settings: LoadSettings, tokenizer: str | None = None) -> dict[str, Any]:
    options = settings.workload()
    source = options.source
    facts: dict[str, Any] = {"path": source, "format": detect_format(source, options.format)}
    if Path(source).is_file():
        facts["sha256"] = dataset_sha256(source)
    elif facts["format"] == "plates":
        facts["builtin"] = True
    if tokenizer:
        facts["tokenizer"] = tokenizer
    return facts
