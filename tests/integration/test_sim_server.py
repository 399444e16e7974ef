"""The simulated vLLM server on an ephemeral loopback port (server in a background thread)."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from llmload.sim.app import SimServer, start_sim_server
from llmload.sim.sim_profile import load_profile


@contextmanager
def sim_server(profile: str, time_scale: float | None = None) -> Iterator[int]:
    loop = asyncio.new_event_loop()
    box: dict[str, SimServer] = {}
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        box["s"] = loop.run_until_complete(start_sim_server(load_profile(profile), port=0, time_scale=time_scale))
        ready.set()
        loop.run_forever()
        loop.run_until_complete(box["s"].close())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield box["s"].port
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def request(port: int, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=None if body is None else json.dumps(body),
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def chat(model: str, max_tokens: int, stream: bool = True, text: str = "看到京A12345了") -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], "stream": stream,
            "max_tokens": max_tokens, "ignore_eos": True, "stream_options": {"include_usage": True}}


def stream_chunks(port: int, body: dict[str, Any]) -> list[tuple[float, bytes]]:
    """(seconds since the request was sent, SSE data line) for every event."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    t0 = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200
    out = []
    while line := resp.readline():
        if line.startswith(b"data: "):
            out.append((time.perf_counter() - t0, line[6:].strip()))
    conn.close()
    return out


def test_streamed_response_usage_done_and_errors() -> None:
    with sim_server("tiny") as port:
        events = stream_chunks(port, chat("sim/tiny", 40))
        assert events[-1][1] == b"[DONE]"
        chunks = [json.loads(data) for _, data in events[:-1]]
        assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
        content = [c for c in chunks if c["choices"] and "content" in c["choices"][0]["delta"]][1:]
        assert content[-1]["choices"][0]["finish_reason"] == "length"
        assert all(c["choices"][0]["finish_reason"] is None for c in content[:-1])
        text = "".join(c["choices"][0]["delta"]["content"] for c in content)
        assert text.startswith("<think>") and text.endswith("1. 京A12345\n")
        usage = chunks[-1]
        assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == 40
        assert usage["usage"]["total_tokens"] == usage["usage"]["prompt_tokens"] + 40

        status, body = request(port, "POST", "/v1/chat/completions", chat("other-model", 5))
        assert status == 404 and "does not exist" in json.loads(body)["error"]["message"]
        status, body = request(port, "POST", "/v1/chat/completions", chat("sim/tiny", 7, stream=False))
        assert status == 200 and json.loads(body)["usage"]["completion_tokens"] == 7
        status, body = request(port, "GET", "/llmload/sim")
        info = json.loads(body)
        assert info["simulated"] is True and info["profile"] == "tiny" and info["time_scale"] == 10.0
        assert request(port, "GET", "/health")[0] == 200
        assert json.loads(request(port, "GET", "/v1/models")[1])["data"][0]["id"] == "sim/tiny"
        assert json.loads(request(port, "POST", "/tokenize", {"prompt": "abcdefghij"})[1])["count"] == 3  # 10 ASCII x 0.3, no chat template


def metric_values(port: int) -> dict[str, float]:
    status, body = request(port, "GET", "/metrics")
    assert status == 200
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            values.setdefault(sample.name, sample.value)
    return values


def test_metrics_show_running_and_waiting() -> None:
    with sim_server("max-seqs-8", time_scale=1.0) as port, ThreadPoolExecutor(10) as pool:
        futures = [pool.submit(request, port, "POST", "/v1/chat/completions", chat("sim/max-seqs-8", 80, False))
                   for _ in range(10)]
        time.sleep(0.4)
        during = metric_values(port)
        assert during["vllm:num_requests_running"] == 8
        assert during["vllm:num_requests_waiting"] == 2
        assert all(f.result()[0] == 200 for f in futures)
        after = metric_values(port)
        assert after["vllm:generation_tokens_total"] == 800
        assert after["vllm:num_requests_running"] == 0
        assert after["vllm:e2e_request_latency_seconds_count"] == 10
        assert "vllm:cache_config_info" in after and "vllm:num_preemptions_total" in after


def test_fixed_profile_ttft_and_itl() -> None:
    with sim_server("fixed-100ms-20ms") as port:
        stream_chunks(port, chat("sim/fixed", 2))  # warm the connection path
        events = stream_chunks(port, chat("sim/fixed", 20))
        content_times = [t for t, data in events if b'"content":"' in data and b'"role"' not in data]
        assert abs(content_times[0] - 0.100) < 0.005
        assert abs(content_times[-1] - (0.100 + 19 * 0.020)) < 0.005
