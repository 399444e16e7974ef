"""Your own locustfile on real vLLM (CPU build, the tiny model, max-num-seqs 4): two user classes of weights 3 and
1 sending alike requests, run through `llmload run --locustfile` with 4 users, give records of both names in
that ratio (±15%: 3 users of one class, 1 of the other, each as fast as the other) with vLLM's own token counts,
and summary.json's per-name statistics (`steps[].by_name`, issue 16 §5) for both."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from llmload.cpus import format_cpu_list, generator_cpus_beside
from llmload.serve.demo import raise_priority
from llmload.serve.launcher import EngineServer

REPO = Path(__file__).resolve().parents[2]
OUTPUT_TOKENS = 8
LOCUSTFILE = f'''
from locust import task
from llmload import LlmUser

MESSAGES = [{{"role": "user", "content": "Write one sentence about the sea."}}]


class Chat(LlmUser):
    weight = 3

    @task
    def ask(self):
        self.chat(MESSAGES, name="chat", max_tokens={OUTPUT_TOKENS}, ignore_eos=True)


class Rag(LlmUser):
    weight = 1

    @task
    def ask(self):
        self.chat(MESSAGES, name="rag", max_tokens={OUTPUT_TOKENS}, ignore_eos=True)
'''


@pytest.fixture(scope="module")
def two_class_run(vllm_server: EngineServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One 20 s step of 4 users (the server's max-num-seqs: nobody queues behind another class)."""
    work = tmp_path_factory.mktemp("locustfile")
    (work / "two_classes.py").write_text(LOCUSTFILE)
    cpus = generator_cpus_beside(vllm_server.cpus)
    argv = ["run", "--locustfile", str(work / "two_classes.py"), "--host", vllm_server.base_url, "--users", "4",
            "--step-duration", "20s", "--warmup", "2", "--out", str(work / "run"),
            *(["--cpus", format_cpu_list(cpus)] if cpus else [])]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "llmload.cli", *argv], cwd=REPO, capture_output=True, text=True, timeout=300,
        check=False, preexec_fn=raise_priority,  # the generator shares 2 cores with vLLM
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return work / "run"


def records_of(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]


def test_two_classes_give_records_in_their_weight_ratio(two_class_run: Path) -> None:
    records = records_of(two_class_run)
    assert records and all(r["ok"] for r in records), {r["error"] for r in records}
    names = Counter(r["name"] for r in records)
    assert set(names) == {"chat", "rag"}
    assert abs(names["chat"] / names["rag"] - 3.0) <= 0.15 * 3.0, names
    assert all(r["output_tokens"] == OUTPUT_TOKENS and r["token_source"] == "usage" for r in records)
    assert len({r["prompt_tokens"] for r in records}) == 1  # alike requests, by vLLM's own count


def test_the_summary_has_statistics_per_name(two_class_run: Path) -> None:
    step = json.loads((two_class_run / "summary.json").read_text())["steps"][0]
    by_name = step["by_name"]
    assert set(by_name) == {"chat", "rag"}
    assert by_name["chat"]["requests_ok"] > by_name["rag"]["requests_ok"] > 0
    assert all(stats["ttft_s"]["p50"] > 0 and stats["output_tokens_per_s"] > 0 for stats in by_name.values())
