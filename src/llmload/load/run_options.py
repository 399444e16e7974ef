"""Every option of a run, declared once (RUN_OPTIONS): it feeds `llmload run` and `llmload ui` (argparse, and
through the `run` parser the run.toml file: llmload.config), Locust's own parser (the web UI's start form and
`locust -f locustfiles/plate_detection.py --headless ...`), the Locust command line `llmload run` starts, and
the one check of a run's values (parse_run_values), made before any load and again inside Locust.

On Locust's parser --host is Locust's own, and four options carry the names of a step plan there
(RunOption.locust; Locust has its own --users): --users is --step-users, --rate --step-rates, --model
--llm-model, --out --run-dir.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from llmload.analysis.slo import parse_slo
from llmload.cpus import parse_cpu_list
from llmload.errors import UsageError
from llmload.load.arrivals import ARRIVAL_KINDS
from llmload.load.settings import settings_from
from llmload.load.workload_choice import DEFAULT_SPEEDS, check_workload_choice, think_time_s, trace_speeds
from llmload.scenarios.chat import DEFAULT_PROMPT_FORM, PROMPT_FORMS
from llmload.scenarios.datasets.workload_source import AUTO as AUTO_FORMAT
from llmload.scenarios.datasets.workload_source import FORMATS, check_workload
from llmload.scenarios.plates.plate_scenario import DEFAULT_DATASET
from llmload.steps import parse_duration_s, parse_levels, parse_rates

AUTO = "auto"
API_KEY_ENV = "OPENAI_API_KEY"

Parse = Callable[[Any, str], Any]  # (value, the flag it came from) -> the value parsed; UsageError when bad


@dataclass(frozen=True, slots=True)
class RunOption:
    name: str  # the key of its value: `--name-with-dashes` on `llmload run`, `name` in run.toml
    default: str | int | float | bool  # its type is the option's type (a bool is a flag)
    help: str
    parse: Parse | None = None
    choices: tuple[str, ...] | None = None
    locust: str | None = ""  # Locust's flag: "" ours; None: never given to Locust (stays in llmload)
    locust_owns: bool = False  # Locust's parser defines it (--host): given on its command line, never added
    secret: bool = False  # never on a command line, in a file or in a page: the environment carries it

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def locust_flag(self) -> str:
        return self.locust or self.flag

    @property
    def locust_dest(self) -> str:
        return self.locust_flag.removeprefix("--").replace("-", "_")


def check_host(host: str, what: str = "--host") -> str:
    """An http(s) base URL, returned without its trailing slash."""
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{what}: {host!r} is not an http(s) URL (example: http://127.0.0.1:8000)")
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise UsageError(f"{what}: {host!r}: {exc}") from None
    return host.rstrip("/")


def is_auto(levels: str) -> bool:
    return str(levels).strip().lower() == AUTO


def _levels(text: str, what: str) -> tuple[int, ...]:
    """() for `auto`: the adaptive plan chooses the levels while the test runs (load.adaptive)."""
    return () if is_auto(text) else tuple(parse_levels(text, what))


def _rates(text: str, what: str) -> tuple[float, ...]:
    return tuple(parse_rates(text, what)) if text else ()


def _at_least_one(value: int, what: str) -> int:
    if value < 1:
        raise UsageError(f"{what}: {value} must be at least 1")
    return value


def _max_tokens(value: int, what: str) -> int:
    if value < 0:
        raise UsageError(f"{what}: {value} must be 0 (not sent) or a positive number")
    return value


def _warmup(text: str, what: str) -> str:
    if text != AUTO:
        parse_duration_s(text, what)
    return text


def _tokenizer(text: str, what: str) -> str:
    if text and not Path(text).exists():
        raise UsageError(f"{what}: {text}: no such file or folder")
    return text


def _check_workload(parsed: Mapping[str, Any], on_locust: bool) -> None:
    """Every problem of the workload's source now, before any load (its warnings printed once, by the
    command that starts Locust)."""
    check_workload_choice(parsed, on_locust)
    warnings = check_workload(settings_from(parsed, Path(".")).workload())
    if not on_locust:
        for line in warnings[:MAX_WARNINGS]:
            print(f"llmload: warning: {line}", file=sys.stderr)
        if len(warnings) > MAX_WARNINGS:
            print(f"llmload: warning: ... and {len(warnings) - MAX_WARNINGS} more like these", file=sys.stderr)


MAX_WARNINGS = 10


def _slo(text: str, what: str) -> str:
    if text:
        parse_slo(text, what)
    return text


def _metrics_interval(text: str, what: str) -> float:
    # imported here: the telemetry module loads prometheus_client, which no command needs to build its parser
    from llmload.telemetry.run_telemetry import parse_interval_s

    return parse_interval_s(text, what)


def _extra_body(text: str, what: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{what}: not JSON ({exc.args[0]})") from None
    if not isinstance(body, dict):
        raise UsageError(f"{what}: {text!r} is not a JSON object")
    return body


def _cpus(text: str, what: str) -> list[int] | None:
    return parse_cpu_list(text, what) if text else None


def _api_key(text: str, _what: str) -> str | None:
    return text or os.environ.get(API_KEY_ENV) or None


RUN_OPTIONS: tuple[RunOption, ...] = (
    RunOption("host", "", "Base URL of the OpenAI-compatible server, e.g. http://127.0.0.1:8000 (required)",
              check_host, locust_owns=True),
    RunOption("model", "", "Model name (default: the server's first model)", locust="--llm-model"),
    RunOption("users", "1:40:1", "User levels: 1,2,4,8 or start:stop:step, or auto: adaptive knee search "
              "(default 1:40:1)", _levels, locust="--step-users"),
    RunOption("step_duration", "60s", "Duration of each step: 30, 30s, 2m (default 60s)", parse_duration_s),
    RunOption("rate", "", "Open loop instead of users: arrival rates in req/s per step (0.5,1,2 or 1:10:1)",
              _rates, locust="--step-rates"),
    RunOption("arrival", "constant", "Open-loop arrivals (default constant)", choices=ARRIVAL_KINDS),
    RunOption("max_users", 256, "Open loop: most requests in flight at once; auto: the highest level tried "
              "(default 256)", _at_least_one),
    RunOption("out", "", "Run directory (default reports/<run-id>)", locust="--run-dir"),
    RunOption("dataset", DEFAULT_DATASET, "Workload: plate comments JSONL (default: the checked-in set), chat JSONL, "
              "prompt JSONL, CSV with a prompt column, ShareGPT JSON, or synthetic:prompt_tokens=N,output_tokens=M"),
    RunOption("dataset_format", AUTO_FORMAT, "The --dataset's format (default auto: detected)",
              choices=(AUTO_FORMAT, *FORMATS)),
    RunOption("sessions", False, "Play the --dataset's conversations (chat JSONL, ShareGPT) turn by turn: each user "
              "one conversation at a time, each turn sending the whole history with the answers as received"),
    RunOption("think_time", "0", "Sessions: pause between a session's turns, e.g. 2s (default 0; a sessions: "
              "spec sets its own think_s)", think_time_s),
    RunOption("trace", "", "Replay a request trace open loop instead of --dataset/--rate: Mooncake JSONL or CSV "
              "timestamp,input_tokens,output_tokens; each step one --trace-speed, cut at --step-duration"),
    RunOption("trace_speed", DEFAULT_SPEEDS, "Trace speed-ups, one step each: 0.5,1,2,4 (default 1)", trace_speeds),
    RunOption("endpoint", "chat", "chat: /v1/chat/completions (default); completions: /v1/completions, prompts "
              "without the chat template (give --max-tokens: its default is often 16)", choices=("chat", "completions")),
    RunOption("no_stream", False, "Whole answers, not streamed: E2E only, tokens from usage, TTFT not applicable"),
    RunOption("tokenizer", "", "Synthetic lengths where the server has no /tokenize: a tokenizer.json or a "
              "Hugging Face model folder (default: the server's /tokenize, else an estimate)", _tokenizer),
    RunOption("recorded_output_len", False, "ShareGPT: max_tokens = the token count of the recorded answer"),
    RunOption("batch_size", 100, "Plate comments per request (default 100)", _at_least_one),
    RunOption("prompt_form", DEFAULT_PROMPT_FORM, "system-user: system + user message (default); single-user: "
              "one user message, as vllm bench's custom dataset", choices=PROMPT_FORMS),
    RunOption("max_tokens", 0, "max_tokens per request (default 0: not sent, the server decides)", _max_tokens),
    RunOption("ignore_eos", False, "vLLM: always generate max_tokens tokens"),
    RunOption("temperature", 0.0, "Sampling temperature (default 0)"),
    RunOption("extra_body", "", "JSON object merged into every request body: a server's own fields, e.g. "
              "'{\"top_k\": 20}' or '{\"chat_template_kwargs\": {\"enable_thinking\": false}}'", _extra_body),
    RunOption("api_key", "", "API key (default: $OPENAI_API_KEY); never written to disk", _api_key, secret=True),
    RunOption("warmup", AUTO, "Warm-up per step: seconds or auto (default auto)", _warmup),
    RunOption("connect_timeout", "10s", "Connect timeout (default 10s)", parse_duration_s),
    RunOption("first_token_timeout", "600s", "First-token timeout (default 600s)", parse_duration_s),
    RunOption("request_timeout", "1800s", "Whole-request timeout (default 1800s)", parse_duration_s),
    RunOption("slo", "", 'SLO, e.g. "ttft_p95<=2s,e2e_p95<=60s,error_rate<=1%%"', _slo),
    RunOption("no_score", False, "Do not score answers (plates found, expected answers)"),
    RunOption("metrics_interval", "1s", "Sample the target's /metrics and local GPUs this often (default 1s; 0: off)",
              _metrics_interval),
    RunOption("cpus", "", "Run the load generator on these cores only, e.g. 0 or 0-3 (default: any); keeps it off "
              "a server's cores on a shared machine", _cpus, locust=None),
)  # fmt: skip


def _argparse_kwargs(option: RunOption) -> dict[str, Any]:
    if isinstance(option.default, bool):
        return {"action": "store_true", "default": option.default, "help": option.help}
    kwargs: dict[str, Any] = {"default": option.default, "help": option.help}
    if isinstance(option.default, int | float):
        kwargs["type"] = type(option.default)
    if option.choices is not None:
        kwargs["choices"] = option.choices
    return kwargs


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options of `llmload run` and `llmload ui`."""
    for option in RUN_OPTIONS:
        parser.add_argument(option.flag, **_argparse_kwargs(option))


def add_locust_options(parser: Any) -> None:
    """The options on Locust's own parser (`locust --help`, the web UI's start form: is_secret and the form
    work only on its top-level arguments)."""
    for option in RUN_OPTIONS:
        if option.locust is not None and not option.locust_owns:
            parser.add_argument(option.locust_flag, **_argparse_kwargs(option), is_secret=option.secret)


def locust_values(options: Any, host: str) -> dict[str, Any]:
    """The run's values from Locust's parsed options (and its --host), keyed as RUN_OPTIONS."""
    values = {
        o.name: getattr(options, o.locust_dest)
        for o in RUN_OPTIONS
        if o.locust is not None and not o.locust_owns
    }
    return {**values, "host": host}


def locust_option_argv(values: Mapping[str, Any], leave_out: Collection[str] = ()) -> list[str]:
    """The values that differ from their defaults (Locust's parser has the same ones) as Locust's flags;
    secrets (the environment carries them) and the options Locust never sees stay out."""
    argv: list[str] = []
    for option in RUN_OPTIONS:
        value = values.get(option.name, option.default)
        if option.locust is None or option.secret or option.name in leave_out or value == option.default:
            continue
        argv += [option.locust_flag] if isinstance(option.default, bool) else [option.locust_flag, str(value)]
    return argv


def parse_run_values(values: Mapping[str, Any], on_locust: bool = False) -> dict[str, Any]:
    """The one check of a run's values, keyed as RUN_OPTIONS (absent: the default): each parsed by its option
    (levels as a tuple, durations in seconds, the dataset read through), or a UsageError naming the flag as
    it was given (ours, or Locust's with `on_locust`)."""
    parsed: dict[str, Any] = {}
    for option in RUN_OPTIONS:
        value = values.get(option.name, option.default)
        what = option.locust_flag if on_locust else option.flag
        if option.choices is not None and value not in option.choices:
            raise UsageError(f"{what}: {value!r} is not one of {', '.join(option.choices)}")
        parsed[option.name] = option.parse(value, what) if option.parse is not None else value
    if parsed["ignore_eos"] and not parsed["max_tokens"]:
        raise UsageError("--ignore-eos needs --max-tokens N (the fixed output length)")
    _check_workload(parsed, on_locust)
    return parsed
