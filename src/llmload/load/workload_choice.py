"""The rules between the workload's run options, checked once with the rest (load.run_options): --trace replays
a trace instead of --dataset and --rate, one --trace-speed a step; sessions (--sessions, or a sessions: spec)
run closed loop, and only they think (--think-time). Before any load, `llmload run` checks that the trace's
longest request fits the server's context (check_trace_context)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llmload.client.blocking_http import model_context
from llmload.errors import UsageError
from llmload.load.settings import LoadSettings
from llmload.scenarios.datasets.session_spec import is_session_spec
from llmload.scenarios.datasets.trace_file import load_trace
from llmload.scenarios.plates.plate_scenario import DEFAULT_DATASET
from llmload.steps import parse_duration_s, parse_rates

DEFAULT_SPEEDS = "1"


def trace_speeds(text: str, what: str) -> tuple[float, ...]:
    """`--trace-speed 0.5,1,2,4` (or start:stop:step): the trace's speed-ups, one step each."""
    return tuple(parse_rates(text, what))


def think_time_s(text: str, what: str) -> float:
    """A pause between turns: 0 (none), or a duration (2, 2s, 500ms)."""
    return 0.0 if str(text).strip() in ("0", "0s") else parse_duration_s(text, what)


def check_workload_choice(parsed: Mapping[str, Any], on_locust: bool = False) -> None:
    rate_flag = "--step-rates" if on_locust else "--rate"
    sessions = bool(parsed["sessions"]) or is_session_spec(str(parsed["dataset"]))
    if parsed["locustfile"] and (parsed["trace"] or parsed["sessions"]):
        flag = "--trace" if parsed["trace"] else "--sessions"
        raise UsageError(f"{flag}: not used with --locustfile (the locustfile's tasks make the requests)")
    if parsed["trace"]:
        if parsed["rate"]:
            raise UsageError(f"--trace: the trace says when requests leave: give no {rate_flag}")
        if parsed["dataset"] != DEFAULT_DATASET:
            raise UsageError("--trace: the trace's lengths make the prompts: give no --dataset")
    elif parsed["trace_speed"] != trace_speeds(DEFAULT_SPEEDS, "--trace-speed"):
        raise UsageError("--trace-speed: speeds of a trace: give --trace PATH")
    if sessions and (parsed["rate"] or parsed["trace"]):
        raise UsageError(f"--sessions: a session's next turn waits for its answer: sessions run closed loop "
                         f"(--users), not with {rate_flag if parsed['rate'] else '--trace'}")  # fmt: skip
    if parsed["think_time"] and not sessions:
        raise UsageError("--think-time: only sessions pause between turns (--sessions, or a sessions: spec)")


def check_trace_context(settings: LoadSettings) -> None:
    """A UsageError when a request the run would replay needs more tokens (input + output) than the model's
    context; nothing when the server does not say its context."""
    context = model_context(settings.host, settings.api_key, settings.model)
    if not settings.trace or context is None:
        return
    replayed = [r for r in load_trace(Path(settings.trace)) if r.at_s < settings.trace_until_s]
    longest = max(replayed, key=lambda r: r.input_tokens + r.output_tokens)
    needed = longest.input_tokens + longest.output_tokens
    if needed > context:
        raise UsageError(f"--trace: {settings.trace}:{longest.line}: the request needs {needed} tokens (input "
                         f"{longest.input_tokens} + output {longest.output_tokens}), more than the context of "
                         f"{settings.model} on {settings.host} ({context} tokens)")  # fmt: skip
