"""One real request before any load: the run's own first body, read until the first token (a non-streamed
one: until its status), then closed.

It catches what would otherwise become thousands of identical failed records: a request the server
rejects outright (HTTP 4xx: vLLM's context-length error when prompt + max_tokens > max-model-len, an
unknown model, a wrong API key). Blocking, standard library only (not on the measuring hot path).
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from llmload.client.error_body import error_message
from llmload.client.sse import MalformedStream, SseSplitter, StreamAccumulator

MAX_ERROR_BYTES = 65536
PROBLEM_CHARS = 500  # the server's message, as the usage error shows it
RETRYABLE_4XX = (408, 409, 429)  # transient: the run goes on and measures them


@dataclass(frozen=True, slots=True)
class PreflightResult:
    http_status: int | None
    first_token_s: float | None  # seconds from send to the first content-bearing chunk
    problem: str | None  # one line; None when a token arrived

    @property
    def rejected(self) -> bool:
        """The server refused the request itself (4xx, not a transient one): the run cannot work."""
        status = self.http_status
        return status is not None and 400 <= status < 500 and status not in RETRYABLE_4XX


def _connection(base_url: str, timeout_s: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(base_url.rstrip("/"))
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    return cls(parts.hostname or "", parts.port, timeout=timeout_s), parts.path


def preflight(base_url: str, body: dict[str, Any], api_key: str | None, connect_timeout_s: float,
              first_token_timeout_s: float, path: str = "/v1/chat/completions") -> PreflightResult:
    """Sends ``body`` to ``path`` and reads until the first token (a body with "stream": false: until the
    status). Raises OSError when the server cannot be reached at all (refused, DNS, connect timeout)."""
    conn, prefix = _connection(base_url, connect_timeout_s)
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    try:
        conn.connect()  # OSError (refused, DNS, connect timeout) goes to the caller: unreachable
        assert conn.sock is not None
        conn.sock.settimeout(first_token_timeout_s)
        start_s = time.monotonic()
        try:
            conn.request("POST", prefix + path, json.dumps(body).encode(), headers)
            response = conn.getresponse()
            if body.get("stream") is False and response.status < 400:
                return PreflightResult(response.status, None, None)
            completions = path.endswith("/v1/completions")
            return _read_first_token(response, start_s, first_token_timeout_s, completions)
        except TimeoutError:
            return PreflightResult(None, None, f"no first token within {first_token_timeout_s:g} s")
        except (http.client.HTTPException, ConnectionError) as exc:
            return PreflightResult(None, None, f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()


def _read_first_token(resp: http.client.HTTPResponse, start_s: float, timeout_s: float,
                      completions: bool) -> PreflightResult:
    status = resp.status
    if status >= 400:
        return PreflightResult(status, None, f"HTTP {status}: {error_message(resp.read(MAX_ERROR_BYTES), PROBLEM_CHARS)}")
    splitter, accumulator = SseSplitter(), StreamAccumulator(keep_text=False, completions=completions)
    try:
        while time.monotonic() - start_s < timeout_s:
            data = resp.read1(65536)
            if not data:
                return PreflightResult(status, None, "the stream ended before the first token")
            payloads = splitter.feed(data)
            accumulator.add(time.monotonic() - start_s, payloads)
            if accumulator.facts.first_token_s is not None:
                return PreflightResult(status, accumulator.facts.first_token_s, None)
            if accumulator.facts.done:
                return PreflightResult(status, None, "the stream ended ([DONE]) without a token")
    except (MalformedStream, http.client.HTTPException, ConnectionError) as exc:
        return PreflightResult(status, None, f"{type(exc).__name__}: {exc}")
    return PreflightResult(status, None, f"no first token within {timeout_s:g} s")
