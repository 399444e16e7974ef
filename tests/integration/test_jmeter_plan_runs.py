"""`llmload import jmx` end to end: each example plan's run.toml (plain, Stepping and Concurrency thread
groups, tests/fixtures/jmeter) runs with `llmload run --config` against the simulator, with the plan's
request bodies as its chat dataset. The command line shortens the plan's levels and steps (the Stepping
plan's 40 steps of 5 minutes) and points it at the simulator and its model; the rest comes from run.toml."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from simulator import llmload, simulator, summary

PLANS = Path(__file__).resolve().parents[1] / "fixtures" / "jmeter"


@pytest.mark.parametrize("plan", ["thread-group", "stepping", "concurrency"])
def test_a_converted_plan_runs_with_its_dataset(plan: str, tmp_path: Path) -> None:
    config_path = tmp_path / f"{plan}.toml"
    converted = llmload("import", "jmx", str(PLANS / f"{plan}.jmx"), "--out", str(config_path))
    assert converted.returncode == 0, converted.stderr[-2000:]
    config = tomllib.loads(config_path.read_text("utf-8"))
    assert config["dataset_format"] == "chat" and Path(config_path.parent / config["dataset"]).exists()
    bodies = len(config_path.with_name(f"{plan}.chat.jsonl").read_text("utf-8").splitlines())
    run_dir = tmp_path / "run"
    with simulator("fixed-100ms-20ms", tmp_path, time_scale=4) as url:  # the plans name the seed's model
        result = llmload("run", "--config", str(config_path), "--host", url, "--users", "1,2",
                         "--step-duration", "2s", "--max-tokens", "8", "--out", str(run_dir),
                         "--model", "sim/fixed")  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    assert records and all(r["ok"] for r in records), {r.get("error") for r in records}
    assert {r["scenario"]["kind"] for r in records} == {"chat"}
    assert {r["scenario"]["line"] for r in records} <= set(range(1, bodies + 1))
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["dataset"]["format"] == "chat"
    assert [s["users"] for s in summary(run_dir)["steps"]] == [1, 2]
