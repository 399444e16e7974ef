"""Real vLLM (CPU build, tiny model, --max-num-seqs 4) with `--step-duration auto`: every step ends by the
sequential-stopping rule (both 95% intervals within the tolerance with at least 30 steady answers, or the
bound), the report reads the same window, and the run says how much server time it used."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llmload.serve.demo import demo_run_argv, raise_priority
from llmload.serve.launcher import EngineServer

REPO = Path(__file__).resolve().parents[2]
MAX_STEP_S = 90.0
TOLERANCE = 0.05


@pytest.fixture(scope="module")
def auto_run(vllm_server: EngineServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    run_dir = tmp_path_factory.mktemp("vllm-auto") / "run"
    argv = demo_run_argv(vllm_server.base_url, "2,4,6", "auto", run_dir, vllm_server.cpus)
    argv += ["--max-step-duration", f"{MAX_STEP_S:g}s"]
    done = subprocess.run(
        [sys.executable, "-m", "llmload.cli", *argv], cwd=REPO, capture_output=True, text=True, timeout=500,
        check=False, preexec_fn=raise_priority,  # the generator shares 2 cores with vLLM: give it priority
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    print(done.stdout[-2500:])
    marks = [json.loads(line) for line in (run_dir / "steps.jsonl").read_text().splitlines()]
    return {
        "summary": json.loads((run_dir / "summary.json").read_text()),
        "marks": [m for m in marks if m.get("end_s")],
        "meta": json.loads((run_dir / "meta.json").read_text()),
        "stdout": done.stdout,
    }


@pytest.mark.timeout(600)
def test_every_step_ends_by_the_rule_within_its_bound(auto_run: dict[str, Any]) -> None:
    steps = auto_run["summary"]["steps"]
    assert [s["users"] for s in steps] == [2, 4, 6]
    for step, mark in zip(steps, auto_run["marks"], strict=True):
        stop = step["stop"]
        assert mark["end_s"] - mark["start_s"] <= MAX_STEP_S + 2.0, step["users"]  # a shape tick past it
        if stop["reason"] == "converged":
            assert stop["samples"] >= 30 and stop["rps_ci_rel"] <= TOLERANCE
            assert stop["e2e_p95_ci_rel"] <= TOLERANCE
            low, high = step["e2e_s"]["ci95"]["p95"]  # the report's interval of the same window
            p95 = step["e2e_s"]["p95"]
            assert max(p95 - low, high - p95) / p95 <= TOLERANCE * 1.2
        else:
            assert stop["less_certain"] and mark["end_s"] - mark["start_s"] >= MAX_STEP_S
    assert any(s["stop"]["reason"] == "converged" for s in steps)
    assert steps[0]["warmup_s"] == 0.0 and steps[1]["warmup_s"] > 0.0  # the 2 users' answers ran across


@pytest.mark.timeout(600)
def test_past_max_num_seqs_the_server_queues_and_the_run_says_its_server_time(auto_run: dict[str, Any]) -> None:
    by_users = {s["users"]: s for s in auto_run["summary"]["steps"]}
    assert by_users[2]["server"]["waiting_mean"] < 0.25 and by_users[6]["server"]["waiting_mean"] > 0.5
    used = auto_run["meta"]["target_time"]
    assert used["time_scale"] == 1.0 and used["target_s"] == used["wall_s"] > 30.0
    assert "plan estimate: 2 more steps" in auto_run["stdout"] and "server time used:" in auto_run["stdout"]
