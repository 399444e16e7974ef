"""Workloads on real vLLM (CPU build, the tiny model): synthetic prompts have the asked prompt length by
vLLM's own count (usage.prompt_tokens within 2%) and exact output lengths; a chat JSONL file and a ShareGPT file
run and score their expected answers; `--endpoint completions` and `--no-stream` run. The tiny model's answers
are random text, so the expected answers are one that always matches (`re:^`) and one that never can."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from llmload.cpus import format_cpu_list, generator_cpus_beside
from llmload.serve.demo import raise_priority
from llmload.serve.launcher import EngineServer

REPO = Path(__file__).resolve().parents[2]
ALWAYS, NEVER = "re:^", "ZZZ never in a random answer QQQ"


def run(server: EngineServer, run_dir: Path, *args: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One 12 s step of 2 users; every request must succeed."""
    cpus = generator_cpus_beside(server.cpus)
    argv = ["run", "--host", server.base_url, "--users", "2", "--step-duration", "12s", "--warmup", "1",
            "--out", str(run_dir), *(["--cpus", format_cpu_list(cpus)] if cpus else []), *args]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "llmload.cli", *argv], cwd=REPO, capture_output=True, text=True, timeout=300,
        check=False, preexec_fn=raise_priority,  # the generator shares 2 cores with vLLM
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    assert records and all(r["ok"] for r in records), {r["error"] for r in records}
    return json.loads((run_dir / "summary.json").read_text()), records


def test_synthetic_prompts_have_the_asked_length_by_vllms_count(vllm_server: EngineServer, tmp_path: Path) -> None:
    spec = "synthetic:prompt_tokens=256,output_tokens=16,prompt_tokens_stdev=32,prompts=64"
    _, records = run(vllm_server, tmp_path / "run", "--dataset", spec)
    for r in records:
        asked = r["scenario"]["prompt_tokens"]
        assert abs(r["prompt_tokens"] - asked) <= 0.02 * asked, (r["prompt_tokens"], asked)
        assert r["output_tokens"] == r["scenario"]["output_tokens"] == 16
    assert len({r["scenario"]["prompt_tokens"] for r in records}) > 3
    meta = json.loads((tmp_path / "run" / "meta.json").read_text())
    assert meta["dataset"]["tokenizer"].startswith("the server's /tokenize")


def test_a_chat_jsonl_file_runs_and_scores(vllm_server: EngineServer, tmp_path: Path) -> None:
    lines = [{"messages": [{"role": "user", "content": "Say something."}], "max_tokens": 8, "name": "any",
              "expected": ALWAYS},
             {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello?"}],
              "max_tokens": 12, "name": "none", "expected": NEVER}]  # fmt: skip
    data = tmp_path / "chat.jsonl"
    data.write_text("".join(json.dumps(line) + "\n" for line in lines))
    summary, records = run(vllm_server, tmp_path / "run", "--dataset", str(data), "--ignore-eos", "--max-tokens", "8")
    assert {r["name"] for r in records} == {"any", "none"}
    assert all(r["output_tokens"] == (8 if r["name"] == "any" else 12) for r in records)
    assert all(r["scenario"]["matched"] is (r["name"] == "any") for r in records)
    expected = summary["expected"]
    assert expected["scored"] == len(records) and expected["matched"] == sum(r["name"] == "any" for r in records)
    assert 0 < summary["steps"][0]["expected"]["match_rate"] < 1


def test_a_sharegpt_file_runs_with_recorded_lengths_and_scores(vllm_server: EngineServer, tmp_path: Path) -> None:
    entries = [{"id": str(i), "expected": ALWAYS if i % 2 else NEVER,
                "conversations": [{"from": "human", "value": f"Question {i}: what is {i} plus {i}?"},
                                  {"from": "gpt", "value": "The answer is " + "quite simply " * i + str(2 * i)}]}
               for i in range(1, 5)]  # fmt: skip
    data = tmp_path / "sharegpt.json"
    data.write_text(json.dumps(entries, indent=1))
    summary, records = run(vllm_server, tmp_path / "run", "--dataset", str(data), "--recorded-output-len",
                           "--ignore-eos", "--max-tokens", "64")  # fmt: skip
    for r in records:
        assert r["output_tokens"] == r["scenario"]["recorded_output_tokens"] > 3  # vLLM's count of the answer
        assert r["scenario"]["matched"] is (int(r["scenario"]["entry"]) % 2 == 0)  # entries 1, 3 are ALWAYS
    assert summary["expected"]["scored"] == len(records)


def test_the_completions_endpoint_runs(vllm_server: EngineServer, tmp_path: Path) -> None:
    data = tmp_path / "prompts.jsonl"
    data.write_text('{"prompt": "Once upon a time"}\n{"prompt": "The capital of France is"}\n')
    summary, records = run(vllm_server, tmp_path / "run", "--dataset", str(data), "--endpoint", "completions",
                           "--max-tokens", "16", "--ignore-eos")  # fmt: skip
    assert all(r["output_tokens"] == 16 and r["first_token_s"] is not None for r in records)
    assert summary["steps"][0]["ttft_s"]["p50"] > 0 and summary["steps"][0]["tpot_s"]["p50"] > 0


def test_no_stream_runs_with_e2e_only(vllm_server: EngineServer, tmp_path: Path) -> None:
    data = tmp_path / "chat.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "Count to ten."}], "max_tokens": 16}\n')
    summary, records = run(vllm_server, tmp_path / "run", "--dataset", str(data), "--no-stream", "--ignore-eos",
                           "--max-tokens", "16")  # fmt: skip
    assert all(r["first_token_s"] is None and r["output_tokens"] == 16 and r["token_source"] == "usage"
               for r in records)  # fmt: skip
    step = summary["steps"][0]
    assert step["ttft_s"]["p50"] is None and step["tpot_s"]["p50"] is None and step["e2e_s"]["p50"] > 0
