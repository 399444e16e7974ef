"""A hand-made run for the report tests: known knee, failures, reasoning, plates, telemetry, JMeter's
Latency/Connect/bytes, two request names, and planted markup in dataset text (batch ids, dataset path, the
second request name) and model/server text (plates found, errors)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers import T0, rec, write_run
from llmload.records import Record, StepMark

PLANT = '<script>document.title="PWNED"</script>'
OTHER_NAME = f"long {PLANT}"  # the requests of every second user: same timing, a name from the dataset
LEVELS = (1, 2, 4, 8, 12, 16)
STEP_S = 200.0
CAPACITY = 8  # E2E 10 s up to 8 users, then 10 s x users / 8: knee 8, limit 12
# past CAPACITY the extra E2E is time in the server's queue, inside TTFT; each way the network takes HOP_S
HOP_S, PREFILL_S, TTFT_FREE_S = 0.025, 0.05, 0.1
LATENCY_BUCKETS_S = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, float("inf"))


def e2e_for(users: int) -> float:
    return 10.0 if users <= CAPACITY else 10.0 * users / CAPACITY


def ttft_for(users: int) -> float:
    return TTFT_FREE_S + e2e_for(users) - e2e_for(CAPACITY)


def _extras(n: int, users: int, t_send: float, e2e: float, fresh: bool, name: str) -> dict[str, Any]:
    """`fresh`: the user's first request of the step, which opens its connection (JMeter's Connect)."""
    expected = ["京A12345"] if n % 10 == 0 else []
    found = list(expected) + ([PLANT] if n % 7 == 0 else [])
    failed = users == 16 and n % 5 == 0
    plates = {"plates_expected": expected, "plates_found": [] if failed else found, "batch_ids": [f"c{n:04d}", PLANT]}
    extra: dict[str, Any] = {
        "scenario": {"kind": "plates", **plates},
        "name": name,
        "reasoning_tokens": 4,
        "first_answer_s": T0 + t_send + ttft_for(users) + 0.4 * (e2e - ttft_for(users)),
        "headers_s": T0 + t_send + 0.02,
        "connect_s": T0 + t_send + 0.001 if fresh else None,
        "response_bytes": 2400,
    }
    if failed:
        extra.update(ok=False, error_kind="http_status", http_status=500, error=f"HTTP 500: {PLANT}")
    return extra


def records_and_steps() -> tuple[list[StepMark], list[Record]]:
    steps: list[StepMark] = []
    records: list[Record] = []
    n = 0
    for index, users in enumerate(LEVELS):
        start, end = index * STEP_S, (index + 1) * STEP_S
        steps.append(StepMark(index, users, T0 + start, T0 + end))
        e2e = e2e_for(users)
        for u in range(users):
            t = start + u * e2e / users
            while t + e2e <= end:
                extra = _extras(n, users, t, e2e, t == start + u * e2e / users, OTHER_NAME if u % 2 else "plates")
                records.append(rec(n, t, e2e, ttft=ttft_for(users), user=u, **extra))
                n += 1
                t += e2e
    return steps, records


def _server_lines() -> list[str]:
    lines = []
    preempted = 0.0
    finished = [_phases(r) for r in records_and_steps()[1] if r.ok]
    for t in range(0, int(STEP_S * len(LEVELS)), 5):
        lines += _phase_lines(t, [phases for end, phases in finished if end <= t])
        users = LEVELS[min(len(LEVELS) - 1, int(t // STEP_S))]
        preempted += 1.0 if users > CAPACITY else 0.0
        for name, value in (
            ("vllm:num_requests_running", min(users, CAPACITY)),
            ("vllm:num_requests_waiting", max(0, users - CAPACITY)),
            ("vllm:kv_cache_usage_perc", min(1.0, 0.11 * users)),
            ("vllm:num_preemptions_total", preempted),
        ):
            lines.append(
                json.dumps({"t_s": T0 + t, "name": name, "labels": {"model_name": "m"}, "value": value})
            )
    return lines


def _phases(record: Record) -> tuple[float, dict[str, float]]:
    """When the server finished a request (relative to T0) and its phases as vLLM would publish them."""
    assert record.first_token_s is not None and record.last_token_s is not None
    ttft, e2e = record.first_token_s - record.send_s, record.last_token_s - record.send_s
    queue, decode = max(0.0, ttft - TTFT_FREE_S), e2e - ttft
    return record.last_token_s - HOP_S - T0, {
        "vllm:request_queue_time_seconds": queue,
        "vllm:request_prefill_time_seconds": PREFILL_S,
        "vllm:request_decode_time_seconds": decode,
        "vllm:request_inference_time_seconds": PREFILL_S + decode,
        "vllm:e2e_request_latency_seconds": e2e - 2 * HOP_S,
    }


def _phase_lines(t: float, done: list[dict[str, float]]) -> list[str]:
    """The phase histograms of the requests the server finished by `t`: cumulative buckets, sum, count."""
    lines = []
    for name in done[0] if done else ():
        values = [phases[name] for phases in done]
        for le in LATENCY_BUCKETS_S:
            count = sum(1 for v in values if v <= le)
            labels = {"model_name": "m", "le": "+Inf" if le == float("inf") else str(le)}
            lines.append(json.dumps({"t_s": T0 + t, "name": name + "_bucket", "labels": labels, "value": count}))
        for suffix, value in (("_sum", sum(values)), ("_count", len(values))):
            lines.append(json.dumps({"t_s": T0 + t, "name": name + suffix, "labels": {"model_name": "m"}, "value": value}))
    return lines


def _gpu_lines() -> list[str]:
    lines = []
    for t in range(0, int(STEP_S * len(LEVELS)), 10):
        users = LEVELS[min(len(LEVELS) - 1, int(t // STEP_S))]
        for gpu in (0, 1):
            lines.append(
                json.dumps(
                    {
                        "t_s": T0 + t,
                        "host": "gpuhost",
                        "gpu": gpu,
                        "uuid": f"GPU-{gpu}",
                        "name": "RTX 4090",
                        "util_percent": min(100.0, 12.0 * users),
                        "mem_util_percent": 50.0,
                        "mem_used_bytes": 20 * 2**30,
                        "mem_total_bytes": 24 * 2**30,
                        "power_w": 100.0 + 20 * users,
                        "temp_c": 60.0,
                        "sm_clock_mhz": 2500.0,
                    }
                )
            )
    return lines


PLAN = {
    "schema": "llmload.plan/1",
    "hardware": {"name": "seed-2x4090", "description": "2x RTX 4090", "currency": "CNY"},
    "feasible": False,
    "why": "test plan: the SLO fails at every level",
}


def planted_run(
    run_dir: Path, slo: str = "ttft_p95<=2s,e2e_p95<=12s,error_rate<=1%", telemetry: bool = True
) -> Path:
    steps, records = records_and_steps()
    meta = {
        "options": {"model": "m", "warmup": "auto", "slo": slo},
        "dataset": {"path": f"datasets/{PLANT}.jsonl", "sha256": "ab" * 32},
        "command": ["locust", "-f", "plate_detection.py", "--run-dir", str(run_dir)],
        "llmload_version": "0.1.0",
        "git_commit": "0" * 40,
        "started_s": T0,
    }
    write_run(run_dir, steps, records, meta)
    if telemetry:
        (run_dir / "server_metrics.jsonl").write_text("\n".join(_server_lines()) + "\n")
        (run_dir / "gpu.jsonl").write_text("\n".join(_gpu_lines()) + "\n")
        (run_dir / "plan.json").write_text(json.dumps(PLAN))
    return run_dir
