"""`llmload run --config run.toml`: every `run` option from a TOML file, so a nightly job is one line.

Keys are the option names with `_` (or `-`): `step_duration = "2m"` is `--step-duration 2m`. Values:
strings for text options (numbers are accepted and turned into text: `warmup = 5`), integers for
integer options, numbers for real ones, true/false for flags, and a list for `users`/`rate`
(`users = [1, 2, 4, 8]` is `--users 1,2,4,8`). An unknown key, a table, or a value of the wrong type is
a usage error naming the file, line and key. Flags given on the command line override the file.

    # nightly.toml
    host = "http://127.0.0.1:4444"
    users = "auto"
    step_duration = "2m"
    slo = "ttft_p95<=2s,e2e_p95<=60s,error_rate<=1%"
    baseline = "reports/baseline/summary.json"
    max_regression = "10%"
"""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path
from typing import Any

from llmload.errors import UsageError

SKIPPED_DESTS = ("help", "config")


def _line_of(text: str, key: str) -> int | None:
    name = rf"[\"']?{re.escape(key)}[\"']?"
    pattern = re.compile(rf"^\s*(?:{name}\s*=|\[\s*{name}\s*[\].])", re.MULTILINE)
    match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--config: {path}: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None


def options_of(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """dest -> action of every optional argument of a (sub)parser."""
    return {a.dest: a for a in parser._actions if a.option_strings and a.dest not in SKIPPED_DESTS}


def convert(action: argparse.Action, value: Any, where: str) -> Any:
    """A TOML value as the option's default would be; raises UsageError when the type cannot be."""
    flag = action.option_strings[-1]
    if isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction):
        if not isinstance(value, bool):
            raise UsageError(f"{where}: {flag} is a flag: write true or false, not {value!r}")
        return value
    if isinstance(value, bool | dict):
        raise UsageError(f"{where}: {flag} takes a value, not {value!r}")
    if action.type is int:
        if not isinstance(value, int):
            raise UsageError(f"{where}: {flag} needs a whole number, not {value!r}")
    elif action.type is float:
        if not isinstance(value, int | float):
            raise UsageError(f"{where}: {flag} needs a number, not {value!r}")
        value = float(value)
    elif isinstance(value, list):
        value = ",".join(str(v) for v in value)
    elif isinstance(value, int | float):
        value = str(value)
    if action.choices is not None and value not in action.choices:
        raise UsageError(
            f"{where}: {flag} must be one of {', '.join(map(str, action.choices))}, not {value!r}"
        )
    return value


def config_defaults(parser: argparse.ArgumentParser, path: Path) -> dict[str, Any]:
    """The file's values as parser defaults (dest -> value), checked against the parser's options."""
    data, text = read_toml(path)
    known = options_of(parser)
    out: dict[str, Any] = {}
    for key, value in data.items():
        dest = key.replace("-", "_")
        line = _line_of(text, key)
        where = f"{path}:{line}" if line else str(path)
        if isinstance(value, dict):
            raise UsageError(f"{where}: [{key}] is a table; run options are top-level keys (key = value)")
        if dest not in known:
            raise UsageError(
                f"{where}: unknown option '{key}' (`llmload {parser.prog.split()[-1]}` has no --{dest.replace('_', '-')})"
            )
        out[dest] = convert(known[dest], value, f"{where}: {key}")
    return out


def _config_path(argv: list[str]) -> str | None:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", default=None)
    known, _ = pre.parse_known_args(argv)
    return str(known.config) if known.config else None


def subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found = action.choices.get(name)
            return found if isinstance(found, argparse.ArgumentParser) else None
    return None


def apply_config(parser: argparse.ArgumentParser, argv: list[str], command: str = "run") -> None:
    """When `argv` is `COMMAND ... --config FILE ...`, the file's values become COMMAND's defaults."""
    if not argv or argv[0] != command:
        return
    path = _config_path(argv[1:])
    sub = subparser(parser, command)
    if path is None or sub is None:
        return
    defaults = config_defaults(sub, Path(path))
    for action in options_of(sub).values():
        if action.dest in defaults:
            action.required = False  # e.g. --host given by the file
    sub.set_defaults(**defaults)
