"""Reading a response body as its bytes arrive, each read stamped with when its bytes reached the machine
(the kernel's receive stamp where the socket gives one); a non-streamed body read whole (read_whole)."""

from __future__ import annotations

import socket
import time
from typing import Any

from llmload.client.clock import Clock, wall_clock
from llmload.client.kernel_stamp import ANCILLARY_BYTES, SO_TIMESTAMPNS, received_wall_s
from llmload.client.stream_error import StreamError
from llmload.client.stream_facts import StreamFacts
from llmload.client.timeouts import Timeouts
from llmload.client.unstreamed import unstreamed_facts

RECV_BYTES = 65536


def read_whole(
    reader: BodyReader, keep_text: bool, completions: bool, events: list[bytes] | None = None
) -> StreamFacts:
    """A non-streamed body, read to its end; the last byte's arrival is the answer's end. `events`: where the
    whole body goes when it is kept."""
    pieces: list[bytes] = []
    last_s = reader.send_s
    while data := reader.recv():
        last_s = reader.arrival_s()
        pieces.append(data)
    body = b"".join(pieces)
    if events is not None:
        events.append(body)
    return unstreamed_facts(body, last_s, keep_text, completions)


class BodyReader:
    """recv() over a geventhttpclient response: returns decoded (de-chunked) body bytes as they come.

    arrival_s() is when those bytes reached the machine: the kernel's receive stamp of the last segment
    read (SO_TIMESTAMPNS) when the socket gives one, else the clock read right after recv. With hundreds of
    streams on one core, a token can sit in the socket for milliseconds while the event loop serves the
    others; the kernel stamp keeps that wait out of TTFT and ITL. Only with the default clock (a scripted
    clock in tests has no kernel counterpart)."""

    def __init__(
        self,
        response: Any,
        clock: Clock,
        timeouts: Timeouts,
        send_s: float,
        facts: StreamFacts,
        stream: bool = True,
    ) -> None:
        self.response = response
        self.stream = stream  # False: no first token to wait for, only the total timeout
        self.clock = clock
        self.timeouts = timeouts
        self.send_s = send_s
        self.facts = facts
        self.kernel_stamps = clock is wall_clock and SO_TIMESTAMPNS is not None
        self._stamped_sock: Any = None
        self._rx_s: float | None = None
        self.read_lag_max_s: float | None = None  # set by the first kernel-stamped read
        self.last_byte_s: float | None = None
        self.body_bytes = 0

    def copy_to(self, outcome: Any) -> None:
        """What the reads measured onto a StreamOutcome: the body's bytes, and the kernel stamps' read lag and
        last byte."""
        outcome.response_bytes = self.body_bytes
        if self.read_lag_max_s is not None:
            outcome.read_lag_max_s, outcome.last_byte_s = self.read_lag_max_s, self.last_byte_s

    def arrival_s(self) -> float:
        rx_s, self._rx_s = self._rx_s, None
        if rx_s is None:
            return self.clock()
        self.last_byte_s = rx_s
        return rx_s

    def recv(self) -> bytes:
        response = self.response
        buffer = response._body_buffer
        while not buffer:
            sock = response._sock
            if response.message_complete or sock is None:
                return b""
            sock.settimeout(self._timeout_s())
            try:
                data = self._recv_stamped(sock) if self.kernel_stamps else sock.recv(RECV_BYTES)
            except TimeoutError:
                kind = self._timeout_kind()
                raise StreamError(kind, f"no data within the {kind.replace('_', ' ')}") from None
            if not data:
                raise StreamError("disconnect", "connection closed mid-stream")
            response.feed(data)
        data = bytes(buffer)
        del buffer[:]
        self.body_bytes += len(data)
        return data

    def _recv_stamped(self, sock: Any) -> bytes:
        if sock is not self._stamped_sock:
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            except (OSError, AttributeError):  # not a plain TCP socket (TLS, a test double): the clock only
                self.kernel_stamps = False
                return bytes(sock.recv(RECV_BYTES))
            self._stamped_sock = sock
        try:
            data, ancillary, _, _ = sock.recvmsg(RECV_BYTES, ANCILLARY_BYTES)
        except (AttributeError, NotImplementedError):  # an SSL socket has no recvmsg
            self.kernel_stamps = False
            return bytes(sock.recv(RECV_BYTES))
        stamp_s = received_wall_s(ancillary)
        if (
            stamp_s is not None
        ):  # CLOCK_REALTIME -> this process's clock (perf_counter anchored to the wall once)
            read_s, wall_s = self.clock(), time.time()
            self._rx_s = stamp_s + (read_s - wall_s)
            lag_s = wall_s - stamp_s  # how long the bytes waited in the socket for the event loop
            if self.read_lag_max_s is None or lag_s > self.read_lag_max_s:
                self.read_lag_max_s = lag_s
        return bytes(data)

    def _timeout_s(self) -> float:
        timeouts = self.timeouts
        elapsed = self.clock() - self.send_s
        left = timeouts.total_s - elapsed
        if self.stream and self.facts.first_token_s is None:
            left = min(left, timeouts.first_token_s - elapsed)
        if left <= 0:
            kind = self._timeout_kind()
            raise StreamError(kind, f"{kind.replace('_', ' ')} exceeded")
        return left

    def _timeout_kind(self) -> str:
        return "first_token_timeout" if self.stream and self.facts.first_token_s is None else "total_timeout"
