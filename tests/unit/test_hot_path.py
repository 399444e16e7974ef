"""The fast paths of the client and the report loader give the same answers as a full decode."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from llmload.analysis.record_columns import RecordColumns
from llmload.client.sse import MalformedStream, SseSplitter, StreamAccumulator
from llmload.records import Record, iter_record_dicts


def event(delta: dict[str, object], compact: bool = True, choices: int = 1) -> bytes:
    body = {"id": "c", "choices": [{"index": i, "delta": delta, "finish_reason": None} for i in range(choices)]}
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":") if compact else None)
    return b"data: " + text.encode() + b"\n\n"


PIECES = ['say "hi"\\n', "车牌 京A12345", "tab\there", "<think>r</think>answer"]


@pytest.mark.parametrize("compact", [True, False])
def test_answer_text_is_the_same_with_and_without_the_byte_fast_path(compact: bool) -> None:
    stream = event({"role": "assistant", "content": ""}, compact) + b"".join(
        event({"content": p}, compact) for p in PIECES
    ) + event({"reasoning_content": "why"}, compact) + b"data: [DONE]\n\n"
    acc = StreamAccumulator(keep_text=True)
    acc.add(1.0, SseSplitter().feed(stream))
    facts = acc.finish()
    assert facts.answer_text == 'say "hi"\\n车牌 京A12345tab\thereanswer'
    assert facts.reasoning_text == "rwhy"
    assert facts.chunk_s == [1.0] * 5
    assert facts.done


def test_several_choices_fall_back_to_decoding_the_first() -> None:
    acc = StreamAccumulator(keep_text=True)
    acc.add(1.0, SseSplitter().feed(event({"content": "a"}, choices=2)))
    assert acc.finish().answer_text == "a"


def test_a_broken_escape_is_malformed() -> None:
    acc = StreamAccumulator(keep_text=True)
    acc.add(1.0, [b'{"choices":[{"delta":{"content":"bad \\u12"}}]}'])
    with pytest.raises(MalformedStream):
        acc.finish()


def test_splitter_keeps_a_partial_event_and_multi_space_data() -> None:
    splitter = SseSplitter()
    assert splitter.feed(b"data:  {}\n\ndata: {\"a\"") == [b"{}"]
    assert splitter.pending == b'data: {"a"'


def test_record_json_round_trips_and_columns_give_flat_itl(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    records = [
        Record("a", 0, 10.0, 11.0, True, chunk_s=[10.1, 10.3, 10.6], output_tokens=3,
               scenario={"kind": "plates", "plates_expected": ["京A1"]}),
        Record("b", 1, 10.0, 10.5, False, chunk_s=[10.2, 10.4], error_kind="disconnect"),
        Record("c", 0, 11.0, 12.0, True, chunk_s=[11.1, 11.2], output_tokens=2,
               scenario={"kind": "plates", "plates_found": ["京A1"]}),
    ]
    path.write_text("".join(r.to_json() + "\n" for r in records) + '{"truncated', encoding="utf-8")
    dicts = list(iter_record_dicts(path))
    assert [Record.from_dict(d) for d in dicts] == records
    columns = RecordColumns().add_all(dicts)
    itl = columns.itl(scale=2.0)
    assert itl.for_rows([0, 1, 2]) == pytest.approx([0.4, 0.6, 0.2])  # b failed: no ITL
    assert itl.for_rows([2]) == pytest.approx([0.2])
    assert itl.for_rows([0]) == pytest.approx([0.4, 0.6])
    np.testing.assert_allclose(itl.per_row("max"), [0.6, np.nan, 0.2])
    assert columns.plate_counts().tolist() == [[0, 0, 1], [0, 0, 0], [0, 1, 0]]
