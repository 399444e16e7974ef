"""Print the closed-loop prediction table of the simulator profiles (the calibration evidence).

Usage: PYTHONPATH=src python benchmarks/sim_calibration.py [--scale 1.0] [--seed 0]
Seed profile targets (JMeter on the real deployment): max throughput at ~29 users, 41.99 s mean response at
29 users, 58.81 s at 32 users, >= 1.5x the 29-user value from 33 users on, knee from the KV cache.
"""

from __future__ import annotations

import argparse
import time

from llmload.sim.predict import predict_closed_loop
from llmload.sim.sim_profile import load_profile

# profile -> (user levels, measured virtual seconds per level; the short-request profiles need less)
TABLES = {"qwen3-32b-awq-2x4090": (range(1, 41), 1800.0), "max-seqs-8": (range(1, 17), 120.0),
          "kv-12": (range(1, 25), 120.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the measured durations")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for name, (levels, duration_s) in TABLES.items():
        profile = load_profile(name)
        started = time.perf_counter()
        steps = predict_closed_loop(profile, list(levels), duration_s * args.scale, args.seed)
        print(f"\n{name}: kv_budget_tokens={profile.kv_budget_tokens} max_num_seqs={profile.max_num_seqs}"
              f" ({time.perf_counter() - started:.1f} s to compute)")
        print("users    rps  tok/s  mean_s   p50_s   p95_s  ttft_s  running  waiting  preempt")
        for s in steps:
            print(f"{s.users:5d} {s.throughput_rps:6.3f} {s.output_tokens_per_s:6.0f} {s.mean_response_s:7.2f}"
                  f" {s.p50_response_s:7.2f} {s.p95_response_s:7.2f} {s.mean_ttft_s:7.2f} {s.mean_running:8.1f}"
                  f" {s.mean_waiting:8.1f} {s.preemptions:8d}")


if __name__ == "__main__":
    main()
