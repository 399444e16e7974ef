"""The values of run options: each option's parser (value, the flag it came from) -> the parsed value, or a
UsageError naming the flag (load.run_options declares the options and applies these)."""

from __future__ import annotations

import ast
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from llmload.analysis.slo import parse_slo
from llmload.cpus import parse_cpu_list
from llmload.errors import UsageError
from llmload.load.settings import settings_from
from llmload.load.workload_choice import check_workload_choice
from llmload.scenarios.datasets.workload_source import check_workload
from llmload.steps import parse_duration_s, parse_levels, parse_rates

AUTO = "auto"
API_KEY_ENV = "OPENAI_API_KEY"


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


def levels(text: str, what: str) -> tuple[int, ...]:
    """() for `auto`: the adaptive plan chooses the levels while the test runs (load.adaptive)."""
    return () if is_auto(text) else tuple(parse_levels(text, what))


def rates(text: str, what: str) -> tuple[float, ...]:
    return tuple(parse_rates(text, what)) if text else ()


def at_least_one(value: int, what: str) -> int:
    if value < 1:
        raise UsageError(f"{what}: {value} must be at least 1")
    return value


def at_least_two(value: int, what: str) -> int:
    if value < 2:
        raise UsageError(f"{what}: {value} must be at least 2")
    return value


def not_negative(value: int, what: str) -> int:
    if value < 0:
        raise UsageError(f"{what}: {value} must be 0 (unknown) or more")
    return value


def step_duration(text: str, what: str) -> float | None:
    """Seconds, or None for `auto` (llmload.step_stop); "" (not given) is resolved by parse_run_values."""
    return None if str(text).strip().lower() == AUTO else parse_duration_s(text, what)


def tolerance(text: str, what: str) -> float:
    """`5%` or `0.05` -> 0.05; between 0 and 1 exclusive."""
    raw = str(text).strip()
    try:
        value = float(raw.removesuffix("%")) / (100.0 if raw.endswith("%") else 1.0)
    except ValueError:
        raise UsageError(f"{what}: {text!r} is not a tolerance (examples: 5%, 0.05)") from None
    if not 0 < value < 1:
        raise UsageError(f"{what}: {text!r} must be between 0 and 100%")
    return value


def max_tokens(value: int, what: str) -> int:
    if value < 0:
        raise UsageError(f"{what}: {value} must be 0 (not sent) or a positive number")
    return value


def warmup(text: str, what: str) -> str:
    if text != AUTO:
        parse_duration_s(text, what)
    return text


def check_locustfile(text: str, what: str = "--locustfile") -> str:
    """A Python file that parses and uses llmload (its mistakes show as one line here, not as Locust's traceback
    or unknown options later)."""
    if not text:
        return text
    path = Path(text)
    if not path.is_file():
        raise UsageError(f"{what}: {text}: no such file")
    source = path.read_bytes()
    try:
        ast.parse(source, filename=text)
    except SyntaxError as exc:
        raise UsageError(f"{what}: {text}:{exc.lineno}: {exc.msg}") from None
    if b"llmload" not in source:
        raise UsageError(f"{what}: {text} has no llmload user class (from llmload import LlmUser)")
    return text


def tokenizer(text: str, what: str) -> str:
    if text and not Path(text).exists():
        raise UsageError(f"{what}: {text}: no such file or folder")
    return text


def check_workload_values(parsed: Mapping[str, Any], on_locust: bool) -> None:
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


def slo(text: str, what: str) -> str:
    if text:
        parse_slo(text, what)
    return text


def metrics_interval(text: str, what: str) -> float:
    # imported here: the telemetry module loads prometheus_client, which no command needs to build its parser
    from llmload.telemetry.run_telemetry import parse_interval_s

    return parse_interval_s(text, what)


def extra_body(text: str, what: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{what}: not JSON ({exc.args[0]})") from None
    if not isinstance(body, dict):
        raise UsageError(f"{what}: {text!r} is not a JSON object")
    return body


def cpus(text: str, what: str) -> list[int] | None:
    return parse_cpu_list(text, what) if text else None


def api_key(text: str, _what: str) -> str | None:
    return text or os.environ.get(API_KEY_ENV) or None
