"""The workloads built before the run with the server's tokenizer: the `synthetic:`, `shared-prefix:` and
`sessions:` specs, sessions played from files (`--sessions`), and traces (`--trace`). workload_source detects
and dispatches; this module checks each one before any load (check_generated) and builds it (load_generated)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from llmload.errors import UsageError
from llmload.scenarios.datasets.conversations import Conversation, SessionScenario
from llmload.scenarios.datasets.dataset_scenario import DatasetScenario
from llmload.scenarios.datasets.session_growth import with_growth
from llmload.scenarios.datasets.session_sources import chat_sessions, sharegpt_sessions
from llmload.scenarios.datasets.session_spec import build_sessions, parse_sessions
from llmload.scenarios.datasets.shared_prefix import build_shared_prefix, parse_shared_prefix
from llmload.scenarios.datasets.synthetic_prompts import build_synthetic
from llmload.scenarios.datasets.synthetic_spec import parse_synthetic
from llmload.scenarios.datasets.token_counting import EstimateCounter, TokenCounter
from llmload.scenarios.datasets.trace_file import load_trace
from llmload.scenarios.datasets.trace_scenario import load_trace_scenario
from llmload.scenarios.workload_request import Scenario

SPEC_FORMATS = ("synthetic", "shared-prefix", "sessions")  # the `kind:` specs
TRACE = "trace"  # --trace: not a --dataset-format
SESSION_FILE_FORMATS = ("chat", "sharegpt")  # what --sessions plays


@dataclass(frozen=True, slots=True)
class Generation:
    """What a generated workload needs beside its source and format."""

    chat: bool = True
    recorded_output_len: bool = False
    think_s: float = 0.0  # --think-time (file sessions)
    trace_until_s: float | None = None  # a trace: replay no further than this much trace time
    start: int = 0  # the first request's (or conversation's) index: distributed workers differ
    first_only: bool = False  # only the first request (the preflight's)


def check_generated(source: str, fmt: str, given: Generation, sessions: bool) -> None:
    """Every problem of the spec or file now, before any load (a UsageError): specs are parsed, files read."""
    if fmt == "sessions" and not given.chat:
        raise UsageError("--dataset: sessions: a session is a chat: it needs --endpoint chat")
    if fmt == "synthetic":
        parse_synthetic(source)
    elif fmt == "shared-prefix":
        parse_shared_prefix(source)
    elif fmt == "sessions":
        spec = parse_sessions(source)
        if spec.think_s and given.think_s:
            raise UsageError("--think-time: the sessions: spec sets its own think_s; give it once")
    elif fmt == TRACE:
        load_trace(Path(source))
    elif sessions:
        if not given.chat:
            raise UsageError("--sessions: a session is a chat: it needs --endpoint chat")
        _session_file(Path(source), fmt, given, None)


def load_generated(
    source: str, fmt: str, given: Generation, counter: Callable[[], TokenCounter]
) -> tuple[Scenario, list[str]]:
    """The scenario of a generated workload (or of file sessions, fmt chat/sharegpt), and its warnings."""
    counter = _once(counter)
    if fmt == TRACE:
        return load_trace_scenario(Path(source), counter(), given.chat, given.trace_until_s, given.first_only)
    if fmt in SESSION_FILE_FORMATS:
        conversations = _session_file(Path(source), fmt, given, counter)
        return SessionScenario(conversations, given.think_s, given.start), []
    if fmt == "sessions":
        spec = parse_sessions(source)
        spec = replace(spec, sessions=1) if given.first_only else spec
        built = _counted(build_sessions(spec, counter()), counter, alike=True)
        return SessionScenario(built, spec.think_s or given.think_s, given.start), []
    if fmt == "shared-prefix":
        shared = parse_shared_prefix(source)
        shared = replace(shared, groups=1, prompts=1) if given.first_only else shared
        return DatasetScenario(build_shared_prefix(shared, counter(), given.chat), given.start), []
    spec_ = parse_synthetic(source)
    spec_ = replace(spec_, prompts=1) if given.first_only else spec_
    return DatasetScenario(build_synthetic(spec_, counter(), given.chat), given.start), []


def _once(make: Callable[[], TokenCounter]) -> Callable[[], TokenCounter]:
    """The tokenizer made on first use only (a server's /tokenize: one connection)."""
    made: list[TokenCounter] = []

    def counter() -> TokenCounter:
        if not made:
            made.append(make())
        return made[0]

    return counter


def _session_file(
    path: Path, fmt: str, given: Generation, counter: Callable[[], TokenCounter] | None
) -> list[Conversation]:
    count_text = counter().count_text if counter is not None and given.recorded_output_len else None
    found = chat_sessions(path) if fmt == "chat" else sharegpt_sessions(path, count_text)
    found = found[:1] if given.first_only else found
    return _counted(found, counter) if counter is not None else found


def _counted(
    conversations: list[Conversation], counter: Callable[[], TokenCounter], alike: bool = False
) -> list[Conversation]:
    """With each turn's prompt growth (session_growth) where the tokenizer is exact (not the estimate)."""
    used = counter()
    return conversations if isinstance(used, EstimateCounter) else with_growth(conversations, used, alike)
