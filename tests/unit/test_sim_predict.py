"""Closed-loop predictions of the shipped profiles (the calibration targets)."""

from __future__ import annotations

from llmload.sim.predict import predict_closed_loop
from llmload.sim.sim_profile import load_profile


def test_max_seqs_8_flat_past_8_and_rising_before() -> None:
    steps = {s.users: s for s in predict_closed_loop(load_profile("max-seqs-8"), [2, 4, 8, 9, 12, 16], 60.0)}
    rps = {u: s.throughput_rps for u, s in steps.items()}
    assert rps[2] < rps[4] < rps[8]
    for users in (9, 12, 16):
        assert abs(rps[users] / rps[8] - 1) < 0.02
        assert steps[users].mean_waiting > 0.9 * (users - 8)
    assert steps[16].preemptions == 0


def test_kv_12_throughput_peaks_at_11_to_13() -> None:
    levels = [8, 10, 11, 12, 13, 14, 16]
    steps = predict_closed_loop(load_profile("kv-12"), levels, 60.0)
    best = max(steps, key=lambda s: s.throughput_rps)
    assert 11 <= best.users <= 13
    by = {s.users: s for s in steps}
    assert by[10].preemptions == 0 and by[16].preemptions > 0 and by[16].mean_waiting > 1


def test_seed_profile_matches_jmeter_knee() -> None:
    levels = [28, 29, 30, 32, 33]
    by = {s.users: s for s in predict_closed_loop(load_profile("qwen3-32b-awq-2x4090"), levels, 720.0)}
    best = max(by.values(), key=lambda s: s.throughput_rps)
    assert 28 <= best.users <= 30
    assert 38.0 <= by[29].mean_response_s <= 46.0
    assert 53.0 <= by[32].mean_response_s <= 65.0
    assert all(by[u].mean_response_s >= 1.45 * by[29].mean_response_s for u in (33,))
    assert by[28].preemptions == 0 and by[32].preemptions > 0 and by[32].mean_waiting > 1
    assert by[32].mean_running < 32  # the knee is the KV cache, not max_num_seqs (64)
