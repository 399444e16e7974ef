"""Record lines keep their order and are written exactly once when long ones go to the writer thread."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from llmload.load.record_sink import LONG_LINE_CHARS, RecordSink
from llmload.records import RecordWriter


class HeldWriter(RecordWriter):
    """Writes a long line only once `release` is set (a slow disk), and fails on a line that says so."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.release = threading.Event()

    def write_line(self, line: str) -> None:
        if len(line) >= LONG_LINE_CHARS:
            assert self.release.wait(timeout=10)
        if line == "fail":
            raise OSError(28, "No space left on device")
        super().write_line(line)


def test_lines_behind_a_long_one_wait_for_it_and_keep_their_order(tmp_path: Path) -> None:
    writer = HeldWriter(tmp_path / "records.jsonl")
    sink = RecordSink(writer)
    long_line = "L" * LONG_LINE_CHARS
    sink.write_line("a")  # the thread is idle: written at once
    sink.write_line(long_line)  # to the thread, which is held
    sink.write_line("b")  # behind it: to the thread too, not written before it
    assert writer.path.read_text().splitlines() == ["a"]
    writer.release.set()
    sink.close()
    assert writer.path.read_text().splitlines() == ["a", long_line, "b"]
    assert sink.count == 3


def test_a_line_after_the_thread_is_idle_is_written_at_once(tmp_path: Path) -> None:
    writer = HeldWriter(tmp_path / "records.jsonl")
    writer.release.set()
    sink = RecordSink(writer)
    sink.write_line("L" * LONG_LINE_CHARS)
    for _ in range(1000):  # the thread writes it; then the next short line needs no hand-over
        if sink.thread_idle:
            break
        threading.Event().wait(0.01)
    sink.write_line("c")
    assert writer.path.read_text().splitlines()[-1] == "c"  # before close: written by the caller
    sink.close()


def test_a_failed_write_in_the_thread_is_raised_to_the_caller(tmp_path: Path) -> None:
    writer = HeldWriter(tmp_path / "records.jsonl")
    sink = RecordSink(writer)
    sink.write_line("L" * LONG_LINE_CHARS)
    sink.write_line("fail")  # behind the long line: in the thread
    writer.release.set()
    with pytest.raises(OSError, match="No space left"):
        sink.close()
