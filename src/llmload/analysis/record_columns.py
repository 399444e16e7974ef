"""Records -> columns in one streaming pass, and inter-token gaps kept as one flat array.

Built for a million records on a small machine: no dict per record is kept, numbers go straight into
typed arrays (8 bytes each, no Python float objects), low-cardinality strings are interned, and the
chunk times of all requests go into one flat array from which the ITLs are computed vectorised.
The metric definitions themselves stay in analysis.frame. `llmload report` reads records with pyarrow
first (analysis.record_arrow, same interface, several times faster); this streaming pass is the fallback
for files that reader cannot take exactly (and it names a corrupt line).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from typing import Any

import numpy as np

FLOAT_FIELDS = (
    "send_s", "end_s", "first_token_s", "first_answer_s", "last_token_s", "intended_send_s", "last_byte_s",
    "read_lag_max_s", "connect_s", "headers_s",
)  # fmt: skip
NUMBER_FIELDS = ("user_id", "http_status", "prompt_tokens", "output_tokens", "reasoning_tokens", "response_bytes")
TEXT_FIELDS = ("request_id", "worker", "error_kind", "error", "token_source", "finish_reason", "name")
TEXT_DEFAULTS = {"worker": "", "token_source": "usage", "name": ""}
# numbers of the scenario part the analysis reads: a session turn's position and the prompt tokens its history
# implies (llmload.scenarios.datasets.conversations); NaN in any other record
SCENARIO_NUMBERS = ("turn", "prompt_tokens_implied")
INTERNED_FIELDS = ("worker", "error_kind", "token_source", "finish_reason", "name")
NAN = float("nan")


class ItlStore:
    """Gaps between consecutive content chunks of every successful request with 2+ chunks.

    `flat_s[offsets[j]:offsets[j+1]]` are the gaps of the j-th such request, which is row `rows[j]` of
    the requests frame."""

    def __init__(self, flat_s: np.ndarray, offsets: np.ndarray, rows: np.ndarray, n_rows: int) -> None:
        self.flat_s = flat_s
        self.offsets = offsets
        self.rows = rows
        self.n_rows = n_rows

    @classmethod
    def empty(cls, n_rows: int = 0) -> ItlStore:
        return cls(np.array([]), np.zeros(1, dtype=np.int64), np.array([], dtype=np.int64), n_rows)

    def for_rows(self, rows: Iterable[int] | np.ndarray) -> np.ndarray:
        """All gaps of the given frame rows (positions), concatenated."""
        if not len(self.rows):
            return self.flat_s
        selected = np.zeros(self.n_rows, dtype=bool)
        selected[np.asarray(rows, dtype=np.int64)] = True
        keep = selected[self.rows]
        if keep.all():
            return self.flat_s
        selected_gaps: np.ndarray = self.flat_s[np.repeat(keep, np.diff(self.offsets))]
        return selected_gaps

    def per_row(self, how: str) -> np.ndarray:
        """Per frame row: the mean ("mean") or largest ("max") gap; NaN for rows without gaps."""
        out = np.full(self.n_rows, np.nan)
        if len(self.rows):
            starts = self.offsets[:-1]
            if how == "mean":
                out[self.rows] = np.add.reduceat(self.flat_s, starts) / np.diff(self.offsets)
            else:
                out[self.rows] = np.maximum.reduceat(self.flat_s, starts)
        return out


class RecordColumns:
    """Accumulates record dicts (iter_record_dicts) as columns; raw epoch seconds, no scaling yet."""

    def __init__(self) -> None:
        self.numbers = {name: array("d") for name in FLOAT_FIELDS + NUMBER_FIELDS}
        self.texts: dict[str, list[Any]] = {name: [] for name in TEXT_FIELDS}
        self.ok = bytearray()
        self.plates = array("q")  # tp, fp, fn per record, interleaved
        self.matched = array("d")  # an expected answer: 1.0 matched, 0.0 missed, NaN not scored
        self.scenario_numbers = {name: array("d") for name in SCENARIO_NUMBERS}
        self.chunk_times = array("d")  # chunk_s of requests with ITLs, back to back
        self.chunk_counts = array("q")
        self.chunk_rows = array("q")
        self._interned: dict[str, str] = {}
        self.n = 0

    def add_all(self, dicts: Iterable[dict[str, Any]]) -> RecordColumns:
        for d in dicts:
            self.add(d)
        return self

    def add(self, d: dict[str, Any]) -> None:
        get = d.get
        for name, column in self.numbers.items():
            value = get(name)
            column.append(NAN if value is None else value)
        interned = self._interned
        for name, texts in self.texts.items():
            value = get(name, TEXT_DEFAULTS.get(name))
            if name in INTERNED_FIELDS and isinstance(value, str):
                value = interned.setdefault(value, value)
            texts.append(value)
        ok = bool(get("ok"))
        self.ok.append(ok)
        facts = get("scenario") or d  # a record before the scenario part: the plate fields at the top level
        expected, found = facts.get("plates_expected"), facts.get("plates_found")
        matched = facts.get("matched")
        self.matched.append(NAN if matched is None else float(bool(matched)))
        for name, numbers in self.scenario_numbers.items():
            value = facts.get(name)
            numbers.append(float(value) if isinstance(value, int | float) and not isinstance(value, bool) else NAN)
        if expected or found:
            e, f = set(expected or ()), set(found or ())
            self.plates.extend((len(e & f), len(f - e), len(e - f)))
        else:
            self.plates.extend((0, 0, 0))
        chunks = get("chunk_s")
        if ok and chunks and len(chunks) > 1:
            self.chunk_times.extend(chunks)
            self.chunk_counts.append(len(chunks))
            self.chunk_rows.append(self.n)
        self.n += 1

    def column(self, name: str) -> np.ndarray:
        return np.frombuffer(self.numbers[name], dtype=np.float64) if self.n else np.array([])

    def plate_counts(self) -> np.ndarray:
        return np.frombuffer(self.plates, dtype=np.int64).reshape(-1, 3) if self.n else np.zeros((0, 3), np.int64)

    def ok_mask(self) -> np.ndarray:
        return np.frombuffer(bytes(self.ok), dtype=np.bool_) if self.n else np.array([], dtype=bool)

    def matched_column(self) -> np.ndarray:
        return np.frombuffer(self.matched, dtype=np.float64) if self.n else np.array([])

    def scenario_column(self, name: str) -> np.ndarray:
        """One of SCENARIO_NUMBERS, NaN where the record has none."""
        return np.frombuffer(self.scenario_numbers[name], dtype=np.float64) if self.n else np.array([])

    def itl(self, scale: float) -> ItlStore:
        """Gaps between consecutive chunks of each request (times `scale`), never across requests."""
        if not self.chunk_rows:
            return ItlStore.empty(self.n)
        times = np.frombuffer(self.chunk_times, dtype=np.float64)
        counts = np.frombuffer(self.chunk_counts, dtype=np.int64)
        rows = np.frombuffer(self.chunk_rows, dtype=np.int64)
        return itl_store(times, counts, rows, self.n, scale)


def itl_store(times: np.ndarray, counts: np.ndarray, rows: np.ndarray, n: int, scale: float) -> ItlStore:
    """Chunk times of the requests with 2+ chunks, back to back (`counts` each, frame rows `rows`) -> gaps."""
    ends = np.cumsum(counts)
    gaps = np.diff(times)
    keep = np.ones(gaps.size, dtype=bool)
    keep[ends[:-1] - 1] = False  # the step from one request's last chunk to the next one's first
    offsets = np.concatenate(([0], np.cumsum(counts - 1)))
    flat = gaps[keep]
    del gaps
    flat *= scale
    return ItlStore(flat, offsets, rows, n)


def count_column(values: np.ndarray) -> np.ndarray:
    """A count column: int64 when no value is missing, else float (NaN where missing)."""
    return values.astype(np.int64) if values.size and not np.isnan(values).any() else values
