"""A request trace (`--trace PATH`): when each request arrived and how long it was.

Two formats, told apart by the file name: Mooncake JSONL (any name but *.csv), one request per line,
`{"timestamp": ms since the trace's start, "input_length": prompt tokens, "output_length": answer tokens,
"hash_ids": [block ids]}` (kvcache-ai/Mooncake's FAST25 traces: equal ids are equal blocks of 512 prompt
tokens, one id per started block; `hash_ids` may be left out: no block is shared), or a CSV with a header
holding `timestamp` (seconds), `input_tokens`, `output_tokens` (other columns ignored). Lines are in time
order. Every bad line is a UsageError naming file and line.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmload.errors import UsageError
from llmload.scenarios.datasets.jsonl_requests import json_lines, read_text

BLOCK_TOKENS = 512  # Mooncake's block: one hash id per started block of the prompt
MOONCAKE_KEYS = ("timestamp", "input_length", "output_length")
CSV_COLUMNS = ("timestamp", "input_tokens", "output_tokens")


@dataclass(frozen=True, slots=True)
class TraceRequest:
    line: int
    at_s: float  # arrival, seconds after the trace's first request (trace time: speed 1)
    input_tokens: int
    output_tokens: int
    hash_ids: tuple[int, ...] | None = None  # Mooncake block ids; None: no block shared


def trace_format(path: Path) -> str:
    return "csv" if path.suffix.lower() == ".csv" else "mooncake"


def load_trace(path: Path) -> list[TraceRequest]:
    """Every request of the trace, in time order; a UsageError naming file and line for the first bad one."""
    if not path.is_file():
        raise UsageError(f"--trace: {path}: no such file")
    rows = _csv_rows(path) if trace_format(path) == "csv" else _mooncake_rows(path)
    requests: list[TraceRequest] = []
    first_s = previous_s = 0.0
    for line, stamp_s, request in rows:
        if requests and stamp_s < previous_s:
            raise UsageError(f"{path}:{line}: timestamp {_shown(stamp_s, path)} is before the previous line's "
                             f"{_shown(previous_s, path)} (a trace is in time order)")  # fmt: skip
        first_s, previous_s = (first_s if requests else stamp_s), stamp_s
        requests.append(TraceRequest(line, stamp_s - first_s, *request))
    if not requests:
        raise UsageError(f"{path}: the trace is empty (no requests)")
    return requests


Row = tuple[int, float, tuple[int, int, tuple[int, ...] | None]]  # line, timestamp (s), the request's lengths


def _mooncake_rows(path: Path) -> Iterator[Row]:
    for line, row in json_lines(path):
        try:
            yield line, *_mooncake_request(row)
        except ValueError as exc:
            raise UsageError(f"{path}:{line}: {exc}") from None


def _mooncake_request(row: Any) -> tuple[float, tuple[int, int, tuple[int, ...] | None]]:
    if not isinstance(row, dict):
        raise ValueError(f"expected a JSON object, got {type(row).__name__}")
    missing = [key for key in MOONCAKE_KEYS if key not in row]
    if missing:
        raise ValueError(f"no '{missing[0]}' (a Mooncake trace line has {', '.join(MOONCAKE_KEYS)}, hash_ids)")
    stamp_ms = _timestamp(row["timestamp"])
    tokens = _tokens(row["input_length"], "input_length"), _tokens(row["output_length"], "output_length")
    return stamp_ms / 1000.0, (*tokens, _hash_ids(row.get("hash_ids"), tokens[0]))


def _hash_ids(value: Any, input_tokens: int) -> tuple[int, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError(f"'hash_ids' must be a list of block ids, got {type(value).__name__}")
    if not all(isinstance(h, int) and not isinstance(h, bool) for h in value):
        raise ValueError("'hash_ids' must hold integers (one block id per 512 prompt tokens)")
    blocks = math.ceil(input_tokens / BLOCK_TOKENS)
    if len(value) != blocks:
        raise ValueError(f"'hash_ids' has {len(value)} blocks but input_length {input_tokens} needs {blocks} "
                         f"(one per started block of {BLOCK_TOKENS} tokens)")  # fmt: skip
    return tuple(value)


def _csv_rows(path: Path) -> Iterator[Row]:
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
    header = reader.fieldnames or []
    missing = [column for column in CSV_COLUMNS if column not in header]
    if missing:
        raise UsageError(f"{path}:1: no '{missing[0]}' column (a trace CSV has {','.join(CSV_COLUMNS)})")
    try:
        for row in reader:
            cells = [row.get(column) for column in CSV_COLUMNS]
            if any(cell is None or not cell.strip() for cell in cells):
                empty = CSV_COLUMNS[next(i for i, cell in enumerate(cells) if cell is None or not cell.strip())]
                raise ValueError(f"'{empty}' is empty")
            stamp_s = _timestamp(_csv_number(row["timestamp"], "timestamp"))
            tokens = (_tokens(_csv_number(row["input_tokens"], "input_tokens"), "input_tokens"),
                      _tokens(_csv_number(row["output_tokens"], "output_tokens"), "output_tokens"))  # fmt: skip
            yield reader.line_num, stamp_s, (*tokens, None)
    except (ValueError, csv.Error) as exc:
        raise UsageError(f"{path}:{reader.line_num}: {exc}") from None


def _csv_number(cell: str | None, column: str) -> float | int:
    text = (cell or "").strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"'{column}' is not a number: {text!r}") from None


def _timestamp(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"'timestamp' must be a number, got {value!r}")
    if value < 0:
        raise ValueError(f"'timestamp' must be 0 or more, got {value}")
    return float(value)


def _tokens(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"'{key}' must be a positive integer (tokens), got {value!r}")
    return value


def _shown(stamp_s: float, path: Path) -> str:
    """A timestamp as the file writes it: ms in a Mooncake trace, seconds in a CSV."""
    return f"{stamp_s:g}" if trace_format(path) == "csv" else f"{stamp_s * 1000:g}"


@dataclass(frozen=True, slots=True)
class TraceFacts:
    """What a trace asks for at speed 1 (meta.json's dataset.trace; the report's trace section)."""

    format: str
    requests: int
    span_s: float  # first to last arrival
    rate_rps: float  # requests over the span (speed 1)
    input_tokens_mean: float
    output_tokens_mean: float
    longest_tokens: int  # the largest input + output of one request (the context it needs)
    longest_line: int
    blocks: int  # prompt blocks of 512 tokens, over all requests
    blocks_seen_before: int  # ... whose id an earlier request had: the prefix-cache hits a cache without limit gets


def trace_facts(path: Path, requests: list[TraceRequest]) -> TraceFacts:
    span_s = requests[-1].at_s
    longest = max(requests, key=lambda r: r.input_tokens + r.output_tokens)
    seen: set[int] = set()
    blocks = reused = 0
    for request in requests:
        for block in request.hash_ids or ():
            reused += block in seen
            seen.add(block)
        blocks += math.ceil(request.input_tokens / BLOCK_TOKENS)
    return TraceFacts(
        format=trace_format(path), requests=len(requests), span_s=span_s,
        rate_rps=len(requests) / span_s if span_s > 0 else 0.0,
        input_tokens_mean=sum(r.input_tokens for r in requests) / len(requests),
        output_tokens_mean=sum(r.output_tokens for r in requests) / len(requests),
        longest_tokens=longest.input_tokens + longest.output_tokens, longest_line=longest.line,
        blocks=blocks, blocks_seen_before=reused,
    )  # fmt: skip
