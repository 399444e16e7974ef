"""The send stamp is taken right before the request is written: nothing between them lets another greenlet run.

geventhttpclient's pool checks a kept-alive socket with select() before reusing it; under Locust (gevent's
monkey-patching) that select yields to the hub even with a zero timeout, so a busy generator ran other users'
work between the stamp and the write and counted it in TTFT (+13.8 ms at p99, 256 streams at 55% of a core).

The test asserts order, not speed: a "hog" greenlet is ready to run when the second request starts; the
server holds that request's answer back until the hog has run, so the hog must run inside the request, and
when it runs it looks at the server's socket: the request's bytes must already be there (written before the
first yield) and the hog must have started after the send stamp (same clock).
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import gevent
import gevent.select
import pytest
from loopback import SSE_HEADERS, http_chunk, one_connection_server

from llmload.client.clock import wall_clock
from llmload.client.stream import ChatStreamClient

pytestmark = pytest.mark.alone  # run with no other test beside it: it holds the server back while a hog greenlet runs

HOG_S = 0.2  # how long the hog blocks the event loop (a blocking sleep: no greenlet runs meanwhile)
SERVER_WAIT_S = 10.0  # the server gives up waiting for the hog after this (a broken test, never a pass)
ANSWER = (
    SSE_HEADERS
    + http_chunk(b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n')
    + http_chunk(b"data: [DONE]\n\n")
    + b"0\r\n\r\n"
)


@dataclass
class Hog:
    """Another user's CPU work, ready to run. It notes when it ran and what the server had received by then."""

    server_conn: list[socket.socket] = field(default_factory=list)
    ran: threading.Event = field(default_factory=threading.Event)
    started_s: float | None = None
    request_bytes_waiting: int | None = None

    def run(self) -> None:
        self.started_s = wall_clock()
        try:  # the server thread has not read request 2 yet (it waits for `ran`): peek at its socket
            self.request_bytes_waiting = len(
                self.server_conn[0].recv(65536, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            )
        except BlockingIOError:
            self.request_bytes_waiting = 0
        self.ran.set()
        time.sleep(HOG_S)


@contextmanager
def keep_alive_server(hog: Hog) -> Iterator[int]:
    """Answers two streamed chats on one connection; the second only after the hog has run."""

    def serve(conn: socket.socket) -> None:
        hog.server_conn.append(conn)
        conn.recv(65536)
        conn.sendall(ANSWER)
        if hog.ran.wait(SERVER_WAIT_S):
            conn.recv(65536)
            conn.sendall(ANSWER)
        time.sleep(0.1)

    with one_connection_server(serve) as port:
        yield port


def test_a_ready_greenlet_cannot_run_between_the_send_stamp_and_the_write(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(select, "select", gevent.select.select)  # what Locust's monkey-patching does
    hog = Hog()
    with keep_alive_server(hog) as port:
        client = ChatStreamClient(f"http://127.0.0.1:{port}")
        try:
            assert client.chat_stream({"messages": []}).ok  # opens the connection the second request reuses
            gevent.spawn(hog.run)
            outcome = client.chat_stream({"messages": []})
        finally:
            client.close()
    assert outcome.ok, outcome.error
    assert hog.started_s is not None, "the hog never ran"
    assert hog.started_s >= outcome.send_s, "the hog ran before the send stamp: the test checked nothing"
    assert hog.request_bytes_waiting, "the hog ran between the send stamp and the write"
    assert outcome.end_s - outcome.send_s >= HOG_S  # the hog's blocking time lies inside this request
