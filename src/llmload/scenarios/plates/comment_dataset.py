"""The comment dataset: one JSON object per line, validated on load.

A row::

    {"id": "c001", "text": "<comment>", "plates": ["京A88888"], "industry": "traffic", "scene": "commute"}

``id``, ``text`` and ``plates`` are required; ``industry`` and ``scene`` are our generator's metadata. A
user's ``plates`` (bare normalised form) are the ground truth: where they differ from what
``extract_plates(text)`` reads, loading a file warns with the line (read_dataset); rows built in memory
(our generators) must agree exactly (check_rows).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmload.errors import UsageError
from llmload.scenarios.plates.plate_format import extract_plates, is_valid_plate

MAX_LINE_BYTES = 64 * 1024
FIELDS = ("id", "text", "plates", "industry", "scene")
REQUIRED_FIELDS = ("id", "text", "plates")
_STRING_FIELDS = ("id", "text", "industry", "scene")


@dataclass(frozen=True, slots=True)
class CommentRow:
    id: str
    text: str
    plates: tuple[str, ...]
    industry: str = ""
    scene: str = ""

    def to_json_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "text": self.text, "plates": list(self.plates)}
        return out | {key: getattr(self, key) for key in ("industry", "scene") if getattr(self, key)}


def row_to_json_line(row: CommentRow) -> str:
    """One JSONL line (no newline), UTF-8 text kept readable, key order fixed."""
    return json.dumps(row.to_json_dict(), ensure_ascii=False)


def _check_plates(plates: Any, text: str, disagreements: list[str] | None) -> tuple[str, ...]:
    """The labels; where they and the extractor's reading of the text differ, each difference is appended
    to `disagreements`, or (None: a generated row) raised as ValueError."""
    if not isinstance(plates, list) or not all(isinstance(p, str) for p in plates):
        raise ValueError("field 'plates' must be a list of strings")
    for plate in plates:
        if not is_valid_plate(plate):
            raise ValueError(f"plate {plate!r} is not a valid licence plate (bare form, e.g. 京A88888)")
    if len(set(plates)) != len(plates):
        raise ValueError("field 'plates' lists a plate twice")
    in_text = extract_plates(text)
    found = [f"plate {plate!r} not found in text" for plate in plates if plate not in in_text]
    found += [f"text contains plate {plate!r} missing from 'plates'" for plate in in_text if plate not in plates]
    if found and disagreements is None:
        raise ValueError(found[0])
    if disagreements is not None:
        disagreements += found
    return tuple(plates)


def row_from_obj(obj: Any, disagreements: list[str] | None = None) -> CommentRow:
    """Validate one decoded JSON value; raises ValueError naming the problem. Labels that differ from the
    extractor's reading are appended to `disagreements` (a user's file) or raised (None: a generated row)."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    for name in REQUIRED_FIELDS:
        if name not in obj:
            raise ValueError(f"missing field '{name}'")
    unknown = sorted(set(obj) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown field '{unknown[0]}'")
    for name in _STRING_FIELDS:
        if name not in obj:
            continue
        if not isinstance(obj[name], str):
            raise ValueError(f"field '{name}' must be a string")
        if not obj[name].strip():
            raise ValueError(f"field '{name}' must not be empty")
    plates = _check_plates(obj["plates"], obj["text"], disagreements)
    return CommentRow(obj["id"], obj["text"], plates, obj.get("industry", ""), obj.get("scene", ""))


def _parse_line(raw: bytes, where: str, warnings: list[str]) -> CommentRow | None:
    if len(raw) > MAX_LINE_BYTES:
        raise UsageError(f"{where}: line is {len(raw)} bytes, over the {MAX_LINE_BYTES}-byte limit")
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{where}: not valid UTF-8 at byte {exc.start + 1} of the line") from None
    if not line.strip():
        return None
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})") from None
    disagreements: list[str] = []
    try:
        row = row_from_obj(obj, disagreements)
    except ValueError as exc:
        raise UsageError(f"{where}: {exc}") from None
    warnings += [f"{where}: {text} (the label is kept as the truth)" for text in disagreements]
    return row


def load_dataset(path: str | Path) -> list[CommentRow]:
    """Read and validate a JSONL dataset (read_dataset, its warnings left out)."""
    return read_dataset(path)[0]


def read_dataset(path: str | Path) -> tuple[list[CommentRow], list[str]]:
    """Read and validate a JSONL dataset: its rows and one warning per label that differs from the plate
    extractor's reading ('file:line: ...'); any problem raises UsageError('file:line: problem')."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"{name}: cannot read dataset: {exc.strerror}") from None
    data = data.removeprefix(b"\xef\xbb\xbf")
    rows: list[CommentRow] = []
    warnings: list[str] = []
    first_line: dict[str, int] = {}
    for number, raw in enumerate(data.split(b"\n"), start=1):
        where = f"{name}:{number}"
        row = _parse_line(raw.removesuffix(b"\r"), where, warnings)
        if row is None:
            continue
        if row.id in first_line:
            raise UsageError(f"{where}: duplicate id {row.id!r} (first on line {first_line[row.id]})")
        first_line[row.id] = number
        rows.append(row)
    if not rows:
        raise UsageError(f"{name}: dataset is empty (no rows)")
    return rows, warnings


def check_rows(rows: Sequence[CommentRow]) -> None:
    """Validate rows built in memory (generators) with the same rules as load_dataset."""
    seen: set[str] = set()
    for index, row in enumerate(rows):
        try:
            row_from_obj(row.to_json_dict())
        except ValueError as exc:
            raise UsageError(f"row {index} ({row.id}): {exc}") from None
        if row.id in seen:
            raise UsageError(f"row {index}: duplicate id {row.id!r}")
        seen.add(row.id)


def dataset_sha256(path: str | Path) -> str:
    """Hex SHA-256 of the file's bytes, to record which dataset a run used."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read dataset: {exc.strerror}") from None


def write_jsonl(rows: Sequence[CommentRow], path: str | Path) -> None:
    """Write rows as UTF-8 JSONL with '\\n' line ends; same rows give the same bytes."""
    text = "".join(row_to_json_line(row) + "\n" for row in rows)
    Path(path).write_bytes(text.encode("utf-8"))
