"""The time split end to end against the simulator: its /metrics phase histograms, sampled during `llmload
run` and split per step by the report, equal the scheduler's own per-request truth (GET /llmload/sim/requests)
for the requests observed between the scrapes that bound each step's window."""

from __future__ import annotations

import json
import statistics
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from simulator import llmload, simulator, summary

from llmload.records import read_steps

pytestmark = pytest.mark.alone  # run with no other test beside it: it compares the split with the simulator's scheduler to the millisecond

SCALE = 2.0  # the simulator runs at twice the profile's speed: the report scales its seconds back


def sim_truth(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(url + "/llmload/sim/requests", timeout=10) as response:
        data: list[dict[str, Any]] = json.loads(response.read())
    return data


def queue_counts(run_dir: Path) -> dict[float, float]:
    """The queue histogram's _count per scrape, keyed by the scrape's time as the report places it."""
    t0 = read_steps(run_dir / "steps.jsonl")[0].start_s
    lines = [json.loads(line) for line in (run_dir / "server_metrics.jsonl").read_text().splitlines()]
    name = "vllm:request_queue_time_seconds_count"
    return {(line["t_s"] - t0) * SCALE: line["value"] for line in lines if line["name"] == name}


def test_split_equals_the_simulators_scheduler(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    with simulator("max-seqs-8", tmp_path, time_scale=SCALE) as url:
        result = llmload(
            "run", "--host", url, "--users", "4,12", "--step-duration", "8s", "--max-tokens", "32",
            "--ignore-eos", "--batch-size", "5", "--metrics-interval", "500ms", "--out", str(run_dir),
        )  # fmt: skip
        truth = sim_truth(url)
    assert result.returncode == 0, result.stderr[-2000:]
    counts = queue_counts(run_dir)
    s = summary(run_dir)
    assert s["time_split"]["available"] is True
    assert s["time_split"]["metrics"]["queue_s"] == "vllm:request_queue_time_seconds"
    for step in s["steps"]:
        split = step["time_split"]
        lo, hi = split["span_s"]
        counted = [r for r in truth if counts[lo] < r["ordinal"] <= counts[hi]]  # exactly the histograms' gain
        assert split["server_requests"] == len(counted) > 20
        # the client's requests that ended between the same scrapes: a batch finishing as a scrape is taken
        # may fall on either side on the two clocks (8 slots: at most 8 requests)
        assert abs(split["client_requests"] - split["server_requests"]) <= 8
        for phase in ("queue_s", "prefill_s", "decode_s"):
            expected = statistics.fmean(r[phase] for r in counted)
            print(f"users {step['users']} {phase}: split {split[phase]['mean']:.5f} truth {expected:.5f}")
            assert split[phase]["mean"] == pytest.approx(expected, rel=0.02), (step["users"], phase)
        remainder = split["ttft_remainder_s"]
        print(f"users {step['users']}: TTFT remainder {remainder * 1000:.2f} ms, share {split['queue_share_of_ttft']:.3f}")
        assert 0.0 < remainder < 0.05 * SCALE  # loopback HTTP and the client: a few ms of wall time
    by_users = {step["users"]: step["time_split"] for step in s["steps"]}
    # 4 users, 8 slots: a request waits only for the decode step under way to end (10 ms + 1 ms x batch)
    assert by_users[4]["queue_s"]["mean"] < 0.015
    assert by_users[12]["queue_share_of_ttft"] > 0.5  # 12 users, 8 slots: 4 wait about a whole request
    assert s["time_split"]["why_here"].startswith("from 12 users on, requests wait for a slot: max-num-seqs 8")
