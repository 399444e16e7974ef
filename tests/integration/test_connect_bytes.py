"""The client's JMeter figures: Connect (when a new connection was set up; none on a kept-alive one) and the
response body's bytes (de-chunked), on a scripted loopback server."""

from __future__ import annotations

import socket

from loopback import SSE_HEADERS, http_chunk, one_connection_server

from llmload.client.stream import ChatStreamClient

EVENTS = (b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n', b"data: [DONE]\n\n")
ANSWER = SSE_HEADERS + b"".join(http_chunk(e) for e in EVENTS) + b"0\r\n\r\n"
ERROR_BODY = b'{"error":{"message":"overloaded"}}'
ERROR = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: %d\r\n\r\n%s" % (len(ERROR_BODY), ERROR_BODY)


def test_connect_is_stamped_for_a_new_connection_only_and_body_bytes_are_counted() -> None:
    def serve(conn: socket.socket) -> None:
        for answer in (ANSWER, ANSWER, ERROR):
            conn.recv(65536)
            conn.sendall(answer)

    with one_connection_server(serve) as port:
        client = ChatStreamClient(f"http://127.0.0.1:{port}")
        try:
            first, second, failed = (client.chat_stream({"messages": []}) for _ in range(3))
        finally:
            client.close()
    assert first.ok and second.ok, (first.error, second.error)
    assert first.connect_s is not None and first.headers_s is not None
    assert first.send_s <= first.connect_s <= first.headers_s
    assert second.connect_s is None  # the kept-alive connection was reused: no connect time, not zero
    assert first.response_bytes == second.response_bytes == sum(len(e) for e in EVENTS)
    assert (failed.error_kind, failed.http_status, failed.connect_s) == ("http_status", 503, None)
    assert failed.response_bytes == len(ERROR_BODY)


def test_no_connection_no_connect_time_and_no_bytes() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now: connection refused
    client = ChatStreamClient(f"http://127.0.0.1:{port}")
    try:
        outcome = client.chat_stream({"messages": []})
    finally:
        client.close()
    assert outcome.error_kind == "connect"
    assert (outcome.connect_s, outcome.response_bytes) == (None, None)
