"""Sessions from files (`--sessions`): chat JSONL, one conversation per line (`{"messages": [...], "max_tokens"?,
"name"?}`: every user message a turn, the recorded assistant messages replaced by the live answers), and ShareGPT
JSON (each entry's human turns; with `count_text`, --recorded-output-len: each turn's max_tokens is the token
count of the recorded answer after it). A bad line is a UsageError naming file and line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from llmload.errors import UsageError
from llmload.scenarios.datasets.conversations import Conversation, turns_of
from llmload.scenarios.datasets.jsonl_requests import chat_spec, json_lines, read_text
from llmload.scenarios.datasets.sharegpt_requests import ASSISTANT, HUMAN, sharegpt_entries

SHAREGPT_ROLES = {**dict.fromkeys(HUMAN, "user"), **dict.fromkeys(ASSISTANT, "assistant"), "system": "system"}


def chat_sessions(path: Path) -> list[Conversation]:
    conversations = []
    for line, row in json_lines(path):
        try:
            spec = chat_spec(row, line)  # the line's checks: messages, roles, name, max_tokens
            turns = turns_of(list(spec.messages or []), spec.max_tokens)
        except ValueError as exc:
            raise UsageError(f"{path}:{line}: {exc}") from None
        name = spec.name if isinstance(row, dict) and row.get("name") else "session"
        conversations.append(Conversation(name, turns, {"source": "chat", "line": line}))
    if not conversations:
        raise UsageError(f"{path}: dataset is empty (no rows)")
    return conversations


def sharegpt_sessions(path: Path, count_text: Callable[[str], int] | None = None) -> list[Conversation]:
    conversations = []
    for index, (line, entry) in enumerate(sharegpt_entries(path, read_text(path))):
        try:
            conversations.append(_sharegpt_conversation(entry, index, line, count_text))
        except ValueError as exc:
            raise UsageError(f"{path}:{line}: entry {index}: {exc}") from None
    if not conversations:
        raise UsageError(f"{path}: no entry with a human turn")
    return conversations


def _sharegpt_conversation(
    entry: Any, index: int, line: int, count_text: Callable[[str], int] | None
) -> Conversation:
    if not isinstance(entry, dict) or not isinstance(entry.get("conversations"), list):
        raise ValueError("expected an object with a 'conversations' list")
    messages = []
    for position, turn in enumerate(entry["conversations"]):
        if not isinstance(turn, dict) or not isinstance(turn.get("value"), str):
            raise ValueError(f"conversations[{position}] must be an object with 'from' and a string 'value'")
        role = SHAREGPT_ROLES.get(str(turn.get("from")))
        if role is not None and turn["value"].strip():
            messages.append({"role": role, "content": turn["value"]})
    turns = turns_of(messages)
    if count_text is not None:
        turns = tuple(replace(t, max_tokens=max(1, count_text(t.recorded_answer))) if t.recorded_answer else t
                      for t in turns)  # fmt: skip
    given = entry.get("name")
    name = given.strip() if isinstance(given, str) and given.strip() else "session"
    return Conversation(name, turns, {"source": "sharegpt", "entry": index, "line": line})
