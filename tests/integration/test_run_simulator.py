"""`llmload run` end to end against the simulator: Locust headless, records, steps, knee."""

from __future__ import annotations

import json
from pathlib import Path

from simulator import llmload, simulator, summary


def test_knee_is_max_num_seqs_when_slots_are_the_only_limit(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    with simulator("max-seqs-8", tmp_path) as url:
        result = llmload(
            "run",
            "--host",
            url,
            "--users",
            "2,4,6,7,8,9,10,12",
            "--step-duration",
            "7s",  # ~70 completions in a steady window: one more or less moves throughput 1.4% (< 2% tolerance)
            "--max-tokens",
            "32",
            "--ignore-eos",
            "--batch-size",
            "5",
            "--out",
            str(run_dir),
        )
    assert result.returncode == 0, result.stderr[-2000:]
    s = summary(run_dir)
    assert s["knee"]["users"] == 8
    assert s["limit"]["users"] >= 9
    # one progress line per step, then the verdict
    assert result.stdout.count("step ") >= 8
    assert "optimal concurrency" in result.stdout
    # the raw facts: every record has exact token counts from usage (ignore_eos)
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    assert len(records) == s["requests"]["total"] > 100
    assert {r["output_tokens"] for r in records if r["ok"]} == {32}
    assert all(r["token_source"] == "usage" for r in records if r["ok"])
    # JMeter's Connect and bytes: each user opened its connection once and kept it alive
    opened = [r for r in records if r["connect_s"] is not None]
    assert len({r["user_id"] for r in records}) <= len(opened) < len(records) / 5
    assert all(r["send_s"] <= r["connect_s"] <= r["headers_s"] for r in opened)
    assert all(r["response_bytes"] > 32 for r in records if r["ok"])  # at least a byte per token
    steps = [json.loads(line) for line in (run_dir / "steps.jsonl").read_text().splitlines()]
    assert [st["users"] for st in steps if st.get("end_s")] == [2, 4, 6, 7, 8, 9, 10, 12]
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["target"]["simulated"] is True and meta["options"]["model"] == "sim/max-seqs-8"
    for name in ("report.html", "steps.csv", "generator.jsonl"):
        assert (run_dir / name).exists(), name


def test_kv_budget_binding_at_about_12_gives_a_knee_near_12(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    with simulator("kv-12", tmp_path) as url:
        result = llmload(
            "run",
            "--host",
            url,
            "--users",
            "4,8,10,11,12,13,14,16",
            "--step-duration",
            "10s",  # 5 s steps (a 3.75 s window, ~10 closed-loop cycles per user) read 10 users 1% off the peak
            "--batch-size",
            "5",  # ~135 prompt tokens: the profile's KV budget is sized for this workload
            # below 13 users a few requests wait only for the next engine step (the users' requests come
            # together): 0.0-0.45 waiting on average at 4-12 users, 0.9-3.5 at 13-16, the queue rule's
            # threshold 0.5; the default 1 s scrapes (7 a step) once read 11 as queued and gave a knee of
            # 10; 4 a second (~30 a step) halve that noise
            "--metrics-interval",
            "0.25",
            "--out",
            str(run_dir),
        )
    assert result.returncode == 0, result.stderr[-2000:]
    assert abs(summary(run_dir)["knee"]["users"] - 12) <= 1


def test_seed_profile_reproduces_the_white_paper_knee(tmp_path: Path) -> None:
    """The seed deployment, simulated at 100x: optimum 29 +- 3 users, limit 30-34 (JMeter: 29 and 32).

    Throughput peaks at 27-28 users and rises gently before (26 users: 2-3% below the peak), so the rule's
    2% plateau tolerance picks 27 on this machine and 26 on a slower one (CI once measured 26 at 0.670 req/s).
    """
    run_dir = tmp_path / "run"
    result = llmload(
        "demo", "--users", "1,10,20,24:36:1", "--step-duration", "4s", "--time-scale", "100", "--out", str(run_dir),
        timeout_s=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    s = summary(run_dir)
    assert 26 <= s["knee"]["users"] <= 32, s["knee"]
    assert 30 <= s["limit"]["users"] <= 34, s["limit"]
    assert 35.0 <= s["knee"]["e2e_p50_s"] <= 50.0  # the seed: 42 s at the optimum
    assert s["target"]["simulated"] and s["target"]["time_scale"] == 100.0
    assert s["accuracy"]["recall"] == 1.0 and s["accuracy"]["precision"] == 1.0


def test_unreachable_target_fails_fast_with_exit_3(tmp_path: Path) -> None:
    result = llmload(
        "run",
        "--host",
        "http://127.0.0.1:9",
        "--users",
        "1",
        "--step-duration",
        "1s",
        "--out",
        str(tmp_path / "r"),
    )
    assert result.returncode == 3
    assert "unreachable" in result.stderr
    assert not (tmp_path / "r" / "records.jsonl").exists()
