"""The fast report path (pyarrow reader, column-wise CSV, O(1) bootstrap draws) gives the slow path's answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from helpers import rec
from llmload.analysis.quality_examples import quality_examples
from llmload.analysis.record_arrow import batch_ids_of_rows, read_columns
from llmload.analysis.record_columns import RecordColumns
from llmload.analysis.stats import resampled_percentile
from llmload.errors import UsageError
from llmload.records import LEGACY_PLATE_FIELDS, Record, iter_record_dicts
from llmload.report.csv_text import write_csv


def plates(expected: list[str] | None = None, found: list[str] | None = None, batch: list[str] | None = None) -> dict[str, Any]:
    """A plate record's scenario part."""
    return {"kind": "plates", "batch_ids": batch or [], "plates_expected": expected or [], "plates_found": found or []}


def _records() -> list[Record]:
    out = [
        rec(0, 0.0, 1.0, scenario=plates(["京A1"], ["京A1", "粤B2"], ["c1", "c2"])),
        rec(1, 0.5, 2.0, ok=False, error_kind="http_status", error="=HTTP 503, \"busy\"", http_status=503),
        rec(2, 1.0, 1.5, tokens=1, scenario=plates(["渝C3"], batch=["c3"]), worker="w2", reasoning_tokens=4),
        rec(3, 1.5, 3.0, scenario=plates(found=["粤B2", "粤B2"], batch=["c4"]), token_source="chunks"),
        rec(4, 2.0, 2.5, intended_send_s=1.7e9 + 1.9, finish_reason="length", scenario={"kind": "chat", "matched": True}),
        rec(5, 2.0, 2.5, scenario={"kind": "chat", "line": 3, "matched": False, "answer": "no"}, name="rag"),
    ]
    return out


def _legacy_line(record: Record) -> str:
    """The record as records.jsonl held it before the scenario part: the plate fields at the top level."""
    data = json.loads(record.to_json())
    facts = data.pop("scenario") or {}
    return json.dumps(data | {key: facts.get(key, []) for key in LEGACY_PLATE_FIELDS}, ensure_ascii=False)


def _write(path: Path, records: list[Record], extra: str = "") -> Path:
    path.write_text("".join(r.to_json() + "\n" for r in records) + extra, encoding="utf-8")
    return path


def _same_columns(path: Path) -> None:
    fast = read_columns(path)
    assert fast is not None
    slow = RecordColumns().add_all(iter_record_dicts(path))
    assert fast.n == slow.n
    for name in slow.numbers:
        np.testing.assert_array_equal(fast.column(name), slow.column(name))
    assert fast.texts == slow.texts
    np.testing.assert_array_equal(fast.ok_mask(), slow.ok_mask())
    np.testing.assert_array_equal(fast.plate_counts(), slow.plate_counts())
    np.testing.assert_array_equal(fast.matched_column(), slow.matched_column())
    a, b = fast.itl(2.0), slow.itl(2.0)
    np.testing.assert_array_equal(a.flat_s, b.flat_s)
    np.testing.assert_array_equal(a.offsets, b.offsets)
    np.testing.assert_array_equal(a.rows, b.rows)


def test_arrow_reader_gives_the_streaming_columns(tmp_path: Path) -> None:
    path = _write(tmp_path / "records.jsonl", _records())
    _same_columns(path)
    columns = read_columns(path)
    assert columns is not None
    assert columns.plate_counts().tolist() == [[1, 1, 0], [0, 0, 0], [0, 0, 1], [0, 1, 0], [0, 0, 0], [0, 0, 0]]
    np.testing.assert_array_equal(columns.matched_column(), [np.nan] * 4 + [1.0, 0.0])


def test_records_written_before_the_scenario_part_read_the_same(tmp_path: Path) -> None:
    """Old records.jsonl files (the golden fixtures are such files) hold the plate fields at the top level."""
    new = _write(tmp_path / "new.jsonl", _records()[:4])
    old = tmp_path / "old.jsonl"
    old.write_text("".join(_legacy_line(r) + "\n" for r in _records()[:4]), encoding="utf-8")
    _same_columns(old)
    fast_old, fast_new = read_columns(old), read_columns(new)
    assert fast_old is not None and fast_new is not None
    np.testing.assert_array_equal(fast_old.plate_counts(), fast_new.plate_counts())
    assert batch_ids_of_rows(old, [0, 2]) == batch_ids_of_rows(new, [0, 2]) == {0: ["c1", "c2"], 2: ["c3"]}
    assert quality_examples(old) == quality_examples(new)
    read = [Record.from_dict(d) for d in iter_record_dicts(old)]
    assert [read[i] for i in (0, 2, 3)] == [_records()[i] for i in (0, 2, 3)]
    assert read[1].scenario == plates()  # an old plate record always held the three lists, empty or not


def test_arrow_reader_skips_blank_lines_and_a_truncated_last_line(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    lines = [r.to_json() for r in _records()]
    path.write_text("\n\n".join(lines) + "\n   \n" + lines[0][:40], encoding="utf-8")
    _same_columns(path)
    assert batch_ids_of_rows(path, [2, 3]) == {2: ["c3"], 3: ["c4"]}


@pytest.mark.parametrize("odd", ["null\n", "[1]\n", '{"request_id": 5}\n', "{corrupt\n"])
def test_what_the_arrow_reader_cannot_take_goes_to_the_streaming_path(tmp_path: Path, odd: str) -> None:
    records = _records()
    path = tmp_path / "records.jsonl"
    path.write_text(records[0].to_json() + "\n" + odd + records[1].to_json() + "\n", encoding="utf-8")
    assert read_columns(path) is None
    if odd.startswith("{corrupt"):
        with pytest.raises(UsageError, match=":2: corrupt record"):
            list(iter_record_dicts(path))


def test_plate_errors_match_the_streaming_quality_examples(tmp_path: Path) -> None:
    records = _records() + [rec(9, 4.0, 5.0, scenario=plates(found=["京A1"], batch=[f"c{i}" for i in range(9)]))]
    path = _write(tmp_path / "records.jsonl", records)
    fast = read_columns(path)
    assert fast is not None
    errors = fast.plate_errors(10)
    batches = batch_ids_of_rows(path, [row for found in errors.values() for _, _, row in found])
    slow = quality_examples(path)
    for key, kind in (("false_positives", "fp"), ("misses", "fn")):
        got = [{"plate": p, "count": n, "batch_ids": batches[row][:5]} for p, n, row in errors[kind]]
        assert got == slow[key]


def test_csv_text_is_what_pandas_to_csv_writes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate(
        [rng.random(2000) * 3000, [0.0078125, -0.0, -1e-7, 2.5e-6, np.inf, -np.inf, np.nan, 1e20, 1342.0]]
    )
    n = len(values)
    frame = pd.DataFrame(
        {
            "f": values,
            "i": np.arange(n),
            "nullable": pd.array([None if k % 3 else k for k in range(n)], dtype="Int64"),
            "b": np.arange(n) % 2 == 0,
            "s": ["a,b", 'say "hi"', "line\nbreak", "cr\r", None, "plain", "", "=x", "μs"] * (n // 9) + ["z"] * (n % 9),
        }
    )
    write_csv(frame, tmp_path / "fast.csv")
    frame.to_csv(tmp_path / "pandas.csv", index=False, float_format="%.6f")
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


def test_resampled_percentile_has_the_brute_force_distribution() -> None:
    rng = np.random.default_rng(5)
    values = np.sort(rng.lognormal(0.0, 0.6, 700))
    n = 400
    for p in (50, 95):
        brute = np.percentile(values[rng.integers(0, values.size, size=(20000, n))], p, axis=1)
        drawn = resampled_percentile(values, n, p, 20000, np.random.default_rng(6))
        for q in (2.5, 50, 97.5):
            assert np.percentile(drawn, q) == pytest.approx(np.percentile(brute, q), rel=0.01)
        assert drawn.mean() == pytest.approx(brute.mean(), rel=0.002)
