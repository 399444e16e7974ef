"""The comment dataset: one JSON object per line, validated strictly on load.

A row::

    {"id": "c001", "text": "<comment>", "plates": ["京A88888"], "industry": "traffic", "scene": "commute"}

``plates`` lists, in the bare normalised form, exactly the plates that
``extract_plates(text)`` finds: the labels and the matcher must agree.
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
_STRING_FIELDS = ("id", "text", "industry", "scene")


@dataclass(frozen=True, slots=True)
class CommentRow:
    id: str
    text: str
    plates: tuple[str, ...]
    industry: str
    scene: str

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "plates": list(self.plates),
            "industry": self.industry,
            "scene": self.scene,
        }


def row_to_json_line(row: CommentRow) -> str:
    """One JSONL line (no newline), UTF-8 text kept readable, key order fixed."""
    return json.dumps(row.to_json_dict(), ensure_ascii=False)


def _check_plates(plates: Any, text: str) -> tuple[str, ...]:
    if not isinstance(plates, list) or not all(isinstance(p, str) for p in plates):
        raise ValueError("field 'plates' must be a list of strings")
    for plate in plates:
        if not is_valid_plate(plate):
            raise ValueError(f"plate {plate!r} is not a valid licence plate (bare form, e.g. 京A88888)")
    if len(set(plates)) != len(plates):
        raise ValueError("field 'plates' lists a plate twice")
    in_text = extract_plates(text)
    for plate in plates:
        if plate not in in_text:
            raise ValueError(f"plate {plate!r} not found in text")
    for plate in in_text:
        if plate not in plates:
            raise ValueError(f"text contains plate {plate!r} missing from 'plates'")
    return tuple(plates)


def row_from_obj(obj: Any) -> CommentRow:
    """Validate one decoded JSON value; raises ValueError naming the problem."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    for name in FIELDS:
        if name not in obj:
            raise ValueError(f"missing field '{name}'")
    unknown = sorted(set(obj) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown field '{unknown[0]}'")
    for name in _STRING_FIELDS:
        if not isinstance(obj[name], str):
            raise ValueError(f"field '{name}' must be a string")
        if not obj[name].strip():
            raise ValueError(f"field '{name}' must not be empty")
    plates = _check_plates(obj["plates"], obj["text"])
    return CommentRow(obj["id"], obj["text"], plates, obj["industry"], obj["scene"])


def _parse_line(raw: bytes, where: str) -> CommentRow | None:
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
    try:
        return row_from_obj(obj)
    except ValueError as exc:
        raise UsageError(f"{where}: {exc}") from None


def load_dataset(path: str | Path) -> list[CommentRow]:
    """Read and validate a JSONL dataset; any problem raises UsageError('file:line: problem')."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"{name}: cannot read dataset: {exc.strerror}") from None
    data = data.removeprefix(b"\xef\xbb\xbf")
    rows: list[CommentRow] = []
    first_line: dict[str, int] = {}
    for number, raw in enumerate(data.split(b"\n"), start=1):
        where = f"{name}:{number}"
        row = _parse_line(raw.removesuffix(b"\r"), where)
        if row is None:
            continue
        if row.id in first_line:
            raise UsageError(f"{where}: duplicate id {row.id!r} (first on line {first_line[row.id]})")
        first_line[row.id] = number
        rows.append(row)
    if not rows:
        raise UsageError(f"{name}: dataset is empty (no rows)")
    return rows


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
