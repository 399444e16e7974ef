"""Token arrival times come from the kernel (SO_TIMESTAMPNS), not from when a busy event loop got round to
reading: a client that reads a token 200 ms late still stamps it within milliseconds of when it was sent."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import gevent
import pytest
from loopback import SSE_HEADERS, http_chunk, one_connection_server

from llmload.client import body_reader
from llmload.client.clock import wall_clock
from llmload.client.kernel_stamp import SO_TIMESTAMPNS, received_wall_s
from llmload.client.stream import ChatStreamClient, StreamOutcome

pytestmark = pytest.mark.alone  # run with no other test beside it: it compares stamps against one clock base

TOKEN_AFTER_S = 0.05
BUSY_S = 0.25


@contextmanager
def one_token_server() -> Iterator[tuple[int, list[float]]]:
    """Answers one streamed chat: headers at once, one token TOKEN_AFTER_S later (its send time is
    appended to the list), then [DONE]."""
    sent: list[float] = []

    def serve(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(SSE_HEADERS)
        time.sleep(TOKEN_AFTER_S)
        sent.append(wall_clock())  # the client's clock: a wall-clock step during the session cannot split them
        conn.sendall(http_chunk(b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'))
        time.sleep(BUSY_S + 0.1)
        conn.sendall(http_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
        time.sleep(0.1)

    with one_connection_server(serve) as port:
        yield port, sent


def kernel_stamps_work() -> bool:
    """Whether this kernel hands back receive stamps on a loopback TCP socket (gVisor, for one, may not)."""
    if SO_TIMESTAMPNS is None:
        return False
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        conn, _ = listener.accept()
        with client, conn:
            try:
                client.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            except OSError:
                return False
            conn.sendall(b"x")
            _, ancillary, _, _ = client.recvmsg(16, socket.CMSG_SPACE(16))
    return received_wall_s(ancillary) is not None


STAMPS = pytest.mark.skipif(not kernel_stamps_work(), reason="no kernel receive stamps on this platform")


def first_token_while_busy(port: int) -> StreamOutcome:
    """The request's greenlet waits for the token while this one spins (no yield) for BUSY_S."""
    client = ChatStreamClient(f"http://127.0.0.1:{port}")
    try:
        greenlet = gevent.spawn(client.chat_stream, {"model": "m", "messages": [], "stream": True})
        gevent.sleep(0.01)  # the request is sent and its greenlet blocks on the socket
        end = time.perf_counter() + BUSY_S
        while time.perf_counter() < end:
            pass
        outcome: StreamOutcome = greenlet.get(timeout=5)
        return outcome
    finally:
        client.close()


@STAMPS
def test_a_token_read_late_keeps_its_kernel_arrival_time() -> None:
    with one_token_server() as (port, sent):
        outcome = first_token_while_busy(port)
    assert outcome.ok, outcome.error
    assert outcome.facts.first_token_s is not None
    assert abs(outcome.facts.first_token_s - sent[0]) < 0.005


def test_without_kernel_stamps_the_same_token_is_stamped_when_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(body_reader, "SO_TIMESTAMPNS", None)  # the module that reads with stamps
    with one_token_server() as (port, sent):
        outcome = first_token_while_busy(port)
    assert outcome.ok, outcome.error
    assert outcome.facts.first_token_s is not None
    assert outcome.facts.first_token_s - sent[0] > 0.1  # read ~200 ms late, stamped then
