"""The optional fields any dataset row may carry beside its prompt: `name`, `max_tokens`, `expected`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmload.scenarios.expected import Expected, parse_expected


def optional_fields(row: Mapping[str, Any]) -> tuple[str | None, int | None, Expected | None]:
    """(name, max_tokens, expected) of a row, each None when absent or empty; ValueError naming the field."""
    name = row.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ValueError("'name' must be a non-empty string")
    max_tokens = row.get("max_tokens")
    if isinstance(max_tokens, str) and max_tokens.strip().isdigit():  # a CSV cell
        max_tokens = int(max_tokens)
    if max_tokens is not None and (
        not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1
    ):
        raise ValueError(f"'max_tokens' must be a positive integer, got {max_tokens!r}")
    expected = row.get("expected")
    return (
        (name.strip() if name else None),
        max_tokens,
        (None if expected is None else parse_expected(expected)),
    )


def without_empty(row: Mapping[str, Any]) -> dict[str, Any]:
    """A CSV row without its empty cells (an empty optional column is an absent field)."""
    return {key: value for key, value in row.items() if value not in ("", None)}
