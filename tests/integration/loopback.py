"""A one-connection loopback HTTP server in a thread, for client tests that script the bytes on the wire."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

SSE_HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def http_chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


@contextmanager
def one_connection_server(serve: Callable[[socket.socket], None]) -> Iterator[int]:
    """Accepts one connection on 127.0.0.1 and hands it to `serve` in a thread; yields the port."""
    listener = socket.create_server(("127.0.0.1", 0))

    def accept_and_serve() -> None:
        conn, _ = listener.accept()
        with conn:
            serve(conn)

    thread = threading.Thread(target=accept_and_serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        thread.join(timeout=5)
        listener.close()
