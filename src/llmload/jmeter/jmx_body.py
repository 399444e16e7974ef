"""The HTTP Request's JSON body -> chat dataset rows and run options.

Each CSV Data Set row (or the one body, without a data set) gives one dataset line `{"messages": [...],
"max_tokens"?: N}`: ${variables} are substituted into the body's text as JMeter does; where that text is not
valid JSON (a value holding a quote or a line break, which JMeter would send broken), the values are put
into the parsed body's strings instead, and a note says so. model, temperature, max_tokens and ignore_eos
become run options; other body keys are notes. `stream` and `stream_options` are llmload's own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llmload.errors import UsageError
from llmload.jmeter.jmx_tree import substitute

OPTION_KEYS = {"model": "model", "temperature": "temperature", "max_tokens": "max_tokens",
               "max_completion_tokens": "max_tokens", "ignore_eos": "ignore_eos"}  # fmt: skip
OWN_KEYS = ("messages", "stream", "stream_options")
_PIECES = re.compile(r"(\$\{[^${}]*\})")  # text split around ${...} references, the references kept


@dataclass
class Bodies:
    rows: list[dict[str, Any]]  # dataset lines
    options: dict[str, Any]  # run.toml keys
    notes: list[str] = field(default_factory=list)


def chat_bodies(template: str, variables: dict[str, str], data_rows: list[dict[str, str]]) -> Bodies:
    bodies, unresolved, inserted = [], set(), 0
    for row in data_rows or [{}]:
        body, missing, as_values = _body(template, {**variables, **row})
        bodies.append(body)
        unresolved |= missing
        inserted += as_values
    result = Bodies([_row(b) for b in bodies], _options(bodies))
    if unresolved:
        result.notes.append(f"{', '.join(sorted(unresolved))}: not a variable of the plan or a CSV column, left as text")
    if inserted:
        result.notes.append(f"{inserted} of {len(bodies)} bodies were not JSON after JMeter's substitution (a "
                            "value with a quote or line break): the values went in as JSON text")  # fmt: skip
    result.notes += [f"body key {k!r} not mapped" for k in sorted({k for b in bodies for k in b}) if k not in OPTION_KEYS and k not in OWN_KEYS]
    result.notes += _varying(bodies)
    return result


def _body(template: str, variables: dict[str, str]) -> tuple[dict[str, Any], set[str], int]:
    """(the body as the server would get it, unresolved references, 1 if the values had to be escaped)."""
    text, unresolved = substitute(template, variables)
    try:
        return _chat(json.loads(text)), unresolved, 0
    except json.JSONDecodeError:
        pass
    text = _escaped(template, variables)
    try:
        return _chat(json.loads(text)), unresolved, 1
    except json.JSONDecodeError as exc:
        raise UsageError(f"the HTTP Request body is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None


def _escaped(template: str, variables: dict[str, str]) -> str:
    """${...} substituted as JSON string content inside a JSON string, as text outside one."""
    out, in_string = [], False
    for i, piece in enumerate(_PIECES.split(template)):
        if i % 2:  # a ${...} reference
            value = substitute(piece, variables)[0]
            out.append(json.dumps(value, ensure_ascii=False)[1:-1] if in_string else value)
            continue
        escaped = False
        for char in piece:
            if escaped:
                escaped = False
            elif char == "\\" and in_string:
                escaped = True
            elif char == '"':
                in_string = not in_string
        out.append(piece)
    return "".join(out)


def _chat(body: Any) -> dict[str, Any]:
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(messages, list) or not all(
        isinstance(m, dict) and "role" in m for m in messages
    ):
        raise UsageError("the HTTP Request body has no chat messages ({\"messages\": [{\"role\": ...}]}): "
                         "not a chat completion")  # fmt: skip
    return body


def _row(body: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"messages": body["messages"]}
    tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    if isinstance(tokens, int) and not isinstance(tokens, bool):
        row["max_tokens"] = tokens
    return row


def _options(bodies: list[dict[str, Any]]) -> dict[str, Any]:
    """run.toml options from the first body: values of the right type only (an unresolved ${...} is not)."""
    out: dict[str, Any] = {}
    for key, option in OPTION_KEYS.items():
        value: Any = bodies[0].get(key)
        if option not in out and _VALID[option](value):
            out[option] = float(value) if option == "temperature" else value
    return out


_VALID: dict[str, Callable[[Any], bool]] = {
    "model": lambda v: isinstance(v, str) and "${" not in v,
    "temperature": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "max_tokens": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "ignore_eos": lambda v: isinstance(v, bool),
}


def _varying(bodies: list[dict[str, Any]]) -> list[str]:
    return [f"{key} differs between rows: the run's is the first row's" for key in ("model", "temperature", "max_tokens")
            if len({json.dumps(b.get(key)) for b in bodies}) > 1]  # fmt: skip
