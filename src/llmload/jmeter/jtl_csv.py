"""JMeter's CSV results: with its header row (any saved columns, in any order JMeter wrote them) or
without (then the default columns of jmeter.properties, in CSVSaveService's order).

Quoted fields (a message holding the delimiter, a quote or a line break) are read as JMeter wrote them.
A bad row is an error naming the file and line; a last line that JMeter did not finish (no line end and
not a complete row) is skipped with a warning, as llmload's own records are.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from llmload.errors import UsageError
from llmload.jmeter.jtl_sample import (
    DEFAULT_COLUMNS,
    KNOWN_COLUMNS,
    REQUIRED_COLUMNS,
    JMeterSample,
    sample_from_fields,
)

DELIMITERS = (",", "\t", ";", "|")


@dataclass
class JtlRead:
    """What a results file held: its samples in file order, and what was left out and why."""

    samples: list[JMeterSample] = field(default_factory=list)
    skipped: int = 0  # a truncated last sample
    nested: int = 0  # XML sub-samples (redirects, transaction children): part of their parent's time
    warnings: list[str] = field(default_factory=list)


def read_csv(path: Path) -> JtlRead:
    out = JtlRead()
    ends_complete = _ends_with_newline(path)
    with path.open(encoding="utf-8", errors="replace", newline="") as f:
        first = f.readline()
        columns, delimiter, header = _columns(path, first)
        lines = f if header else itertools.chain([first], f)
        rows = _numbered_rows(path, lines, delimiter, 2 if header else 1)
        pending: tuple[int, list[str]] | None = None
        for number, row in rows:
            if pending is not None:
                out.samples.append(_sample(path, *pending, columns))
            pending = (number, row)
        if pending is not None:
            _add_last(out, path, *pending, columns, ends_complete)
    return out


def _add_last(out: JtlRead, path: Path, number: int, row: list[str], columns: Sequence[str], complete: bool) -> None:
    """The last row: when the file does not end with a line break and the row is not a whole sample,
    JMeter was stopped while writing it: skipped with a warning."""
    try:
        out.samples.append(_sample(path, number, row, columns))
    except UsageError:
        if complete:
            raise
        out.skipped += 1
        out.warnings.append(f"{path}:{number}: truncated last line skipped (JMeter stopped while writing it?)")


def _sample(path: Path, number: int, row: list[str], columns: Sequence[str]) -> JMeterSample:
    where = f"{path}:{number}"
    if len(row) != len(columns):
        assumed = " (no header row: JMeter's default columns assumed)" if columns is DEFAULT_COLUMNS else ""
        raise UsageError(f"{where}: {len(row)} fields, expected {len(columns)}{assumed}: {','.join(columns)}")
    return sample_from_fields(dict(zip(columns, row, strict=True)), where)


def _numbered_rows(path: Path, lines: Iterator[str] | IO[str], delimiter: str, first: int) -> Iterator[tuple[int, list[str]]]:
    """(line number where the row starts, fields) for each non-blank row."""
    reader = csv.reader(lines, delimiter=delimiter)
    start = first
    try:
        for row in reader:
            if row and any(cell.strip() for cell in row):
                yield start, row
            start = first + reader.line_num
    except csv.Error as exc:
        raise UsageError(f"{path}:{first + reader.line_num - 1}: not CSV as JMeter writes it ({exc})") from None


def _columns(path: Path, first: str) -> tuple[Sequence[str], str, bool]:
    """(column names, delimiter, whether the first line is the header). Variables saved with
    sample_variables are quoted in the header; they are kept as ignored columns."""
    text = first.strip("\r\n").lstrip("\ufeff")
    if not text.strip():
        raise UsageError(f"{path}:1: empty (not a JMeter results file)")
    if text[:1].isdigit():
        delimiter = "\t" if "\t" in text and "," not in text else ","
        return DEFAULT_COLUMNS, delimiter, False
    delimiter = max(DELIMITERS, key=text.count)
    names = [name.strip() for name in text.split(delimiter)]
    unknown = [n for n in names if n not in KNOWN_COLUMNS and not _quoted(n)]
    if unknown:
        listed = ", ".join(repr(n) for n in unknown[:5])
        raise UsageError(f"{path}:1: unknown column(s) {listed}: not a JMeter CSV header ({','.join(DEFAULT_COLUMNS)})")
    missing = [n for n in REQUIRED_COLUMNS if n not in names]
    if missing:
        raise UsageError(f"{path}:1: the header lacks {', '.join(missing)} (save them: jmeter.save.saveservice.*)")
    return [f"variable {n}" if _quoted(n) else n for n in names], delimiter, True


def _quoted(name: str) -> bool:
    return len(name) >= 2 and name[0] == name[-1] == '"'


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(0, 2)
        if f.tell() == 0:
            return True
        f.seek(-1, 2)
        return f.read(1) in (b"\n", b"\r")
