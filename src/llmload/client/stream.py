"""Blocking, gevent-safe client for OpenAI-compatible /v1/chat/completions and /v1/completions, streamed
(the default) or not (`--no-stream`: client.unstreamed).

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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from gevent import monkey
from geventhttpclient import HTTPClient

from llmload.client.body_reader import BodyReader, read_whole
from llmload.client.clock import Clock, wall_clock
from llmload.client.error_body import error_message
from llmload.client.sse import DONE, MalformedStream, SseSplitter, StreamAccumulator, StreamFacts
from llmload.client.stream_error import StreamError
from llmload.client.timeouts import Timeouts

CHAT_PATH = "/v1/chat/completions"
COMPLETIONS_PATH = "/v1/completions"
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
    events: list[bytes] | None = None  # asked for (keep_events): every SSE payload as sent, or the whole body

    @property
    def ok(self) -> bool:
        return self.error_kind is None


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
            _read_to_end(recv)
            break


def _read_to_end(recv: Callable[[], bytes]) -> None:
    """After [DONE], the body's end (the chunked terminator) may come in a later read, when the server wrote
    it apart and the machine is busy: reading it hands the connection back to the pool whole, where leaving
    it made the next request open a new one (a fresh clone beside a busy core: 284 connects in 638 requests).
    A server that keeps the body open after [DONE] runs into the read timeout: the answer stands, and the
    connection is dropped (ChatStreamClient.send)."""
    with contextlib.suppress(StreamError):
        while recv():
            pass


def check_payloads(payloads: list[bytes]) -> None:
    """Cheap shape check of every event, even when answers are not decoded (--no-score): each payload is
    [DONE] or looks like one JSON object. Raises MalformedStream (record category "malformed")."""
    for payload in payloads:
        if payload != DONE and not (payload[:1] == b"{" and payload.rstrip()[-1:] == b"}"):
            raise MalformedStream(f"SSE event is not a JSON object: {payload[:80]!r}")


class ChatStreamClient:
    """One keep-alive connection to one server, used by one (gevent) user at a time. `stream=False`: its
    requests are not streamed, so the response headers come at the end (they wait up to the total timeout)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeouts: Timeouts | None = None,
        clock: Clock = wall_clock,
        stream: bool = True,
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
            network_timeout=self.timeouts.first_token_s if stream else self.timeouts.total_s,
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
        return self.send(CHAT_PATH, json.dumps(body, ensure_ascii=False).encode(), keep_text)

    def send(
        self,
        path: str,
        payload: bytes,
        keep_text: bool = True,
        stream: bool = True,
        completions: bool = False,
        keep_events: bool = False,
    ) -> StreamOutcome:
        """POSTs the encoded body to `path`: timed, read to the end, never raising (a failure is the
        outcome's error_kind). `completions`: the answer is /v1/completions' text. `keep_events`: the
        outcome keeps the response's payloads as they came (an SDK-shaped client rebuilds its objects)."""
        accumulator = StreamAccumulator(keep_text=keep_text, completions=completions)
        accumulator.events = [] if keep_events else None
        self._connected_s = None
        send_s = self.clock()
        outcome = StreamOutcome(
            send_s=send_s, end_s=send_s, headers_s=None, http_status=None, facts=accumulator.facts,
            events=accumulator.events,
        )  # fmt: skip
        response = None
        reader: BodyReader | None = None
        try:
            response = self._http.request("POST", self.path_prefix + path, body=payload)
            outcome.headers_s = self.clock()
            status = outcome.http_status = response.status_code
            if status >= 400:
                error_body = response.read()
                outcome.response_bytes = len(error_body)
                raise StreamError("http_status", f"HTTP {status}: {error_message(error_body)}")
            reader = BodyReader(response, self.clock, self.timeouts, send_s, accumulator.facts, stream)
            if stream:
                consume_stream(reader.recv, reader.arrival_s, accumulator)
                outcome.facts = accumulator.finish()
            else:
                outcome.facts = read_whole(reader, keep_text, completions, outcome.events)
            if not outcome.facts.done and outcome.facts.finish_reason is None:
                # a body that ends after a chunk with finish_reason is a whole answer, [DONE] or not
                # (transformers serve sends none); without either, the stream was cut short
                raise StreamError("incomplete", "stream ended without finish_reason or [DONE]")
        except Exception as exc:  # noqa: BLE001 - a record must be written whatever happened
            outcome.error_kind, outcome.error = _failure(exc, outcome.headers_s is None, stream)
        finally:
            outcome.end_s = self.clock()
            outcome.connect_s = self._connected_s
            if reader is not None:
                reader.copy_to(outcome)
            if response is not None and (outcome.error_kind is not None or not response.message_complete):
                _discard(response)
        return outcome


def _failure(exc: Exception, before_headers: bool, stream: bool) -> tuple[str, str]:
    """A failed request's record category (records.ERROR_KINDS) and message."""
    if isinstance(exc, StreamError):
        return exc.kind, str(exc)
    if isinstance(exc, MalformedStream):
        return "malformed", str(exc)
    if isinstance(exc, ConnectionRefusedError | socket.gaierror):
        return "connect", f"{type(exc).__name__}: {exc}"
    if isinstance(exc, TimeoutError):  # socket.timeout: while connecting or waiting for headers
        connecting = before_headers and "connect" in str(exc).lower()
        return ("connect" if connecting else "first_token_timeout" if stream else "total_timeout"), f"timeout: {exc}"
    if isinstance(exc, OSError):
        return "disconnect", f"{type(exc).__name__}: {exc}"
    return _classify_other(exc)


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
