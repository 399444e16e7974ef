"""Predicted KV-bound concurrency from hardware facts (hand-computed)."""

from __future__ import annotations

import pytest

from llmload.capacity.hardware import load_hardware
from llmload.capacity.kv import kv_concurrency, workload_tokens
from llmload.sim.sim_profile import load_profile


def test_seed_hardware_gives_the_simulators_configured_budget() -> None:
    tokens, source = load_hardware("seed-2x4090").kv_tokens()
    # (24 GiB x 2 x 0.85 - 19 - 6.5) = 15.3 GiB = 15.3 x 4096 tokens of 256 KiB = 62668.8
    assert tokens == 62668
    assert tokens == load_profile("qwen3-32b-awq-2x4090").kv_budget_tokens
    assert "utilization" in source


def test_seed_request_mix_predicts_31_users() -> None:
    pred = kv_concurrency(62668, 1342, 1263, max_num_seqs=64)
    assert pred["tokens_per_request_mean"] == 1973.5
    assert pred["users_mean"] == pytest.approx(31.754, abs=1e-3)
    assert pred["users_full"] == pytest.approx(24.057, abs=1e-3)
    assert (pred["predicted_users"], pred["binding"]) == (31, "kv_cache")


def test_kv12_profile_and_max_num_seqs_binding() -> None:
    profile = load_profile("kv-12")
    assert profile.kv_budget_tokens is not None
    assert kv_concurrency(profile.kv_budget_tokens, profile.workload_prompt_tokens, 64, profile.max_num_seqs)["predicted_users"] == 13
    assert kv_concurrency(100_000, 100, 100, 8)[("binding")] == "max_num_seqs"
    with pytest.raises(ValueError):
        kv_concurrency(0, 1, 1)


def test_workload_tokens_weighted_by_requests() -> None:
    steps = [(10, 100.0, 50.0), (30, 200.0, 10.0), (0, None, None)]  # requests_ok, mean prompt/output tokens
    assert workload_tokens(steps) == (175.0, 20.0)
    assert workload_tokens([]) is None
