"""Chat JSONL (`{"messages": [...], "max_tokens"?, "name"?, "expected"?}`) and prompt JSONL (`{"prompt": "...",
...}`): one request per line. Other keys are ignored; a bad line is a UsageError naming file and line."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from llmload.errors import UsageError
from llmload.scenarios.datasets.row_fields import optional_fields
from llmload.scenarios.workload_request import RequestSpec

ROLES = ("system", "user", "assistant", "tool", "developer")


def read_text(path: Path) -> str:
    """A whole dataset file as text (UTF-8, a byte-order mark dropped); a UsageError naming it otherwise."""
    try:
        return path.read_bytes().removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read dataset: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not valid UTF-8 at byte {exc.start + 1}") from None


def json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, decoded value) of every non-blank line; a line that is not JSON is a UsageError."""
    try:
        data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read dataset: {exc.strerror}") from None
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            yield number, json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise UsageError(
                f"{path}:{number}: not valid UTF-8 at byte {exc.start + 1} of the line"
            ) from None
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{number}: not JSON: {exc.msg} (column {exc.colno})") from None


def chat_spec(row: Any, line: int) -> RequestSpec:
    """One chat JSONL line; ValueError naming the problem."""
    row = _object(row)
    messages = row.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("'messages' must be a non-empty list")
    for index, message in enumerate(messages):
        _check_message(message, index)
    name, max_tokens, expected = optional_fields(row)
    facts = {"kind": "chat", "line": line}
    return RequestSpec(
        name or "chat", messages=messages, max_tokens=max_tokens, expected=expected, facts=facts
    )


def prompt_spec(row: Any, line: int) -> RequestSpec:
    """One prompt JSONL line (or CSV row); ValueError naming the problem."""
    row = _object(row)
    prompt = row.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("'prompt' must be a non-empty string")
    name, max_tokens, expected = optional_fields(row)
    facts = {"kind": "prompt", "line": line}
    return RequestSpec(name or "prompt", prompt=prompt, max_tokens=max_tokens, expected=expected, facts=facts)


def load_jsonl(path: Path, spec_of: Callable[[Any, int], RequestSpec]) -> list[RequestSpec]:
    specs = []
    for number, row in json_lines(path):
        try:
            specs.append(spec_of(row, number))
        except ValueError as exc:
            raise UsageError(f"{path}:{number}: {exc}") from None
    if not specs:
        raise UsageError(f"{path}: dataset is empty (no rows)")
    return specs


def _object(row: Any) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise ValueError(f"expected a JSON object, got {type(row).__name__}")
    return row


def _check_message(message: Any, index: int) -> None:
    if not isinstance(message, dict):
        raise ValueError(f"messages[{index}] must be an object with 'role' and 'content'")
    if message.get("role") not in ROLES:
        raise ValueError(f"messages[{index}]: 'role' must be one of {', '.join(ROLES)}")
    content = message.get("content")
    if not isinstance(content, str | list):
        raise ValueError(f"messages[{index}]: 'content' must be a string or a list of parts")
