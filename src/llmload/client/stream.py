"""Blocking, gevent-safe streaming client for OpenAI-compatible /v1/chat/completions.

Built on geventhttpclient (Locust's fast HTTP client family). The body is read with one `recv` of
whatever bytes are available, timestamped the moment `recv` returns and before any parsing; Locust's
`iter_content(n)`/`iter_lines()` are avoided on purpose (they buffer ~1 KB and add ~100 ms to TTFT).
This reads two internals of geventhttpclient's response (`_sock`, `_body_buffer`) and replaces its pool's
keep-alive check (`_is_socket_alive`), hence the pinned version.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from gevent import monkey
from geventhttpclient import HTTPClient

from llmload.client.clock import Clock, wall_clock
from llmload.client.error_body import error_message
from llmload.client.kernel_stamp import ANCILLARY_BYTES, SO_TIMESTAMPNS, received_wall_s
from llmload.client.sse import DONE, MalformedStream, SseSplitter, StreamAccumulator, StreamFacts
from llmload.client.timeouts import Timeouts

RECV_BYTES = 65536
_select_no_yield = monkey.get_original("select", "select")


@dataclass(slots=True)
class StreamOutcome:
    send_s: float
    end_s: float
    headers_s: float | None
    http_status: int | None
    facts: StreamFacts
    error_kind: str | None = None
    error: str | None = None
    # kernel receive stamps only (None where the socket gives none): the largest wait between a read's data
    # reaching the machine and the event loop reading it, and when the response's last bytes arrived
    read_lag_max_s: float | None = None
    last_byte_s: float | None = None
    connect_s: float | None = None  # when a new connection was set up for it (None: a kept-alive one reused)
    response_bytes: int | None = None  # body bytes received (de-chunked), None when no response came

    @property
    def ok(self) -> bool:
        return self.error_kind is None


class StreamError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def consume_stream(recv: Callable[[], bytes], clock: Clock, accumulator: StreamAccumulator) -> None:
    """Pure read loop: calls `recv` until it returns b"" (end of body), stamping each piece before parsing.

    `recv` raises StreamError for timeouts/disconnects; this function never touches a socket itself,
    so tests drive it with scripted byte pieces and a scripted clock.
    """
    splitter = SseSplitter()
    while True:
        data = recv()
        arrival_s = clock()
        if not data:
            break
        payloads = splitter.feed(data)
        if payloads:
            check_payloads(payloads)
            accumulator.add(arrival_s, payloads)
        if accumulator.facts.done:
            break


def check_payloads(payloads: list[bytes]) -> None:
    """Cheap shape check of every event, even when answers are not decoded (--no-score): each payload is
    [DONE] or looks like one JSON object. Raises MalformedStream (record category "malformed")."""
    for payload in payloads:
        if payload != DONE and not (payload[:1] == b"{" and payload.rstrip()[-1:] == b"}"):
            raise MalformedStream(f"SSE event is not a JSON object: {payload[:80]!r}")


class ChatStreamClient:
    """One keep-alive connection to one server, used by one (gevent) user at a time."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeouts: Timeouts | None = None,
        clock: Clock = wall_clock,
    ) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.timeouts = timeouts or Timeouts()
        self.clock = clock
        self.path_prefix = parts.path
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = HTTPClient(
            parts.hostname,
            port=parts.port or (443 if parts.scheme == "https" else 80),
            ssl=parts.scheme == "https",
            headers=headers,
            connection_timeout=self.timeouts.connect_s,
            network_timeout=self.timeouts.first_token_s,
            concurrency=1,
        )
        pool = self._http._connection_pool
        pool._is_socket_alive = _socket_alive_no_yield  # type: ignore[method-assign]
        pool.after_connect = self._connected  # type: ignore[method-assign]
        self._connected_s: float | None = None

    def _connected(self, sock: Any) -> None:
        """The pool's hook once it opened a connection (TCP; TLS handshake too): only new ones pay for it."""
        self._connected_s = self.clock()

    def close(self) -> None:
        self._http.close()

    def chat_stream(self, body: dict[str, Any], keep_text: bool = True) -> StreamOutcome:
        payload = json.dumps(body, ensure_ascii=False).encode()
        accumulator = StreamAccumulator(keep_text=keep_text)
        self._connected_s = None
        send_s = self.clock()
        outcome = StreamOutcome(
            send_s=send_s, end_s=send_s, headers_s=None, http_status=None, facts=accumulator.facts
        )
        response = None
        reader: _Reader | None = None
        try:
            response = self._http.request("POST", self.path_prefix + "/v1/chat/completions", body=payload)
            outcome.headers_s = self.clock()
            outcome.http_status = response.status_code
            if response.status_code >= 400:
                error_body = response.read()
                outcome.response_bytes = len(error_body)
                raise StreamError("http_status", f"HTTP {response.status_code}: {error_message(error_body)}")
            reader = _Reader(response, self, send_s, accumulator.facts)
            consume_stream(reader.recv, reader.arrival_s, accumulator)
            outcome.facts = accumulator.finish()
            if not outcome.facts.done and outcome.facts.finish_reason is None:
                # a body that ends after a chunk with finish_reason is a whole answer, [DONE] or not
                # (transformers serve sends none); without either, the stream was cut short
                raise StreamError("incomplete", "stream ended without finish_reason or [DONE]")
        except StreamError as exc:
            outcome.error_kind, outcome.error = exc.kind, str(exc)
        except MalformedStream as exc:
            outcome.error_kind, outcome.error = "malformed", str(exc)
        except (ConnectionRefusedError, socket.gaierror) as exc:
            outcome.error_kind, outcome.error = "connect", f"{type(exc).__name__}: {exc}"
        except TimeoutError as exc:  # socket.timeout: while connecting or waiting for headers
            connecting = outcome.headers_s is None and "connect" in str(exc).lower()
            outcome.error_kind, outcome.error = "connect" if connecting else "first_token_timeout", f"timeout: {exc}"
        except OSError as exc:
            outcome.error_kind, outcome.error = "disconnect", f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # noqa: BLE001 - a record must be written whatever happened
            outcome.error_kind, outcome.error = _classify_other(exc)
        finally:
            outcome.end_s = self.clock()
            outcome.connect_s = self._connected_s
            if reader is not None:
                reader.copy_to(outcome)
            if response is not None and outcome.error_kind is not None:
                _discard(response)
        return outcome


class _Reader:
    """recv() over a geventhttpclient response: returns decoded (de-chunked) body bytes as they come.

    arrival_s() is when those bytes reached the machine: the kernel's receive stamp of the last segment
    read (SO_TIMESTAMPNS) when the socket gives one, else the clock read right after recv. With hundreds of
    streams on one core, a token can sit in the socket for milliseconds while the event loop serves the
    others; the kernel stamp keeps that wait out of TTFT and ITL. Only with the default clock (a scripted
    clock in tests has no kernel counterpart)."""

    def __init__(self, response: Any, client: ChatStreamClient, send_s: float, facts: StreamFacts) -> None:
        self.response = response
        self.client = client
        self.send_s = send_s
        self.facts = facts
        self.kernel_stamps = client.clock is wall_clock and SO_TIMESTAMPNS is not None
        self._stamped_sock: Any = None
        self._rx_s: float | None = None
        self.read_lag_max_s: float | None = None  # set by the first kernel-stamped read
        self.last_byte_s: float | None = None
        self.body_bytes = 0

    def copy_to(self, outcome: StreamOutcome) -> None:
        """What the reads measured: the body's bytes, and the kernel stamps' read lag and last byte."""
        outcome.response_bytes = self.body_bytes
        if self.read_lag_max_s is not None:
            outcome.read_lag_max_s, outcome.last_byte_s = self.read_lag_max_s, self.last_byte_s

    def arrival_s(self) -> float:
        rx_s, self._rx_s = self._rx_s, None
        if rx_s is None:
            return self.client.clock()
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
                kind = "first_token_timeout" if self.facts.first_token_s is None else "total_timeout"
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
        if stamp_s is not None:  # CLOCK_REALTIME -> this process's clock (perf_counter anchored to the wall once)
            read_s, wall_s = self.client.clock(), time.time()
            self._rx_s = stamp_s + (read_s - wall_s)
            lag_s = wall_s - stamp_s  # how long the bytes waited in the socket for the event loop
            if self.read_lag_max_s is None or lag_s > self.read_lag_max_s:
                self.read_lag_max_s = lag_s
        return bytes(data)

    def _timeout_s(self) -> float:
        timeouts = self.client.timeouts
        elapsed = self.client.clock() - self.send_s
        left = timeouts.total_s - elapsed
        if self.facts.first_token_s is None:
            left = min(left, timeouts.first_token_s - elapsed)
        if left <= 0:
            kind = "first_token_timeout" if self.facts.first_token_s is None else "total_timeout"
            raise StreamError(kind, f"{kind.replace('_', ' ')} exceeded")
        return left


def _socket_alive_no_yield(sock: Any) -> bool:
    """The pool's keep-alive check (is an idle socket readable, i.e. closed by the server?) without gevent's
    select, which yields to the hub even with a zero timeout. That check runs after the send stamp and before
    the request is written, so each yield put the request at the back of the run queue and its wait into
    TTFT: +13.8 ms at p99 with 256 streams at 55% CPU, +34.6 ms at 100% (benchmarks/README)."""
    try:
        if sock is None or sock.fileno() < 0:
            return False
        readable, _, _ = _select_no_yield([sock], [], [], 0.0)
        return not readable
    except (OSError, ValueError):
        return False


def _classify_other(exc: Exception) -> tuple[str, str]:
    name = type(exc).__name__
    if "ParseError" in name or "HTTPConnectionClosed" in name:
        return "disconnect", f"{name}: {exc}"
    return "client", f"{name}: {exc}"


def _discard(response: Any) -> None:
    """Closes the connection of a failed request so the pool never reuses a half-read socket, and gives
    its slot back to the pool (release_socket): without that, a client of concurrency 1 would block
    forever on its next request after a timeout or disconnect."""
    sock, pool = response._sock, response._pool
    response._sock = None
    response._pool = None
    if sock is None:
        return
    if pool is not None:
        pool.release_socket(sock)  # closes the socket and releases the pool's semaphore
    else:
        with contextlib.suppress(OSError):
            sock.close()
