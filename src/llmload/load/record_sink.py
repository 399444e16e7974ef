"""Record lines written in order, the long ones by a native thread so that no user's greenlet waits on the disk.

A 32k-token answer's record is 442 KB of chunk stamps; writing and flushing it took 3.6-6.8 ms with the event
loop stopped (the write syscall, on a busy machine), and when answers of equal length ended together those
writes ran back to back while other streams' first tokens waited in their sockets: read late, among the
tokens behind them, they were stamped late (benchmarks/README.md, target 3). A line of LONG_LINE_CHARS or more
goes to the thread, and so does every line after it until the thread is idle again, so lines keep their order
and only one thread touches the file at a time. Short lines (most records) are written at once, as before: a
hand-over costs ~25 us, a direct write ~3 us. `close` waits for every line handed over; a run ended by
SIGINT/SIGTERM ends through it too.
"""

from __future__ import annotations

from gevent.threadpool import ThreadPool

from llmload.records import Record, RecordWriter

LONG_LINE_CHARS = 64 * 1024  # ~5,000 chunk stamps: a write of ~0.1 ms and more


class RecordSink:
    """A RecordWriter's lines, written in the order given: long ones (and any behind them) by one native thread."""

    def __init__(self, writer: RecordWriter) -> None:
        self.writer = writer
        self.count = 0  # lines given (the run's meta.json counts records when they are recorded)
        self._pool: ThreadPool | None = None
        self._handed = 0  # lines given to the thread
        self._written = 0  # of those, written (the thread counts; the GIL makes the += whole)
        self._failure: BaseException | None = None

    @property
    def thread_idle(self) -> bool:
        """Every line given to the thread is written."""
        return self._written == self._handed

    def write(self, record: Record) -> None:
        self.write_line(record.to_json())

    def write_line(self, line: str) -> None:
        if self._failure is not None:
            raise self._failure
        self.count += 1
        if len(line) < LONG_LINE_CHARS and self.thread_idle:
            self.writer.write_line(line)
            return
        if self._pool is None:
            self._pool = ThreadPool(1)
        self._handed += 1
        self._pool.spawn(self._write_in_thread, line)

    def _write_in_thread(self, line: str) -> None:
        try:
            self.writer.write_line(line)
        except BaseException as exc:  # noqa: BLE001 - raised in the caller's greenlet at its next write or close
            self._failure = self._failure or exc
        finally:
            self._written += 1

    def close(self) -> None:
        if self._pool is not None:
            self._pool.join()
            self._pool.kill()
            self._pool = None
        self.writer.close()
        if self._failure is not None:
            raise self._failure
