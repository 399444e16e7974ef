"""`llmload report` at scale: synthesise N records (default 1,000,000) and time the report path.

The records look like a real run's (records.jsonl as RecordWriter writes it): 40 closed-loop steps,
~20 chunk times per request, a batch of 100 comment ids, plates expected/found, 1% failures, plus
steps.jsonl, meta.json and a generator health sample per second. The synthetic run is cached under
/tmp (re-used when the same N and seed are asked again). Then `llmload report RUN_DIR` runs in a
child process; wall time, records/s and the child's peak RSS (getrusage ru_maxrss) are printed.

    .venv/bin/python benchmarks/analysis_scale.py                  # 1,000,000 records
    .venv/bin/python benchmarks/analysis_scale.py --records 100000 --profile   # cProfile top 25 to stdout
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = 40
T0 = 1_780_000_000.0


def synthesise(run_dir: Path, records: int, seed: int) -> None:
    rng = random.Random(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    per_step = records // STEPS
    step_s = 600.0
    ids = [f"c{i:03d}" for i in range(1, 101)]
    batch = json.dumps(ids, separators=(",", ":"))
    plates = ['["渝C63531"]', '["京A12345","粤B6D789"]', "[]", "[]", "[]"]
    steps, written = [], 0
    with (run_dir / "records.jsonl").open("w", encoding="utf-8") as f:
        for step in range(STEPS):
            users = step + 1
            start = T0 + step * step_s
            steps.append({"index": step, "users": users, "start_s": start, "end_s": start + step_s, "rate_rps": None})
            lines = []
            n = per_step if step < STEPS - 1 else records - written
            for i in range(n):
                send = start + rng.random() * (step_s - 8.0)
                user = i % users
                written += 1
                rid = f"vm:4242-{user}-{i // users + 1}"
                if rng.random() < 0.01:
                    end = send + rng.random() * 2.0
                    lines.append(
                        f'{{"request_id":"{rid}","user_id":{user},"send_s":{send!r},"end_s":{end!r},"ok":false,'
                        f'"intended_send_s":null,"headers_s":null,"first_token_s":null,"first_answer_s":null,'
                        f'"last_token_s":null,"chunk_s":[],"prompt_tokens":null,"output_tokens":null,'
                        f'"reasoning_tokens":null,"token_source":"usage","finish_reason":null,"http_status":503,'
                        f'"error_kind":"http_status","error":"HTTP 503: overloaded","batch_ids":{batch},'
                        f'"plates_expected":[],"plates_found":[],"worker":"vm:4242"}}'
                    )
                    continue
                headers = send + 0.01 + rng.random() * 0.01
                first = headers + 0.05 + rng.random() * 0.5
                chunks = rng.randint(12, 24)
                itl = 0.02 + rng.random() * 0.03
                times = [first + k * itl + rng.random() * 0.002 for k in range(chunks)]
                last = times[-1]
                end = last + 0.001
                found = plates[rng.randrange(len(plates))]
                lines.append(
                    f'{{"request_id":"{rid}","user_id":{user},"send_s":{send!r},"end_s":{end!r},"ok":true,'
                    f'"intended_send_s":null,"headers_s":{headers!r},"first_token_s":{first!r},'
                    f'"first_answer_s":{times[min(3, chunks - 1)]!r},"last_token_s":{last!r},'
                    f'"chunk_s":[{",".join(map(repr, times))}],"prompt_tokens":1342,"output_tokens":{chunks},'
                    f'"reasoning_tokens":null,"token_source":"usage","finish_reason":"stop","http_status":200,'
                    f'"error_kind":null,"error":null,"batch_ids":{batch},"plates_expected":{plates[0]},'
                    f'"plates_found":{found},"worker":"vm:4242"}}'
                )
            f.write("\n".join(lines) + "\n")
    with (run_dir / "steps.jsonl").open("w") as f:
        for s in steps:
            f.write(json.dumps(s) + "\n")
    with (run_dir / "generator.jsonl").open("w") as f:
        for t in range(int(STEPS * step_s)):
            f.write(json.dumps({"t_s": T0 + t, "worker": "vm:4242", "cpu_percent": 40.0 + rng.random() * 20,
                                "loop_lag_max_s": 0.002, "loop_lag_mean_s": 0.0005}) + "\n")
    meta = {"schema": "llmload.meta/1", "run_id": "scale", "options": {"levels": list(range(1, STEPS + 1))},
            "target": {"host": "http://127.0.0.1:4444", "models": ["Qwen3-32B-AWQ"], "simulated": False,
                       "time_scale": 1.0}}
    (run_dir / "meta.json").write_text(json.dumps(meta))
    (run_dir / ".complete").write_text(str(records))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--profile", action="store_true", help="cProfile the report (slower); top 25 by cumulative")
    args = p.parse_args()
    run_dir = Path(f"/tmp/llmload-scale-{args.records}-{args.seed}")
    if not (run_dir / ".complete").exists():
        started = time.perf_counter()
        synthesise(run_dir, args.records, args.seed)
        print(f"synthesised {args.records} records in {time.perf_counter() - started:.1f} s -> {run_dir}")
    size_mb = (run_dir / "records.jsonl").stat().st_size / 1e6
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    if args.profile:
        code = ("import cProfile, pstats, sys; from pathlib import Path; from llmload.report.build import build_report;"
                f"cProfile.run(\"build_report(Path({str(run_dir)!r}))\", '/tmp/analysis_scale.prof');"
                "pstats.Stats('/tmp/analysis_scale.prof').sort_stats('cumulative').print_stats(25)")
        argv = [sys.executable, "-c", code]
    else:
        argv = [sys.executable, "-m", "llmload.cli", "report", str(run_dir)]
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True)
    wall_s = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if args.profile or proc.returncode:
        print(proc.stdout[-6000:], proc.stderr[-3000:])
    print(f"llmload report: {args.records} records ({size_mb:.0f} MB) in {wall_s:.1f} s = "
          f"{args.records / wall_s:,.0f} records/s; peak RSS {peak_mb:,.0f} MB; exit {proc.returncode}; "
          f"load {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
