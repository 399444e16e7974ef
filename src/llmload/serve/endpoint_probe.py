"""``llmload probe --host URL``: what the seed's Postman collection and curl checked, as one table.

GET /v1/models, one streamed chat completion (TTFT, E2E, tokens from ``usage``), POST /tokenize,
GET /metrics (how many ``vllm:`` series) and GET /version, each with its timing. Blocking and sequential;
only /v1/models decides whether the target is reachable at all (``TargetUnreachable``: exit 3).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from llmload.client.blocking_http import TargetUnreachable, get_json, http_get
from llmload.telemetry.metrics_sampler import count_vllm_series

PROBE_PROMPT = "请列出评论中的车牌号：今天在路口看到粤B12345闯红灯"
# transformers serve answers /v1/models with its Hugging Face cache (HTTP 500 without one)
NO_MODEL_LIST_HINT = ": no model list; give --model NAME (transformers serve: the model's path)"


@dataclass(frozen=True, slots=True)
class ProbeResult:
    check: str
    ok: bool
    elapsed_s: float
    detail: str


def _headers(api_key: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


def _timed(check: str, action: Callable[[], tuple[bool, str]]) -> ProbeResult:
    start = time.perf_counter()
    try:
        ok, detail = action()
    except TargetUnreachable as exc:
        ok, detail = False, str(exc)
    except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return ProbeResult(check, ok, time.perf_counter() - start, detail)


def _stream_events(resp: Any) -> Any:
    for raw in resp:
        line = raw.decode("utf-8", errors="replace").strip()
        if line.startswith("data: ") and line != "data: [DONE]":
            yield json.loads(line[len("data: ") :])


def stream_chat(base: str, model: str, api_key: str | None, max_tokens: int, timeout_s: float) -> tuple[bool, str]:
    """One streamed chat completion; detail carries TTFT, E2E, tokens and the first words of the answer."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": PROBE_PROMPT}],
        "max_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    request = urllib.request.Request(
        base + "/v1/chat/completions", json.dumps(body).encode(), _headers(api_key)
    )
    sent = time.perf_counter()
    first: float | None = None
    last = sent
    usage: dict[str, Any] = {}
    text: list[str] = []
    with urllib.request.urlopen(request, timeout=timeout_s) as resp:  # noqa: S310 - user-given target
        for event in _stream_events(resp):
            usage = event.get("usage") or usage
            for choice in event.get("choices") or []:
                delta = choice.get("delta") or {}
                piece = delta.get("content") or delta.get("reasoning_content") or delta.get("reasoning")
                if piece:
                    first = first if first is not None else time.perf_counter()
                    last = time.perf_counter()
                    text.append(piece)
    if first is None:
        return False, "no content-bearing chunk in the stream"
    answer = "".join(text).replace("\n", " ")[:40]
    return True, (
        f"TTFT {(first - sent) * 1000:.0f} ms, E2E {(last - sent) * 1000:.0f} ms, "
        f"prompt {usage.get('prompt_tokens', '?')} / completion {usage.get('completion_tokens', '?')} tokens"
        f" (usage {'yes' if usage else 'missing'}): {answer!r}"
    )


def _tokenize(base: str, model: str, api_key: str | None, timeout_s: float) -> tuple[bool, str]:
    body = json.dumps({"model": model, "prompt": PROBE_PROMPT}).encode()
    request = urllib.request.Request(base + "/tokenize", body, _headers(api_key))
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp:  # noqa: S310 - user-given target
            data = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return False, f"HTTP {exc.code}"
    count = data.get("count", len(data.get("tokens") or []))
    return True, f"{count} tokens for the {len(PROBE_PROMPT)}-character probe prompt"


def _metrics(base: str, api_key: str | None, timeout_s: float) -> tuple[bool, str]:
    status, body = http_get(base + "/metrics", timeout_s, api_key)
    if status != 200:
        return False, f"HTTP {status}"
    series = count_vllm_series(body.decode("utf-8", errors="replace"))
    return series > 0, f"{series} vllm: series ({len(body)} bytes)"


def _version(base: str, api_key: str | None, timeout_s: float) -> tuple[bool, str]:
    status, data = get_json(base + "/version", timeout_s, api_key)
    if status != 200 or not isinstance(data, dict):
        return False, f"HTTP {status}"
    return True, f"version {data.get('version')}"


def probe_server(
    host: str, model: str = "", api_key: str | None = None, max_tokens: int = 16, timeout_s: float = 60.0
) -> list[ProbeResult]:
    """Every check in order. Raises TargetUnreachable when /v1/models cannot be reached at all."""
    base = host.rstrip("/")
    start = time.perf_counter()
    status, data = get_json(base + "/v1/models", min(timeout_s, 10.0), api_key)  # raises TargetUnreachable
    models = [str(m["id"]) for m in (data or {}).get("data", []) if isinstance(m, dict) and m.get("id")]
    ok = status == 200 and bool(models)
    detail = ", ".join(models) or f"HTTP {status}"
    if not models and not model:
        detail += NO_MODEL_LIST_HINT
    results = [ProbeResult("models", ok, time.perf_counter() - start, detail)]
    model = model or (models[0] if models else "")
    results.append(_timed("chat (stream)", lambda: stream_chat(base, model, api_key, max_tokens, timeout_s)))
    results.append(_timed("tokenize", lambda: _tokenize(base, model, api_key, timeout_s)))
    results.append(_timed("metrics", lambda: _metrics(base, api_key, timeout_s)))
    results.append(_timed("version", lambda: _version(base, api_key, timeout_s)))
    return results


def format_probe(host: str, results: list[ProbeResult]) -> str:
    width = max(len(r.check) for r in results)
    lines = [f"probe {host}", f"{'check':<{width}}  ok    time      detail"]
    for r in results:
        lines.append(f"{r.check:<{width}}  {'ok' if r.ok else 'FAIL':<4}  {r.elapsed_s * 1000:6.0f} ms  {r.detail}")
    passed = sum(r.ok for r in results)
    lines.append(f"{passed}/{len(results)} checks passed")
    return "\n".join(lines)
