"""Parsing of step plans and durations (pure; shared by the CLI and the Locust options)."""

from __future__ import annotations

import re

from llmload.errors import UsageError

MAX_USERS = 100_000
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration_s(text: str, what: str = "duration") -> float:
    """`30`, `30s`, `2m`, `1.5h`, `250ms` -> seconds; must be > 0."""
    m = _DURATION.match(str(text))
    if not m:
        raise UsageError(f"{what}: {text!r} is not a duration (examples: 30, 30s, 2m, 1h)")
    seconds = float(m.group(1)) * _UNIT_S[m.group(2)]
    if seconds <= 0:
        raise UsageError(f"{what}: {text!r} must be greater than zero")
    return seconds


def parse_levels(text: str, what: str = "--users") -> list[int]:
    """`1,2,4,8` or `1:40:1` (start:stop:step, stop included) or a mix: `1,2,4:40:4`.

    Levels must be positive integers; they are kept in the given order (a step-down is allowed)."""
    levels: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            raise UsageError(f"{what}: empty level in {text!r}")
        if ":" in part:
            levels.extend(_parse_range(part, text, what))
        else:
            levels.append(_positive_int(part, text, what))
    if len(levels) > 10_000:
        raise UsageError(f"{what}: {len(levels)} levels is too many (at most 10000)")
    return levels


def _parse_range(part: str, text: str, what: str) -> list[int]:
    pieces = part.split(":")
    if len(pieces) not in (2, 3):
        raise UsageError(f"{what}: {part!r} in {text!r} must be start:stop or start:stop:step")
    start, stop = (_positive_int(p, text, what) for p in pieces[:2])
    step = _positive_int(pieces[2], text, what) if len(pieces) == 3 else 1
    if stop < start:
        raise UsageError(f"{what}: range {part!r} goes down (start {start} > stop {stop})")
    return list(range(start, stop + 1, step))


def _positive_int(piece: str, text: str, what: str) -> int:
    try:
        value = int(piece.strip())
    except ValueError:
        raise UsageError(f"{what}: {piece.strip()!r} in {text!r} is not a whole number") from None
    if value < 1 or value > MAX_USERS:
        raise UsageError(f"{what}: {value} in {text!r} must be between 1 and {MAX_USERS}")
    return value


def parse_rates(text: str, what: str = "--rate") -> list[float]:
    """Open-loop arrival rates in requests/s: `0.5,1,2` or `1:10:1` (start:stop:step, stop included)."""
    rates: list[float] = []
    for part in str(text).split(","):
        pieces = [p.strip() for p in part.split(":")]
        try:
            values = [float(p) for p in pieces]
        except ValueError:
            raise UsageError(f"{what}: {part.strip()!r} in {text!r} is not a rate in requests/s") from None
        if any(v <= 0 or v != v for v in values):
            raise UsageError(f"{what}: rates in {text!r} must be greater than zero")
        if len(values) == 1:
            rates.append(values[0])
        elif len(values) in (2, 3):
            start, stop = values[0], values[1]
            step = values[2] if len(values) == 3 else 1.0
            if stop < start:
                raise UsageError(f"{what}: range {part.strip()!r} goes down")
            count = int((stop - start) / step + 1e-9) + 1
            rates.extend(round(start + k * step, 9) for k in range(count))
        else:
            raise UsageError(f"{what}: {part.strip()!r} must be a rate or start:stop[:step]")
    if len(rates) > 10_000:
        raise UsageError(f"{what}: too many rates (at most 10000)")
    return rates
