"""ShareGPT JSON: a list of `{"conversations": [{"from": "human"|"gpt", "value": "..."}, ...]}`. Each entry's
first human turn is one request (a user message); with `recorded_output_len`, its max_tokens is the token
count of the recorded answer (the next gpt turn), as `vllm bench serve` replays ShareGPT. Entries may carry
`name` and `expected` too; entries without a human turn are skipped (counted)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from llmload.errors import UsageError
from llmload.scenarios.datasets.jsonl_requests import read_text
from llmload.scenarios.datasets.row_fields import optional_fields
from llmload.scenarios.workload_request import RequestSpec

HUMAN = ("human", "user")
ASSISTANT = ("gpt", "assistant", "chatgpt", "bard", "bing")
_SPACE = " \t\r\n"


def load_sharegpt(
    path: Path, count_text: Callable[[str], int] | None = None
) -> tuple[list[RequestSpec], int]:
    """The requests and how many entries were skipped (no human turn). `count_text`: recorded answers'
    token counts become max_tokens."""
    text = read_text(path)
    specs, skipped = [], 0
    for index, (line, entry) in enumerate(sharegpt_entries(path, text)):
        try:
            spec = _spec(entry, index, line, count_text)
        except ValueError as exc:
            raise UsageError(f"{path}:{line}: entry {index}: {exc}") from None
        if spec is None:
            skipped += 1
        else:
            specs.append(spec)
    if not specs:
        raise UsageError(f"{path}: no entry with a human turn")
    return specs, skipped


def _spec(entry: Any, index: int, line: int, count_text: Callable[[str], int] | None) -> RequestSpec | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("conversations"), list):
        raise ValueError("expected an object with a 'conversations' list")
    turns = entry["conversations"]
    for position, turn in enumerate(turns):
        if not isinstance(turn, dict) or not isinstance(turn.get("value"), str):
            raise ValueError(f"conversations[{position}] must be an object with 'from' and a string 'value'")
    human = next(
        (i for i, turn in enumerate(turns) if turn.get("from") in HUMAN and turn["value"].strip()), None
    )
    if human is None:
        return None
    name, max_tokens, expected = optional_fields(entry)
    facts: dict[str, Any] = {"kind": "sharegpt", "entry": index, "line": line}
    answer = next((t["value"] for t in turns[human + 1 :] if t.get("from") in ASSISTANT), None)
    if count_text is not None and answer:
        max_tokens = facts["recorded_output_tokens"] = max(1, count_text(answer))
    messages = [{"role": "user", "content": turns[human]["value"]}]
    return RequestSpec(
        name or "sharegpt", messages=messages, max_tokens=max_tokens, expected=expected, facts=facts
    )


def sharegpt_entries(path: Path, text: str) -> Iterator[tuple[int, Any]]:
    """(line, value) of each element of the top-level JSON array, decoded one at a time so that a bad entry
    is named by its line."""
    decoder = json.JSONDecoder()
    at, line, counted = _skip(text, 0), 1, 0
    if text[at : at + 1] != "[":
        raise UsageError(f"{path}: a ShareGPT file is a JSON list of conversations")
    at = _skip(text, at + 1)
    while text[at : at + 1] != "]":
        line += text.count("\n", counted, at)
        counted = at
        try:
            value, end = decoder.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{exc.lineno}: not JSON: {exc.msg} (column {exc.colno})") from None
        yield line, value
        at = _skip(text, end)
        if text[at : at + 1] == ",":
            at = _skip(text, at + 1)
        elif text[at : at + 1] != "]":
            line += text.count("\n", counted, at)
            raise UsageError(f"{path}:{line}: not JSON: expected ',' or ']' after entry")


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at] in _SPACE:
        at += 1
    return at
