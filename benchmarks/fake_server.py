"""A known-timing fake OpenAI streaming server for measuring load generators (not for tests of servers).

Every streamed request gets its first token exactly TTFT after the request arrived and token k at
arrival + TTFT + (k-1) * ITL; it streams N tokens (the request's max_tokens / max_completion_tokens,
else --tokens), then a usage trailer and [DONE], like vLLM (chunked transfer encoding, one HTTP chunk
per SSE event). With --itl-ms 0 the whole body is written in one go after TTFT (throughput mode).

Raw asyncio, no framework: one Protocol per connection, pre-built event bytes. The loop uses
selectors.SelectSelector on purpose: epoll's timeout has millisecond granularity (timers wake up to
1 ms late), select's has microseconds. The server measures its own lateness (actual write time minus
the due time of each token event) so a client's error can be told from the server's. "Arrived" is the
kernel's receive stamp of the request's first bytes (SO_TIMESTAMPNS, Linux), not when the loop got round to it
nor when a long body's last bytes came (the client's clock starts before its first byte too): a burst
of requests (closed-loop streams of equal length all end, and send again, together) is read one after the
other, and the last one read used to start its clock milliseconds late, which the harness then charged to
the client. `/stats` reports that wait as read lag.

select() takes file descriptors below 1,024 only and each connection holds two (the transport's and our
receive-stamp reader's), so one process serves at most ~500 connections: use --workers for more.

With --workers N it forks N processes that share the port (SO_REUSEPORT: the kernel spreads connections
over them), so that pacing hundreds of streams is spread over several cores; worker i also answers on
port + 1 + i, where its own /stats can be read (`/stats?hist=1` adds its lateness histogram, 0.1 ms bins,
for merging: client_overhead.py does).

    python benchmarks/fake_server.py --port 8600 --ttft-ms 100 --itl-ms 20 --tokens 64 [--workers 4]
    GET /stats            tokens sent, requests, active streams, server lateness (mean/p50/p99/max s)
    GET /stats?reset=1    the same, then clears the lateness samples
    GET /stats?counters=1 counters only (cheap: no sort of the lateness samples; for frequent polling)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import selectors
import signal
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from llmload.client.kernel_stamp import ANCILLARY_BYTES, SO_TIMESTAMPNS, received_wall_s

HEADERS_SSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
    b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
)
CHUNK_END = b"0\r\n\r\n"


def _chunk(payload: bytes) -> bytes:
    """One SSE event as one HTTP/1.1 chunk."""
    event = b"data: " + payload + b"\n\n"
    return b"%x\r\n" % len(event) + event + b"\r\n"


@dataclass
class Config:
    ttft_s: float
    itl_s: float
    tokens: int
    model: str
    token_text: str = " t"


class Events:
    """Pre-built chunk bytes for one endpoint (chat or text completions)."""

    def __init__(self, cfg: Config, chat: bool) -> None:
        self.chat = chat
        self.model = cfg.model
        self.token = _chunk(self._json(self._choice(cfg.token_text, None)))
        self.role = _chunk(self._json(self._choice("", None, role=True))) if chat else b""
        self.first = self.role + self.token
        self.last_token = _chunk(self._json(self._choice(cfg.token_text, "length")))
        self._bodies: dict[tuple[int, int], bytes] = {}

    def _choice(self, text: str, finish: str | None, role: bool = False) -> dict[str, Any]:
        if self.chat:
            delta: dict[str, Any] = {"role": "assistant", "content": text} if role else {"content": text}
            return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {"index": 0, "text": text, "logprobs": None, "finish_reason": finish}

    def _json(self, choice: dict[str, Any] | None, usage: dict[str, int] | None = None) -> bytes:
        obj: dict[str, Any] = {
            "id": "chatcmpl-fake" if self.chat else "cmpl-fake",
            "object": "chat.completion.chunk" if self.chat else "text_completion",
            "created": 0,
            "model": self.model,
            "choices": [choice] if choice is not None else [],
        }
        if usage is not None:
            obj["usage"] = usage
        return json.dumps(obj, separators=(",", ":")).encode()

    def tail(self, prompt_tokens: int, n: int, usage: bool) -> bytes:
        """Last token (with finish_reason), usage trailer, [DONE], end of chunked body."""
        out = self.last_token
        if usage:
            out += _chunk(
                self._json(
                    None,
                    {"prompt_tokens": prompt_tokens, "completion_tokens": n, "total_tokens": prompt_tokens + n},
                )
            )
        return out + _chunk(b"[DONE]") + CHUNK_END

    def whole(self, prompt_tokens: int, n: int, usage: bool) -> bytes:
        key = (n, int(usage))
        body = self._bodies.get(key)
        if body is None:
            body = self.role + self.token * (n - 1) + self.tail(prompt_tokens, n, usage)
            self._bodies[key] = body
        return body


@dataclass
class Stats:
    tokens_sent: int = 0
    requests_started: int = 0
    requests_done: int = 0
    active: int = 0
    lateness_s: list[float] = field(default_factory=list)
    read_lag_s: list[float] = field(default_factory=list)  # request's last receive stamp -> the loop read it
    upload_s: list[float] = field(default_factory=list)  # request's first bytes -> its last bytes (receive stamps)

    def snapshot(self, reset: bool, late_stats: bool = True, hist: bool = False) -> dict[str, Any]:
        """Counters, and (late_stats) lateness percentiles: sorting every sample costs the loop milliseconds
        at 10k+ events/s, so the harness polls counters without them and asks once per run."""
        wanted = late_stats or hist
        late = sorted(self.lateness_s) if wanted else []
        n = len(late)
        out: dict[str, Any] = {"lateness_hist_01ms": late_histogram(late)} if hist else {}
        out |= {
            "t_monotonic_s": time.monotonic(),
            "tokens_sent": self.tokens_sent,
            "requests_started": self.requests_started,
            "requests_done": self.requests_done,
            "active": self.active,
            "lateness_n": n if wanted else len(self.lateness_s),
            "lateness_mean_s": sum(late) / n if n else None,
            "lateness_p50_s": late[n // 2] if n else None,
            "lateness_p99_s": late[min(n - 1, int(0.99 * n))] if n else None,
            "lateness_max_s": late[-1] if n else None,
        }
        if wanted:
            lag = sorted(self.read_lag_s)
            up = sorted(self.upload_s)
            out |= {"read_lag_p99_s": lag[min(len(lag) - 1, int(0.99 * len(lag)))] if lag else None,
                    "read_lag_max_s": lag[-1] if lag else None,
                    "upload_p99_s": up[min(len(up) - 1, int(0.99 * len(up)))] if up else None}
        if reset:
            self.lateness_s = []
            self.read_lag_s = []
            self.upload_s = []
        return out


def late_histogram(lateness_s: list[float]) -> dict[str, int]:
    """Lateness counts in 0.1 ms bins (bin b holds [b, b+1) x 0.1 ms; early events in bin 0)."""
    return {str(b): c for b, c in Counter(max(0, int(x * 1e4)) for x in lateness_s).items()}


class Stream:
    """One streamed response: token k is due at arrival + ttft + (k-1) * itl (loop time)."""

    __slots__ = ("proto", "events", "n", "k", "arrival", "prompt_tokens", "usage", "handle")

    def __init__(self, proto: HttpProtocol, events: Events, n: int, prompt_tokens: int, usage: bool) -> None:
        self.proto = proto
        self.events = events
        self.n = n
        self.k = 0
        self.arrival = proto.arrival_time()
        self.prompt_tokens = prompt_tokens
        self.usage = usage
        self.handle: asyncio.TimerHandle | None = None

    def due(self, k: int) -> float:
        cfg = self.proto.cfg
        return self.arrival + cfg.ttft_s + (k - 1) * cfg.itl_s

    def start(self) -> None:
        self.handle = self.proto.loop.call_at(self.due(1), self.tick)

    def tick(self) -> None:
        proto, stats = self.proto, self.proto.stats
        now = proto.loop.time()
        self.k += 1
        k, n = self.k, self.n
        stats.lateness_s.append(now - self.due(k))
        if proto.cfg.itl_s <= 0:
            proto.write(self.events.whole(self.prompt_tokens, n, self.usage))
            stats.tokens_sent += n
            self.finish()
            return
        if k == n:
            head = self.events.role if n == 1 else b""
            proto.write(head + self.events.tail(self.prompt_tokens, n, self.usage))
            stats.tokens_sent += 1
            self.finish()
            return
        proto.write(self.events.first if k == 1 else self.events.token)
        stats.tokens_sent += 1
        self.handle = proto.loop.call_at(self.due(k + 1), self.tick)

    def finish(self) -> None:
        self.handle = None
        self.proto.stats.requests_done += 1
        self.proto.stats.active -= 1
        self.proto.stream = None

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
            self.proto.stats.active -= 1


class HttpProtocol(asyncio.Protocol):
    def __init__(self, cfg: Config, stats: Stats, chat: Events, text: Events) -> None:
        self.cfg, self.stats, self.chat, self.text = cfg, stats, chat, text
        self.loop = asyncio.get_running_loop()
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.stream: Stream | None = None
        self.sock: socket.socket | None = None  # our own reader of the connection, for its receive stamps
        self.rx_wall_s: float | None = None  # receive stamp of the last bytes read
        self.head_rx_wall_s: float | None = None  # receive stamp of the first bytes of the request in the buffer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if SO_TIMESTAMPNS is None or transport.get_extra_info("sockname") is None:
            return
        try:  # read the connection ourselves with recvmsg (the transport's reader drops the stamps)
            fd = transport.get_extra_info("socket").fileno()
            sock = socket.socket(fileno=os.dup(fd))
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            sock.setblocking(False)
        except OSError:
            return
        transport.pause_reading()
        self.sock = sock
        self.loop.add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        assert self.sock is not None
        try:
            data, ancillary, _, _ = self.sock.recvmsg(65536, ANCILLARY_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data, ancillary = b"", []
        if not data:
            if self.transport is not None:
                self.transport.close()
            self._drop_reader()
            return
        self.rx_wall_s = received_wall_s(ancillary)
        if not self.buffer:
            self.head_rx_wall_s = self.rx_wall_s
        self.data_received(data)

    def arrival_time(self) -> float:
        """Loop time at which the request being handled began to reach the machine (the receive stamp of its
        first bytes): a client stamps its send before the first byte, so a long body's upload is inside both
        clocks' TTFT and a client's error is not confused with the time a 500 KB body takes to travel."""
        now = self.loop.time()
        if self.rx_wall_s is None or self.head_rx_wall_s is None:
            return now
        wall_s = time.time()
        self.stats.read_lag_s.append(max(0.0, wall_s - self.rx_wall_s))
        self.stats.upload_s.append(max(0.0, self.rx_wall_s - self.head_rx_wall_s))
        return now - max(0.0, wall_s - self.head_rx_wall_s)

    def _drop_reader(self) -> None:
        if self.sock is not None:
            self.loop.remove_reader(self.sock.fileno())
            self.sock.close()
            self.sock = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._drop_reader()
        if self.stream is not None:
            self.stream.cancel()
            self.stream = None
        self.transport = None

    def write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1")
            lines = head.split("\r\n")
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            body = self.buffer[head_end + 4 : end]
            self.buffer = self.buffer[end:]
            method, path = (lines[0].split(" ") + ["", ""])[:2]
            self.handle(method, path, body)

    def handle(self, method: str, path: str, body: bytes) -> None:
        route = path.split("?", 1)[0]
        if method == "POST" and route in ("/v1/chat/completions", "/v1/completions"):
            self.completion(body, chat=route == "/v1/chat/completions")
        elif route == "/v1/models":
            card = {"id": self.cfg.model, "object": "model", "created": 0, "owned_by": "fake", "max_model_len": 65536}
            self.json_response({"object": "list", "data": [card]})
        elif route in ("/health", "/ping"):
            self.json_response({})
        elif route == "/stats":
            self.json_response(self.stats.snapshot(reset="reset=1" in path, late_stats="counters=1" not in path,
                                                   hist="hist=1" in path))
        else:
            self.json_response({"error": {"message": f"no route {route}"}}, status=b"404 Not Found")

    def json_response(self, obj: Any, status: bytes = b"200 OK") -> None:
        data = json.dumps(obj).encode()
        self.write(
            b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(data)).encode() + b"\r\n\r\n" + data
        )

    def completion(self, body: bytes, chat: bool) -> None:
        try:
            req = json.loads(body)
        except ValueError:
            self.json_response({"error": {"message": "invalid JSON"}}, status=b"400 Bad Request")
            return
        n = int(req.get("max_completion_tokens") or req.get("max_tokens") or self.cfg.tokens)
        usage = bool((req.get("stream_options") or {}).get("include_usage", False))
        prompt_tokens = max(1, len(body) // 4)
        self.stats.requests_started += 1
        self.stats.active += 1
        self.write(HEADERS_SSE)
        self.stream = Stream(self, self.chat if chat else self.text, max(1, n), prompt_tokens, usage)
        self.stream.start()


def stamp_from_the_start(server: asyncio.Server) -> None:
    """Receive stamps on the listening sockets: accepted connections inherit them, so a request sent at once
    after connecting is stamped too (set per connection, packets that came before the option had none)."""
    if SO_TIMESTAMPNS is None:
        return
    for sock in server.sockets:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)


async def serve(cfg: Config, host: str, port: int, stats_port: int | None = None) -> None:
    loop = asyncio.get_running_loop()
    stats = Stats()
    chat, text = Events(cfg, chat=True), Events(cfg, chat=False)

    def protocol() -> HttpProtocol:
        return HttpProtocol(cfg, stats, chat, text)

    shared = stats_port is not None
    server = await loop.create_server(protocol, host, port, backlog=4096, reuse_port=shared or None)
    stamp_from_the_start(server)
    if stats_port is not None:
        await loop.create_server(protocol, host, stats_port)
    print(f"fake server on http://{host}:{port} ttft {cfg.ttft_s * 1000:g} ms itl {cfg.itl_s * 1000:g} ms"
          + (f" (worker stats on :{stats_port})" if shared else ""), flush=True)
    async with server:
        await server.serve_forever()


def run_loop(cfg: Config, host: str, port: int, stats_port: int | None = None) -> None:
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
    try:
        loop.run_until_complete(serve(cfg, host, port, stats_port))
    except KeyboardInterrupt:
        pass
    finally:
        loop.close()


def run_workers(cfg: Config, host: str, port: int, stats_ports: list[int]) -> None:
    """Fork a server per stats port, all on one SO_REUSEPORT port; ends them all on SIGTERM/SIGINT."""
    children = []
    for stats_port in stats_ports:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
            run_loop(cfg, host, port, stats_port=stats_port)
            os._exit(0)
        children.append(pid)

    def stop(*_: Any) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        os.waitpid(child, 0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8600)
    p.add_argument("--ttft-ms", type=float, default=100.0)
    p.add_argument("--itl-ms", type=float, default=20.0)
    p.add_argument("--tokens", type=int, default=64, help="tokens per stream when the request sets no max_tokens")
    p.add_argument("--model", default="fake")
    p.add_argument("--workers", type=int, default=1, help="processes sharing the port (stats on port+1+i)")
    p.add_argument("--stats-ports", type=lambda s: [int(x) for x in s.split(",")], default=None,
                   help="each worker's stats port, comma-separated (instead of port+1+i, which may be taken)")
    args = p.parse_args()
    cfg = Config(args.ttft_ms / 1000.0, args.itl_ms / 1000.0, args.tokens, args.model)
    if args.workers > 1:
        stats_ports = args.stats_ports or [args.port + 1 + i for i in range(args.workers)]
        if len(stats_ports) != args.workers:
            p.error(f"--stats-ports names {len(stats_ports)} ports for {args.workers} workers")
        run_workers(cfg, args.host, args.port, stats_ports)
    else:
        run_loop(cfg, args.host, args.port)


if __name__ == "__main__":
    main()
