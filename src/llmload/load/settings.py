"""A run's settings, typed: built from the values of RUN_OPTIONS once they passed their one check
(load.run_options.parse_run_values), in `llmload run` before any load and in every Locust process."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from llmload.client.timeouts import Timeouts
from llmload.scenarios.datasets.generated_workloads import TRACE
from llmload.scenarios.datasets.workload_source import WorkloadOptions
from llmload.step_stop import StopRule


@dataclass(frozen=True, slots=True)
class LoadSettings:
    host: str
    model: str
    dataset: str  # a file, or a synthetic spec (llmload.scenarios.datasets)
    dataset_format: str  # auto: detected
    endpoint: str  # chat (/v1/chat/completions) or completions (/v1/completions)
    stream: bool  # False (--no-stream): whole answers, E2E only
    tokenizer: str  # a local tokenizer for synthetic lengths where the server has no /tokenize ("": none)
    recorded_output_len: bool  # ShareGPT: max_tokens = the recorded answer's length
    batch_size: int
    prompt_form: str
    max_tokens: int
    ignore_eos: bool
    temperature: float
    levels: tuple[int, ...]
    rates: tuple[float, ...]  # open loop when non-empty: one arrival rate per step
    arrival: str
    max_users: int
    step_duration_s: float | None  # None: auto steps (llmload.step_stop), each ended by `stop_rule`
    stop_rule: StopRule
    warmup: str
    run_dir: Path
    api_key: str | None
    timeouts: Timeouts
    slo: str
    score: bool
    metrics_interval_s: float  # 0: the target's /metrics and local GPUs are not sampled
    extra_body: dict[str, Any]  # merged into every request body last (--extra-body)
    trace: str = ""  # --trace: a request trace replayed open loop, one speed-up a step ("": none)
    trace_speeds: tuple[float, ...] = (1.0,)
    sessions: bool = False  # --sessions: the dataset's conversations played turn by turn
    think_s: float = 0.0  # --think-time: between a session's turns
    target_gpus: int = 0  # 0: unknown here (the simulator's profile or `llmload serve` may know)

    @property
    def open_loop(self) -> bool:
        return bool(self.rates) or bool(self.trace)

    @property
    def adaptive(self) -> bool:
        """`--users auto`: the plan is chosen while the test runs (load.adaptive)."""
        return not self.rates and not self.levels and not self.trace

    @property
    def auto_steps(self) -> bool:
        """`--step-duration auto`: each step runs until its numbers are steady (llmload.step_stop)."""
        return self.step_duration_s is None

    @property
    def step_count(self) -> int:
        if self.trace:
            return len(self.trace_speeds)
        return len(self.rates) if self.rates else len(self.levels)

    @property
    def trace_step_s(self) -> float:
        """A trace step's length, where its replay is cut: fixed (parse_run_values refuses auto with --trace)."""
        assert self.step_duration_s is not None, "a trace's steps have a fixed duration"
        return self.step_duration_s

    @property
    def trace_until_s(self) -> float:
        """The trace time a run replays at most: the step duration at the largest speed-up."""
        return self.trace_step_s * max(self.trace_speeds)

    @property
    def chat(self) -> bool:
        return self.endpoint == "chat"

    def workload(self) -> WorkloadOptions:
        """What the run sends: --trace, else --dataset."""
        if self.trace:
            return WorkloadOptions(self.trace, TRACE, chat=self.chat, trace_until_s=self.trace_until_s)
        return WorkloadOptions(
            self.dataset, self.dataset_format, self.batch_size, self.prompt_form, self.chat,
            self.recorded_output_len, self.sessions, self.think_s,
        )  # fmt: skip

    def public_dict(self) -> dict[str, Any]:
        """Everything worth keeping in run metadata; the API key is never included."""
        return {
            "host": self.host,
            "model": self.model,
            "dataset": self.dataset,
            "dataset_format": self.dataset_format,
            "endpoint": self.endpoint,
            "stream": self.stream,
            "tokenizer": self.tokenizer,
            "recorded_output_len": self.recorded_output_len,
            "batch_size": self.batch_size,
            "prompt_form": self.prompt_form,
            "max_tokens": self.max_tokens,
            "ignore_eos": self.ignore_eos,
            "temperature": self.temperature,
            "levels": list(self.levels),
            "rates_rps": list(self.rates),
            "arrival": self.arrival,
            "max_users": self.max_users,
            "step_duration_s": self.step_duration_s,
            **({"step_stop": asdict(self.stop_rule)} if self.auto_steps else {}),
            "warmup": self.warmup,
            "timeouts_s": {
                "connect": self.timeouts.connect_s,
                "first_token": self.timeouts.first_token_s,
                "total": self.timeouts.total_s,
            },
            "slo": self.slo,
            "extra_body": self.extra_body,
            "api_key_set": self.api_key is not None,
            **({"trace": self.trace, "trace_speeds": list(self.trace_speeds)} if self.trace else {}),
            **({"sessions": True} if self.sessions else {}),
            **({"think_s": self.think_s} if self.think_s else {}),
            **({"target_gpus": self.target_gpus} if self.target_gpus else {}),
        }


def settings_from(v: Mapping[str, Any], default_run_dir: Path) -> LoadSettings:
    """From the values parse_run_values returned; `--out` empty: the run goes to `default_run_dir`."""
    return LoadSettings(
        host=v["host"],
        model=v["model"],
        dataset=v["dataset"],
        dataset_format=v["dataset_format"],
        endpoint=v["endpoint"],
        stream=not v["no_stream"],
        tokenizer=v["tokenizer"],
        recorded_output_len=bool(v["recorded_output_len"]),
        batch_size=v["batch_size"],
        prompt_form=v["prompt_form"],
        max_tokens=v["max_tokens"],
        ignore_eos=bool(v["ignore_eos"]),
        temperature=float(v["temperature"]),
        levels=v["users"],
        rates=v["rate"],
        arrival=v["arrival"],
        max_users=v["max_users"],
        step_duration_s=v["step_duration"],
        stop_rule=StopRule(v["min_samples"], v["tolerance"], v["max_step_duration"]),
        warmup=v["warmup"],
        run_dir=Path(v["out"]) if v["out"] else default_run_dir,
        api_key=v["api_key"],
        timeouts=Timeouts(v["connect_timeout"], v["first_token_timeout"], v["request_timeout"]),
        slo=v["slo"],
        score=not v["no_score"],
        metrics_interval_s=v["metrics_interval"],
        extra_body=v["extra_body"],
        trace=v["trace"],
        trace_speeds=v["trace_speed"],
        sessions=bool(v["sessions"]),
        think_s=v["think_time"],
        target_gpus=v["target_gpus"],
    )
