from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from llmload.errors import UsageError
from llmload.scenarios.plates.comment_dataset import (
    CommentRow,
    dataset_sha256,
    load_dataset,
    read_dataset,
    write_jsonl,
)

GOOD = {
    "id": "c001",
    "text": "路口看到京A88888",
    "plates": ["京A88888"],
    "industry": "traffic",
    "scene": "driving",
}
PLAIN = {"id": "c002", "text": "今天加班到很晚", "plates": [], "industry": "work", "scene": "overtime"}


def _line(**changes: object) -> str:
    obj: dict[str, object] = {**PLAIN, **changes}
    return json.dumps(obj, ensure_ascii=False)


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "x.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(UsageError) as info:
        load_dataset(path)
    return str(info.value)


def test_load_good_rows(tmp_path: Path) -> None:
    path = _write(tmp_path, [json.dumps(GOOD, ensure_ascii=False), "", json.dumps(PLAIN, ensure_ascii=False)])
    rows = load_dataset(path)
    assert rows == [
        CommentRow("c001", "路口看到京A88888", ("京A88888",), "traffic", "driving"),
        CommentRow("c002", "今天加班到很晚", (), "work", "overtime"),
    ]


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("{not json", ":2: invalid JSON: Expecting property name enclosed in double quotes (column 2)"),
        ("[1, 2]", ":2: expected a JSON object, got list"),
        (_line(text=17), ":2: field 'text' must be a string"),
        (_line(id=""), ":2: field 'id' must not be empty"),
        (_line(plates="京A88888"), ":2: field 'plates' must be a list of strings"),
        (
            _line(text="看到京A88888", plates=["京A·88888"]),
            ":2: plate '京A·88888' is not a valid licence plate",
        ),
        (_line(text="京I12345", plates=["京I12345"]), ":2: plate '京I12345' is not a valid licence plate"),
        (_line(colour="red"), ":2: unknown field 'colour'"),
        (_line(id="c001"), ":2: duplicate id 'c001' (first on line 1)"),
    ],
)
def test_line_errors_name_file_and_line(tmp_path: Path, bad_line: str, message: str) -> None:
    path = _write(tmp_path, [json.dumps(GOOD, ensure_ascii=False), bad_line])
    assert _error(path).startswith(f"{path}{message}")


def test_missing_field(tmp_path: Path) -> None:
    obj = dict(PLAIN)
    del obj["plates"]
    path = _write(tmp_path, [json.dumps(PLAIN), "", json.dumps(obj)])
    assert _error(path) == f"{path}:3: missing field 'plates'"


def test_a_users_own_labelled_comments_load_with_id_text_and_plates_only(tmp_path: Path) -> None:
    rows = [{"id": "u1", "text": "停车场里京A88888挡路", "plates": ["京A88888"]}, {"id": "u2", "text": "好天气", "plates": []}]
    path = _write(tmp_path, [json.dumps(r, ensure_ascii=False) for r in rows])
    assert read_dataset(path) == ([CommentRow("u1", rows[0]["text"], ("京A88888",)), CommentRow("u2", "好天气", ())], [])


def test_labels_that_differ_from_the_extractor_are_kept_with_a_warning_naming_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, [
        _line(id="a", text="看到京A88888", plates=["京A12345"]),  # the user's label is the truth
        _line(id="b", text="看到京A88888"),
    ])  # fmt: skip
    rows, warnings = read_dataset(path)
    assert [r.plates for r in rows] == [("京A12345",), ()]
    assert warnings == [
        f"{path}:1: plate '京A12345' not found in text (the label is kept as the truth)",
        f"{path}:1: text contains plate '京A88888' missing from 'plates' (the label is kept as the truth)",
        f"{path}:2: text contains plate '京A88888' missing from 'plates' (the label is kept as the truth)",
    ]


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"\n  \n")
    assert _error(path) == f"{path}: dataset is empty (no rows)"


def test_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(json.dumps(PLAIN).encode() + b"\n" + b'{"id": "\xff\xfe"}\n')
    assert _error(path) == f"{path}:2: not valid UTF-8 at byte 9 of the line"


def test_line_over_64_kib(tmp_path: Path) -> None:
    path = _write(tmp_path, [_line(text="长" * 30000)])  # 90,000 bytes in UTF-8
    assert _error(path).startswith(f"{path}:1: line is 90")
    assert "over the 65536-byte limit" in _error(path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.jsonl"
    assert _error(path) == f"{path}: cannot read dataset: No such file or directory"


def test_write_then_load_round_trip_and_sha(tmp_path: Path) -> None:
    rows = [CommentRow("c001", "看到京A·88888", ("京A88888",), "traffic", "driving")]
    path = tmp_path / "out.jsonl"
    write_jsonl(rows, path)
    assert path.read_bytes().decode() == (
        '{"id": "c001", "text": "看到京A·88888", "plates": ["京A88888"], "industry": "traffic", "scene": "driving"}\n'
    )
    assert load_dataset(path) == rows
    assert dataset_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_checked_in_dataset_loads() -> None:
    rows = load_dataset(Path(__file__).parents[2] / "datasets" / "plate_comments.jsonl")
    assert len(rows) == 100
    assert [r.id for r in rows[:2]] == ["c001", "c002"]
