"""Server telemetry end to end against the simulator: sampled during `llmload run`, reduced per step,
standalone `llmload telemetry` merged into a run with `llmload report --telemetry`."""

from __future__ import annotations

import json
from pathlib import Path

from simulator import llmload, simulator, summary


def test_run_samples_metrics_and_shows_waiting_only_past_max_num_seqs(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    with simulator("max-seqs-8", tmp_path) as url:
        result = llmload(
            "run", "--host", url, "--users", "4,8,12", "--step-duration", "4s", "--max-tokens", "32",
            "--ignore-eos", "--batch-size", "5", "--metrics-interval", "500ms", "--out", str(run_dir),
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(line) for line in (run_dir / "server_metrics.jsonl").read_text().splitlines()]
    names = {line["name"] for line in lines}
    assert {"vllm:num_requests_waiting", "vllm:num_requests_running", "vllm:kv_cache_usage_perc",
            "vllm:num_preemptions_total", "vllm:time_to_first_token_seconds_bucket"} <= names  # fmt: skip
    scrapes = sorted({line["t_s"] for line in lines})
    assert len(scrapes) >= 18  # 12 s of load at 2 scrapes/s, plus discovery and the tail
    assert 0.4 < (scrapes[-1] - scrapes[0]) / (len(scrapes) - 1) < 0.7
    steps = {s["users"]: s["server"] for s in summary(run_dir)["steps"]}
    # at or below 8 users a scrape may catch a wave of new arrivals before the engine admits them
    assert steps[4]["waiting_mean"] < 1.0 and steps[8]["waiting_mean"] < 1.0
    assert steps[12]["waiting_mean"] > 3.0  # 12 users, 8 slots: 4 wait
    assert steps[4]["running_max"] == 4.0 and steps[12]["running_mean"] == 8.0
    assert steps[12]["preemptions"] == 0.0


def test_metrics_interval_zero_turns_sampling_off(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    with simulator("max-seqs-8", tmp_path) as url:
        result = llmload(
            "run", "--host", url, "--users", "2", "--step-duration", "2s", "--max-tokens", "8",
            "--ignore-eos", "--batch-size", "2", "--metrics-interval", "0", "--out", str(run_dir),
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert not (run_dir / "server_metrics.jsonl").exists()
    assert summary(run_dir)["steps"][0]["server"] is None


def test_standalone_telemetry_merges_into_a_run(tmp_path: Path) -> None:
    run_dir, tele_dir = tmp_path / "run", tmp_path / "tele"
    with simulator("max-seqs-8", tmp_path) as url:
        tele = llmload("telemetry", "--out", str(tele_dir), "--host", url, "--interval", "250ms", "--duration", "2s")
        run = llmload(
            "run", "--host", url, "--users", "2", "--step-duration", "2s", "--max-tokens", "8",
            "--ignore-eos", "--batch-size", "2", "--metrics-interval", "0", "--out", str(run_dir),
        )  # fmt: skip
    assert tele.returncode == 0, tele.stderr[-2000:]
    assert run.returncode == 0, run.stderr[-2000:]
    ticks = {json.loads(line)["t_s"] for line in (tele_dir / "server_metrics.jsonl").read_text().splitlines()}
    assert 7 <= len(ticks) <= 9  # 2 s at 4 per second
    assert "8 ticks" in tele.stdout or "9 ticks" in tele.stdout or "7 ticks" in tele.stdout
    merged = llmload("report", str(run_dir), "--telemetry", str(tele_dir))
    assert merged.returncode == 0, merged.stderr[-2000:]
    assert "lines into server_metrics.jsonl" in merged.stdout
    assert (run_dir / "server_metrics.jsonl").read_text() == (tele_dir / "server_metrics.jsonl").read_text()
    bad = llmload("report", str(run_dir), "--telemetry", str(tmp_path / "nowhere"))
    assert bad.returncode == 2 and "holds neither" in bad.stderr


def test_telemetry_without_host_or_gpu_samples_nothing_and_exits_0(tmp_path: Path) -> None:
    result = llmload("telemetry", "--out", str(tmp_path / "t"), "--duration", "1s")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "0 server samples, 0 GPU samples" in result.stdout
