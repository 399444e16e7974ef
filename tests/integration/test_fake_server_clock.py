"""The known-timing fake server (benchmarks/fake_server.py) starts a request's clock at its first bytes, as a
client starts its TTFT clock before its first byte: a long body's upload is inside both, and a benchmark's TTFT
error (client TTFT minus the server's) is the client's, not the upload's (issue 22, target 3: 128k prompts)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from known_server import fake_server, server_stats

TTFT_S = 0.300
UPLOAD_PAUSE_S = 0.150  # the body's second half is sent this long after its first bytes


def test_the_clock_starts_at_the_first_bytes_of_a_slow_upload(tmp_path: Path) -> None:
    body = json.dumps({"model": "m", "stream": True, "max_tokens": 2, "prompt": "x" * 200_000}).encode()
    head = (f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
    with fake_server(tmp_path, ttft_ms=TTFT_S * 1000, itl_ms=10, tokens=2) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sent_s = time.monotonic()
            sock.sendall(head + body[: len(body) // 2])
            time.sleep(UPLOAD_PAUSE_S)
            sock.sendall(body[len(body) // 2 :])
            reply = b""
            while b"data: " not in reply:
                reply += sock.recv(65536)
            first_token_s = time.monotonic() - sent_s
        stats = server_stats(url)
    # from the first bytes: TTFT (the reply can be read late on a busy machine, never early); from the last
    # bytes it would be TTFT + the pause (450 ms): the bound is halfway
    assert TTFT_S - 0.005 <= first_token_s < TTFT_S + UPLOAD_PAUSE_S / 2
    assert stats["upload_p99_s"] >= UPLOAD_PAUSE_S  # the server saw the upload take the pause
