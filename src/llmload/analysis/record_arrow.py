"""records.jsonl -> columns with pyarrow's multi-threaded JSON reader: the fast path of analysis.frame.

At a million records (1.5 GB) the streaming orjson pass (record_columns.RecordColumns) spends ~35 s
building a dict per record and appending its fields one by one; pyarrow parses the file in blocks on
all cores straight into typed columns, skipping the fields the analysis never reads (batch_ids: 100
strings a record), in ~7 s and ~0.6 GB. Same columns, same values: this module only gives
RecordColumns' interface (n, column, ok_mask, texts, plate_counts, matched_column, scenario_column, itl) over
an Arrow table.

read_columns returns None whenever the file is not plain records this reader can take exactly
(a corrupt or non-object line, a field of an unexpected type, invalid UTF-8, a final line that is complete
but lacks its newline): the caller then takes the streaming path, which names a corrupt file and line.
A truncated last line (a killed writer) is left out, as the streaming path does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from llmload.analysis.record_columns import (
    FLOAT_FIELDS,
    INTERNED_FIELDS,
    NUMBER_FIELDS,
    SCENARIO_NUMBERS,
    TEXT_DEFAULTS,
    TEXT_FIELDS,
    ItlStore,
    itl_store,
)
from llmload.records import scenario_facts

BLOCK_BYTES = 4 << 20  # per parse task; bounds the reader's memory (16 MiB blocks: +0.4 GB peak, no faster)
PIECE_BYTES = 4 * BLOCK_BYTES  # read from the file at a time, parsed as BLOCK_BYTES blocks in parallel
_PLATE_LISTS = ("plates_expected", "plates_found")
_PLATE_TYPES = [(name, pa.list_(pa.string())) for name in _PLATE_LISTS]
SCHEMA = pa.schema(
    [(name, pa.float64()) for name in FLOAT_FIELDS + NUMBER_FIELDS]
    + [(name, pa.string()) for name in TEXT_FIELDS]
    + [("ok", pa.bool_()), ("chunk_s", pa.list_(pa.float64()))]
    + _PLATE_TYPES  # records written before the scenario part held them (llmload.records.LEGACY_PLATE_FIELDS)
    + [("scenario", pa.struct([*_PLATE_TYPES, ("matched", pa.bool_()), *((n, pa.float64()) for n in SCENARIO_NUMBERS)]))]
)
PlateErrors = dict[str, list[tuple[str, int, int]]]  # "fp"/"fn" -> (plate, count, first row), most first


class ArrowColumns:
    """RecordColumns' interface over the Arrow table of records.jsonl (row = non-blank line)."""

    def __init__(self, table: pa.Table) -> None:
        self.n = table.num_rows
        self.numbers = {name: _floats(table.column(name)) for name in FLOAT_FIELDS + NUMBER_FIELDS}
        self.texts = {name: _texts(table.column(name), name) for name in TEXT_FIELDS}
        self._ok: np.ndarray = pc.fill_null(table.column("ok"), False).to_numpy().astype(bool)
        self._plates = _PlateKeys(table)
        matched = pc.struct_field(table.column("scenario"), "matched")
        self._matched: np.ndarray = _floats(pc.cast(matched, pa.float64()))
        scenario = table.column("scenario")
        self._scenario = {name: _floats(pc.struct_field(scenario, name)) for name in SCENARIO_NUMBERS}
        chunks = table.column("chunk_s")
        lengths = pc.fill_null(pc.list_value_length(chunks), 0).to_numpy().astype(np.int64)
        with_itl = self._ok & (lengths > 1)
        self._itl_rows = np.flatnonzero(with_itl)
        self._itl_counts = lengths[self._itl_rows]
        self._itl_times = _selected_values(chunks, np.repeat(with_itl, lengths))

    def column(self, name: str) -> np.ndarray:
        return self.numbers[name]

    def ok_mask(self) -> np.ndarray:
        return self._ok

    def plate_counts(self) -> np.ndarray:
        counts: np.ndarray = self._plates.counts(self.n)
        return counts

    def matched_column(self) -> np.ndarray:
        return self._matched

    def scenario_column(self, name: str) -> np.ndarray:
        return self._scenario[name]

    def plate_errors(self, most: int) -> PlateErrors:
        return self._plates.errors(self._ok, most)

    def itl(self, scale: float) -> ItlStore:
        if not self._itl_rows.size:
            return ItlStore.empty(self.n)
        return itl_store(self._itl_times, self._itl_counts, self._itl_rows, self.n, scale)


class _PlateKeys:
    """plates_expected/found as sets per row: key = row * K + plate code (K = distinct plates)."""

    def __init__(self, table: pa.Table) -> None:
        lists = [_plate_list(table, name) for name in _PLATE_LISTS]
        values = pa.concat_arrays([lst.flatten() for lst in lists])
        encoded = pc.dictionary_encode(values, null_encoding="encode")
        self.plates: list[Any] = encoded.dictionary.to_pylist()
        self.k = max(1, len(self.plates))
        codes = encoded.indices.to_numpy()
        split = len(lists[0].flatten())
        parents = [lst.value_parent_indices().to_numpy().astype(np.int64) for lst in lists]
        self.expected = np.unique(parents[0] * self.k + codes[:split])
        self.found = np.unique(parents[1] * self.k + codes[split:])

    def counts(self, n: int) -> np.ndarray:
        """tp, fp, fn per row, as RecordColumns.plate_counts (set semantics)."""
        both = np.intersect1d(self.expected, self.found, assume_unique=True)
        tp = np.bincount(both // self.k, minlength=n)
        fp = np.bincount(self.found // self.k, minlength=n) - tp
        fn = np.bincount(self.expected // self.k, minlength=n) - tp
        return np.column_stack([tp, fp, fn]).astype(np.int64)

    def errors(self, ok: np.ndarray, most: int) -> PlateErrors:
        """Successful rows' false positives and misses: the `most` commonest plates, first row of each."""
        out: PlateErrors = {}
        for kind, keys in (
            ("fp", np.setdiff1d(self.found, self.expected, assume_unique=True)),
            ("fn", np.setdiff1d(self.expected, self.found, assume_unique=True)),
        ):
            keys = keys[ok[keys // self.k]]
            codes, rows = keys % self.k, keys // self.k
            count = np.bincount(codes, minlength=self.k)
            first = np.full(self.k, np.iinfo(np.int64).max)
            np.minimum.at(first, codes, rows)
            ranked = sorted(np.flatnonzero(count).tolist(), key=lambda c: (-count[c], first[c]))
            out[kind] = [(str(self.plates[c]), int(count[c]), int(first[c])) for c in ranked[:most]]
        return out


def _plate_list(table: pa.Table, name: str) -> pa.ListArray:
    """A plate list of every row: the scenario part's, else the top-level field of an older record."""
    top = table.column(name).combine_chunks()
    inside = pc.struct_field(table.column("scenario"), name).combine_chunks()
    return pc.if_else(pc.is_null(top), inside, top)


def _selected_values(lists: pa.ChunkedArray, keep: np.ndarray) -> np.ndarray:
    """The list elements (flattened) where `keep`, chunk by chunk: no copy of all the values at once."""
    parts, start = [], 0
    for chunk in lists.chunks:
        values = chunk.flatten().to_numpy(zero_copy_only=False)
        parts.append(values[keep[start : start + len(values)]])
        start += len(values)
    return np.concatenate(parts) if parts else np.array([])


def _floats(column: pa.ChunkedArray) -> np.ndarray:
    values: np.ndarray = pc.fill_null(column, float("nan")).to_numpy().astype(np.float64, copy=False)
    return values


def _texts(column: pa.ChunkedArray, name: str) -> list[Any]:
    default = TEXT_DEFAULTS.get(name)
    if default is not None:
        column = pc.fill_null(column, default)  # the field missing from the record
    if name not in INTERNED_FIELDS:
        texts: list[Any] = column.to_pylist()
        return texts
    encoded = pc.dictionary_encode(column.combine_chunks())
    uniques = np.array([*encoded.dictionary.to_pylist(), None], dtype=object)
    codes = pc.fill_null(encoded.indices, len(uniques) - 1).to_numpy()
    interned: list[Any] = uniques[codes].tolist()  # one str object per distinct value
    return interned


def read_columns(path: Path) -> ArrowColumns | None:
    """The records of `path` as columns, or None where the streaming path must read them (see module doc)."""
    limit, tail = _complete_part(path)
    if tail.strip() and _json_line(tail) is not None:
        return None  # a complete last line without its newline (or a non-object): rare, the slow path
    try:
        table = pa.concat_tables([SCHEMA.empty_table(), *_parsed_pieces(path, limit)])
    except (pa.ArrowException, UnicodeDecodeError):
        return None
    if _has_non_records(table):
        return None
    columns = ArrowColumns(table)
    del table
    pa.default_memory_pool().release_unused()  # the parse buffers, back to the system before the frame
    return columns


def _has_non_records(table: pa.Table) -> bool:
    """A `null` line parses as an all-null row; the streaming path skips it (not an object)."""
    empty = [pc.is_null(table.column(name)) for name in ("request_id", "send_s", "end_s", "ok")]
    return bool(pc.any(pc.and_(pc.and_(empty[0], empty[1]), pc.and_(empty[2], empty[3]))).as_py())


def _complete_part(path: Path, step: int = 1 << 16) -> tuple[int, bytes]:
    """Bytes up to and including the last newline, and what follows it (a truncated record, if any)."""
    size = path.stat().st_size
    with path.open("rb") as f:
        end = size
        while end > 0:
            start = max(0, end - step)
            f.seek(start)
            cut = f.read(end - start).rfind(b"\n")
            if cut >= 0:
                limit = start + cut + 1
                f.seek(limit)
                return limit, f.read()
            end = start
        f.seek(0)
        return 0, f.read()


def _parsed_pieces(path: Path, limit: int) -> Iterable[pa.Table]:
    """The first `limit` bytes of `path` as tables, PIECE_BYTES of whole lines at a time, each parsed by
    pyarrow on all cores from bytes in memory. Not Arrow's streaming reader over a Python file object: its
    I/O thread calls back into Python, and a read left pending by a parse error when the process exits (a
    usage error exits at once) aborts the interpreter's shutdown ("terminate called without an active
    exception", exit -6)."""
    options = pj.ReadOptions(block_size=BLOCK_BYTES)
    parse = pj.ParseOptions(explicit_schema=SCHEMA, unexpected_field_behavior="ignore")
    with path.open("rb") as f:
        left, carry = limit, b""
        while left > 0:
            data = f.read(min(PIECE_BYTES, left))
            if not data:
                break
            left -= len(data)
            piece = carry + data
            cut = piece.rfind(b"\n") + 1 if left > 0 else len(piece)
            piece, carry = piece[:cut], piece[cut:]
            if piece.strip():
                yield pj.read_json(pa.BufferReader(piece), read_options=options, parse_options=parse)


def batch_ids_of_rows(path: Path, rows: Iterable[int]) -> dict[int, list[str]]:
    """batch_ids (as text) of the given rows (the n-th non-blank line), parsing only those lines."""
    wanted = set(rows)
    out: dict[int, list[str]] = {}
    row = -1
    with path.open("rb") as f:
        for line in f:
            if not line.strip():
                continue
            row += 1
            if row in wanted:
                data = _json_line(line)
                facts = scenario_facts(data) if isinstance(data, dict) else {}
                out[row] = [str(b) for b in (facts.get("batch_ids") or [])]
                if len(out) == len(wanted):
                    break
    return out


def _json_line(line: bytes) -> Any:
    """One line as llmload.records.iter_record_dicts parses it (invalid UTF-8 inside a string replaced), or
    None when it is not JSON. Here only for the last line and for lines of a file Arrow read whole."""
    try:
        return json.loads(line.decode("utf-8", "replace"))
    except json.JSONDecodeError:
        return None
