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
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from llmload.errors import UsageError
from llmload.load import option_values as v
from llmload.load.arrivals import ARRIVAL_KINDS
from llmload.load.option_values import AUTO, check_host, check_locustfile
from llmload.load.workload_choice import DEFAULT_SPEEDS, think_time_s, trace_speeds
from llmload.scenarios.chat import DEFAULT_PROMPT_FORM, PROMPT_FORMS
from llmload.scenarios.datasets.workload_source import AUTO as AUTO_FORMAT
from llmload.scenarios.datasets.workload_source import FORMATS
from llmload.scenarios.plates.plate_scenario import DEFAULT_DATASET
from llmload.step_stop import DEFAULT_MIN_SAMPLES
from llmload.steps import parse_duration_s

DEFAULT_STEP_DURATION = "60s"  # a fixed plan's steps when --step-duration is not given

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


RUN_OPTIONS: tuple[RunOption, ...] = (
    RunOption("host", "", "Base URL of the OpenAI-compatible server, e.g. http://127.0.0.1:8000 (required)",
              check_host, locust_owns=True),
    RunOption("model", "", "Model name (default: the server's first model)", locust="--llm-model"),
    RunOption("users", "1:40:1", "User levels: 1,2,4,8 or start:stop:step, or auto: adaptive knee search "
              "(default 1:40:1)", v.levels, locust="--step-users"),
    RunOption("step_duration", "", "Duration of each step: 30, 30s, 2m, or auto: until its numbers are steady "
              "(--min-samples, --tolerance, --max-step-duration) (default: auto with --users auto, else 60s)",
              v.step_duration),
    RunOption("min_samples", DEFAULT_MIN_SAMPLES, "Auto steps: steady completions a step needs at least "
              f"(default {DEFAULT_MIN_SAMPLES})", v.at_least_two),
    RunOption("tolerance", "5%", "Auto steps: a step ends when the 95%% intervals of its throughput and p95 E2E "
              "are within this of their values (default 5%%)", v.tolerance),
    RunOption("max_step_duration", "15m", "Auto steps: the longest a step may run; one that reaches it is marked "
              "less certain (default 15m)", parse_duration_s),
    RunOption("rate", "", "Open loop instead of users: arrival rates in req/s per step (0.5,1,2 or 1:10:1)",
              v.rates, locust="--step-rates"),
    RunOption("arrival", "constant", "Open-loop arrivals (default constant)", choices=ARRIVAL_KINDS),
    RunOption("max_users", 256, "Open loop: most requests in flight at once; auto: the highest level tried "
              "(default 256)", v.at_least_one),
    RunOption("out", "", "Run directory (default reports/<run-id>)", locust="--run-dir"),
    RunOption("locustfile", "", "Your own locustfile: its LlmUser classes' tasks send the requests instead of "
              "--dataset (see docs/locustfile.md)", check_locustfile, locust=None),
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
              "Hugging Face model folder (default: the server's /tokenize, else an estimate)", v.tokenizer),
    RunOption("recorded_output_len", False, "ShareGPT: max_tokens = the token count of the recorded answer"),
    RunOption("batch_size", 100, "Plate comments per request (default 100)", v.at_least_one),
    RunOption("prompt_form", DEFAULT_PROMPT_FORM, "system-user: system + user message (default); single-user: "
              "one user message, as vllm bench's custom dataset", choices=PROMPT_FORMS),
    RunOption("max_tokens", 0, "max_tokens per request (default 0: not sent, the server decides)", v.max_tokens),
    RunOption("ignore_eos", False, "vLLM: always generate max_tokens tokens"),
    RunOption("temperature", 0.0, "Sampling temperature (default 0)"),
    RunOption("extra_body", "", "JSON object merged into every request body: a server's own fields, e.g. "
              "'{\"top_k\": 20}' or '{\"chat_template_kwargs\": {\"enable_thinking\": false}}'", v.extra_body),
    RunOption("api_key", "", "API key (default: $OPENAI_API_KEY); never written to disk", v.api_key, secret=True),
    RunOption("warmup", AUTO, "Warm-up per step: seconds or auto (default auto)", v.warmup),
    RunOption("connect_timeout", "10s", "Connect timeout (default 10s)", parse_duration_s),
    RunOption("first_token_timeout", "600s", "First-token timeout (default 600s)", parse_duration_s),
    RunOption("request_timeout", "1800s", "Whole-request timeout (default 1800s)", parse_duration_s),
    RunOption("slo", "", 'SLO, e.g. "ttft_p95<=2s,e2e_p95<=60s,error_rate<=1%%"; NAME:CLAUSE judges the requests '
              'of one name, e.g. "rag:ttft_p95<=2s"', v.slo),
    RunOption("no_score", False, "Do not score answers (plates found, expected answers)"),
    RunOption("metrics_interval", "1s", "Sample the target's /metrics and local GPUs this often (default 1s; 0: off)",
              v.metrics_interval),
    RunOption("target_gpus", 0, "GPUs of the target, for its time in GPU-hours (default 0: the simulator's "
              "profile or `llmload serve`'s GPUs where known)", v.not_negative),
    RunOption("cpus", "", "Run the load generator on these cores only, e.g. 0 or 0-3 (default: any); keeps it off "
              "a server's cores on a shared machine", v.cpus, locust=None),
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
        if option.name == "step_duration" and not str(value).strip():  # not given: after the plan's options
            continue
        parsed[option.name] = option.parse(value, what) if option.parse is not None else value
    if "step_duration" not in parsed:  # auto for --users auto, else DEFAULT_STEP_DURATION
        adaptive = not parsed["users"] and not parsed["rate"] and not parsed["trace"]
        parsed["step_duration"] = None if adaptive else parse_duration_s(DEFAULT_STEP_DURATION)
    if parsed["step_duration"] is None and (parsed["rate"] or parsed["trace"]):
        open_loop = "--rate" if parsed["rate"] else "--trace"
        raise UsageError(f"--step-duration auto: open-loop steps ({open_loop}) need a fixed duration, e.g. 60s")
    if parsed["ignore_eos"] and not parsed["max_tokens"]:
        raise UsageError("--ignore-eos needs --max-tokens N (the fixed output length)")
    if parsed["locustfile"] and parsed["dataset"] != DEFAULT_DATASET:
        raise UsageError("--dataset: not used with --locustfile (the locustfile's tasks make the requests)")
    v.check_workload_values(parsed, on_locust)
    return parsed
