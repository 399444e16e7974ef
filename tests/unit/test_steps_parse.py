from __future__ import annotations

import pytest

from llmload.errors import UsageError
from llmload.steps import parse_duration_s, parse_levels


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1,2,4,8", [1, 2, 4, 8]), ("1:5:1", [1, 2, 3, 4, 5]), ("1:40:10", [1, 11, 21, 31]), ("2:4", [2, 3, 4]), ("1,4:8:2", [1, 4, 6, 8])],
)
def test_levels(text: str, expected: list[int]) -> None:
    assert parse_levels(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [("0,1", "between 1"), ("a", "not a whole number"), ("5:1", "goes down"), ("1::2", "not a whole number"), ("1,,2", "empty level"), ("1:2:3:4", "start:stop")],
)
def test_bad_levels(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_levels(text)


@pytest.mark.parametrize(("text", "seconds"), [("30", 30.0), ("30s", 30.0), ("2m", 120.0), ("1.5h", 5400.0), ("250ms", 0.25)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration_s(text) == seconds


@pytest.mark.parametrize("text", ["0", "-5", "0s", "abc", "5 parsecs", ""])
def test_bad_durations(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration_s(text, "--step-duration")
