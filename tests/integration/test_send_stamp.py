"""The send stamp is taken right before the request is written: nothing between them lets another greenlet run.

geventhttpclient's pool checks a kept-alive socket with select() before reusing it; under Locust (gevent's
monkey-patching) that select yields to the hub even with a zero timeout, so a busy generator ran other users'
work between the stamp and the write and counted it in TTFT (+13.8 ms at p99, 256 streams at 55% of a core).
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import gevent
import gevent.select
import pytest
from loopback import SSE_HEADERS, http_chunk, one_connection_server

from llmload.client.stream import ChatStreamClient

HOG_S = 0.2


@contextmanager
def keep_alive_server(requests: int) -> Iterator[tuple[int, list[float]]]:
    """Answers `requests` streamed chats on one connection; appends when each request arrived (wall s)."""
    arrived: list[float] = []

    def serve(conn: socket.socket) -> None:
        for _ in range(requests):
            conn.recv(65536)
            arrived.append(time.time())
            conn.sendall(
                SSE_HEADERS
                + http_chunk(b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n')
                + http_chunk(b"data: [DONE]\n\n")
                + b"0\r\n\r\n"
            )
        time.sleep(0.1)

    with one_connection_server(serve) as port:
        yield port, arrived


def test_a_ready_greenlet_cannot_run_between_the_send_stamp_and_the_write(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(select, "select", gevent.select.select)  # what Locust's monkey-patching does
    with keep_alive_server(2) as (port, arrived):
        client = ChatStreamClient(f"http://127.0.0.1:{port}")
        try:
            assert client.chat_stream({"messages": []}).ok  # opens the connection the second request reuses
            gevent.spawn(time.sleep, HOG_S)  # another user's CPU work, ready to run
            outcome = client.chat_stream({"messages": []})
        finally:
            client.close()
    assert outcome.ok
    assert len(arrived) == 2
    # the request reached the server right after its stamp; the hog ran while the client waited for headers
    assert arrived[1] - outcome.send_s < 0.05, f"sent {arrived[1] - outcome.send_s:.3f} s after the stamp"
    assert outcome.end_s - outcome.send_s >= HOG_S * 0.9  # the hog did run inside this request
