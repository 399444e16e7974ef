"""Scenario options, registered on Locust's own parser so they appear in the web UI start form
and on `locust --help`, and read back into a typed `LoadSettings`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmload.client.stream import Timeouts
from llmload.load.arrivals import ARRIVAL_KINDS
from llmload.scenarios.chat import DEFAULT_PROMPT_FORM, PROMPT_FORMS
from llmload.steps import parse_duration_s, parse_levels, parse_rates

DEFAULT_DATASET = "datasets/plate_comments.jsonl"
DEFAULT_LEVELS = "1:40:1"
DEFAULT_STEP_DURATION = "60s"


def add_locust_arguments(parser: Any) -> None:
    group = parser  # Locust's own parser: is_secret and the web UI form work only on top-level arguments
    group.add_argument(
        "--llm-model", default="", help="Model name sent in requests (default: the server's first model)"
    )
    group.add_argument("--dataset", default=DEFAULT_DATASET, help="Comments dataset (JSONL)")
    group.add_argument(
        "--batch-size",
        type=int,
        default=100,
        help="Comments per request (100 ≈ the seed's 1.3k-token prompt)",
    )
    group.add_argument(
        "--prompt-form",
        default=DEFAULT_PROMPT_FORM,
        choices=PROMPT_FORMS,
        help="system-user: a system and a user message; single-user: one user message (as vllm bench's custom dataset)",
    )
    group.add_argument(
        "--max-tokens",
        type=int,
        default=0,
        help="max_tokens of each request (0: not sent, the server decides)",
    )
    group.add_argument(
        "--ignore-eos", action="store_true", default=False, help="vLLM: generate exactly max_tokens"
    )
    group.add_argument("--temperature", type=float, default=0.0, help="Sampling temperature")
    group.add_argument("--step-users", default=DEFAULT_LEVELS, help="User levels: 1,2,4,8 or start:stop:step, or auto (adaptive search for the knee)")
    group.add_argument(
        "--step-duration", default=DEFAULT_STEP_DURATION, help="Duration of each step (30, 30s, 2m)"
    )
    group.add_argument(
        "--step-rates", default="", help="Open loop: arrival rates in req/s per step (0.5,1,2 or 1:10:1)"
    )
    group.add_argument(
        "--arrival", default="constant", choices=ARRIVAL_KINDS, help="Open loop: constant or poisson"
    )
    group.add_argument(
        "--max-users", type=int, default=256, help="Open loop: most requests in flight at once"
    )
    group.add_argument(
        "--warmup", default="auto", help="Warm-up per step excluded from statistics (seconds, or auto)"
    )
    group.add_argument(
        "--run-dir", default="", help="Run directory for records and the report (default reports/<run-id>)"
    )
    group.add_argument("--api-key", default="", is_secret=True, help="API key (default: $OPENAI_API_KEY)")
    group.add_argument("--connect-timeout", default="10s", help="Connect timeout")
    group.add_argument("--first-token-timeout", default="600s", help="Time allowed until the first token")
    group.add_argument("--request-timeout", default="1800s", help="Time allowed for a whole request")
    group.add_argument(
        "--slo", default="", help='SLO clauses, e.g. "ttft_p95<=2s,e2e_p95<=60s,error_rate<=1%%"'
    )
    group.add_argument(
        "--no-score", action="store_true", default=False, help="Do not parse answers for plates"
    )
    group.add_argument(
        "--metrics-interval",
        default="1s",
        help="Sample the target's /metrics (and local GPUs) this often during the run; 0 turns it off",
    )


@dataclass(frozen=True, slots=True)
class LoadSettings:
    host: str
    model: str
    dataset: Path
    batch_size: int
    prompt_form: str
    max_tokens: int
    ignore_eos: bool
    temperature: float
    levels: tuple[int, ...]
    rates: tuple[float, ...]  # open loop when non-empty: one arrival rate per step
    arrival: str
    max_users: int
    step_duration_s: float
    warmup: str
    run_dir: Path
    api_key: str | None
    timeouts: Timeouts
    slo: str
    score: bool

    @property
    def open_loop(self) -> bool:
        return bool(self.rates)

    @property
    def adaptive(self) -> bool:
        """`--users auto`: the plan is chosen while the test runs (load.adaptive)."""
        return not self.rates and not self.levels

    @property
    def step_count(self) -> int:
        return len(self.rates) if self.rates else len(self.levels)

    def request_body(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": self.temperature,
        }
        if self.max_tokens:
            body["max_tokens"] = self.max_tokens
        if self.ignore_eos:
            body["ignore_eos"] = True
        return body

    def public_dict(self) -> dict[str, Any]:
        """Everything worth keeping in run metadata; the API key is never included."""
        return {
            "host": self.host,
            "model": self.model,
            "dataset": str(self.dataset),
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
            "warmup": self.warmup,
            "timeouts_s": {
                "connect": self.timeouts.connect_s,
                "first_token": self.timeouts.first_token_s,
                "total": self.timeouts.total_s,
            },
            "slo": self.slo,
            "api_key_set": self.api_key is not None,
        }


def settings_from_options(options: Any, host: str, run_id: str) -> LoadSettings:
    from llmload.errors import UsageError

    if options.batch_size < 1:
        raise UsageError(f"--batch-size: {options.batch_size} must be at least 1")
    check_max_tokens(options.max_tokens, bool(options.ignore_eos))
    if options.max_users < 1:
        raise UsageError(f"--max-users: {options.max_users} must be at least 1")
    if options.warmup != "auto":
        parse_duration_s(options.warmup, "--warmup")
    return LoadSettings(
        host=host.rstrip("/"),
        model=options.llm_model,
        dataset=Path(options.dataset),
        batch_size=options.batch_size,
        prompt_form=options.prompt_form,
        max_tokens=options.max_tokens,
        ignore_eos=bool(options.ignore_eos),
        temperature=options.temperature,
        levels=() if is_auto(options.step_users) else tuple(parse_levels(options.step_users, "--step-users")),
        rates=tuple(parse_rates(options.step_rates, "--step-rates")) if options.step_rates else (),
        arrival=options.arrival,
        max_users=options.max_users,
        step_duration_s=parse_duration_s(options.step_duration, "--step-duration"),
        warmup=options.warmup,
        run_dir=Path(options.run_dir) if options.run_dir else Path("reports") / run_id,
        api_key=options.api_key or os.environ.get("OPENAI_API_KEY") or None,
        timeouts=Timeouts(
            connect_s=parse_duration_s(options.connect_timeout, "--connect-timeout"),
            first_token_s=parse_duration_s(options.first_token_timeout, "--first-token-timeout"),
            total_s=parse_duration_s(options.request_timeout, "--request-timeout"),
        ),
        slo=options.slo,
        score=not options.no_score,
    )


def check_max_tokens(max_tokens: int, ignore_eos: bool) -> None:
    from llmload.errors import UsageError

    if max_tokens < 0:
        raise UsageError(f"--max-tokens: {max_tokens} must be 0 (not sent) or a positive number")
    if ignore_eos and not max_tokens:
        raise UsageError("--ignore-eos needs --max-tokens N (the fixed output length)")


def is_auto(levels: str) -> bool:
    return levels.strip().lower() == "auto"
