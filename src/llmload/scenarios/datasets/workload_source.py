"""`--dataset SOURCE` and `--dataset-format` (and `--trace PATH`): which format a source is (detected unless
given), and its loading as a scenario. The plate comments keep their own scenario (scenarios.plates); the
workloads built with the server's tokenizer (specs, sessions, traces) are generated_workloads'; every other
format becomes a DatasetScenario of prepared requests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from llmload.errors import UsageError
from llmload.scenarios.datasets.csv_requests import load_csv
from llmload.scenarios.datasets.dataset_scenario import DatasetScenario
from llmload.scenarios.datasets.generated_workloads import (
    SESSION_FILE_FORMATS,
    TRACE,
    Generation,
    check_generated,
    load_generated,
)
from llmload.scenarios.datasets.jsonl_requests import chat_spec, json_lines, load_jsonl, prompt_spec
from llmload.scenarios.datasets.session_spec import is_session_spec
from llmload.scenarios.datasets.shared_prefix import is_shared_prefix
from llmload.scenarios.datasets.sharegpt_requests import load_sharegpt
from llmload.scenarios.datasets.synthetic_spec import is_synthetic
from llmload.scenarios.datasets.token_counting import EstimateCounter, TokenCounter
from llmload.scenarios.plates.comment_dataset import read_dataset
from llmload.scenarios.plates.plate_scenario import DEFAULT_DATASET, PlateScenario
from llmload.scenarios.workload_request import RequestSpec, Scenario

AUTO = "auto"
FORMATS = ("plates", "chat", "prompt", "csv", "sharegpt", "synthetic", "shared-prefix", "sessions")


@dataclass(frozen=True, slots=True)
class WorkloadOptions:
    source: str
    format: str = AUTO
    batch_size: int = 100  # plates
    prompt_form: str = "system-user"  # plates
    chat: bool = True  # the requests go to /v1/chat/completions (False: /v1/completions)
    recorded_output_len: bool = False  # sharegpt
    sessions: bool = False  # --sessions: a chat JSONL or ShareGPT file's conversations, played turn by turn
    think_s: float = 0.0  # --think-time: between a session's turns
    trace_until_s: float | None = None  # a trace (format TRACE): replayed no further than this much trace time

    def generation(self, start: int = 0, first_only: bool = False) -> Generation:
        return Generation(self.chat, self.recorded_output_len, self.think_s, self.trace_until_s, start, first_only)


def detect_format(source: str, given: str = AUTO) -> str:
    """The format of `source`: `given` unless auto; else from the spec prefix, the suffix, or the first line."""
    if given != AUTO:
        if given not in (*FORMATS, TRACE):
            raise UsageError(f"--dataset-format: {given!r} is not one of {AUTO}, {', '.join(FORMATS)}")
        return given
    for kind, is_kind in (("synthetic", is_synthetic), ("shared-prefix", is_shared_prefix),
                          ("sessions", is_session_spec)):  # fmt: skip
        if is_kind(source):
            return kind
    path = Path(source)
    if source == DEFAULT_DATASET and not path.exists():
        return "plates"  # the built-in generated set
    if not path.is_file():
        raise UsageError(f"--dataset: {source}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".json"):
        return "csv" if suffix == ".csv" else "sharegpt"
    return _format_of_first_line(path)


def _format_of_first_line(path: Path) -> str:
    for number, row in json_lines(path):
        if not isinstance(row, dict):
            raise UsageError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
        for key, fmt in (("messages", "chat"), ("prompt", "prompt"), ("plates", "plates"), ("text", "plates")):
            if key in row:
                return fmt
        shown = ", ".join(sorted(row)) or "no keys"
        raise UsageError(f"{path}:{number}: cannot tell the dataset's format ({shown}): give --dataset-format")
    raise UsageError(f"{path}: dataset is empty (no rows)")


def load_workload(
    options: WorkloadOptions, counter: Callable[[], TokenCounter] | None = None, start: int = 0,
    first_only: bool = False,
) -> tuple[Scenario, list[str]]:
    """The scenario of a source, and its warnings (one line each). `counter` gives the tokenizer the
    synthetic and recorded-length formats need (built only for them); `start`: the first request's index;
    `first_only`: only the first request is built (the preflight's)."""
    fmt = detect_format(options.source, options.format)
    path = Path(options.source)
    if fmt == "plates":
        if not path.exists():
            return PlateScenario.from_path(path, options.batch_size, options.prompt_form), []
        rows, warnings = read_dataset(path)
        return PlateScenario(rows, options.batch_size, options.prompt_form), warnings
    if is_generated(fmt, options):
        return load_generated(options.source, fmt, options.generation(start, first_only), _counter(counter))
    specs, warnings = _file_specs(fmt, path, options, counter)
    return DatasetScenario(specs, start), warnings


def is_generated(fmt: str, options: WorkloadOptions) -> bool:
    """Built with the tokenizer before the run (generated_workloads): specs, traces, file sessions."""
    return fmt in ("synthetic", "shared-prefix", "sessions", TRACE) or (
        options.sessions and fmt in SESSION_FILE_FORMATS
    )


def _file_specs(
    fmt: str, path: Path, options: WorkloadOptions, counter: Callable[[], TokenCounter] | None
) -> tuple[list[RequestSpec], list[str]]:
    if fmt == "chat":
        return load_jsonl(path, chat_spec), []
    if fmt == "prompt":
        return load_jsonl(path, prompt_spec), []
    if fmt == "csv":
        return load_csv(path), []
    count_text = _counter(counter)().count_text if options.recorded_output_len else None
    specs, skipped = load_sharegpt(path, count_text)
    return specs, [f"{path}: {skipped} entries without a human turn skipped"] if skipped else []


def _counter(counter: Callable[[], TokenCounter] | None) -> Callable[[], TokenCounter]:
    return EstimateCounter if counter is None else counter


def needs_tokenizer(options: WorkloadOptions) -> bool:
    """Whether loading counts tokens: generated workloads, ShareGPT's recorded output lengths."""
    fmt = detect_format(options.source, options.format)
    return is_generated(fmt, options) or (fmt == "sharegpt" and options.recorded_output_len)


def check_workload(options: WorkloadOptions) -> list[str]:
    """Every problem of the source now, before any load (a UsageError); its warnings. A generated workload is
    parsed only (its prompts need the server's tokenizer: built in the load generator)."""
    fmt = detect_format(options.source, options.format)
    if options.sessions and fmt not in (*SESSION_FILE_FORMATS, "sessions"):
        raise UsageError(f"--sessions: plays the conversations of chat JSONL or ShareGPT files, not {fmt} "
                         "(a sessions: spec needs no --sessions)")  # fmt: skip
    if is_generated(fmt, options):
        check_generated(options.source, fmt, options.generation(), options.sessions)
        return []
    return load_workload(options)[1]
