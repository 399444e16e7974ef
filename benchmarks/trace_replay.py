"""Trace replay's send-time error (issue 17): how late the load generator itself sends a trace's requests,
against the fake server (benchmarks/fake_server.py: answers at known times, so the server is never the cause).

For each rate a CSV trace of constant spacing (`timestamp,input_tokens,output_tokens`, 64-token prompts,
--tokens answers) lasting --seconds is replayed by `llmload run --trace` exactly as users run it (one Locust
process, --max-users enough for every request in flight); the error of each request is its send stamp minus
its scheduled time (records.jsonl: send_s - intended_send_s, wall seconds), and every scheduled request must
have been sent once.

    .venv/bin/python benchmarks/trace_replay.py                   # rates 10, 100, 1000 req/s, 10 s each
    .venv/bin/python benchmarks/trace_replay.py --rates 100 --seconds 30
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from client_overhead import CORES, Case, FakeServer, taskset

from llmload.processes import free_port

ROOT = Path(__file__).resolve().parents[1]


def write_trace(path: Path, rate_rps: float, seconds: float, tokens: int) -> int:
    count = int(rate_rps * seconds)
    rows = "".join(f"{i / rate_rps:.6f},64,{tokens}\n" for i in range(count))
    path.write_text("timestamp,input_tokens,output_tokens\n" + rows)
    return count


def replay(url: str, trace: Path, seconds: float, max_users: int, out: Path) -> None:
    argv = [*taskset(CORES["client"]), sys.executable, "-m", "llmload.cli", "run", "--host", url, "--trace",
            str(trace), "--step-duration", f"{seconds + 1:g}s", "--max-users", str(max_users),
            "--metrics-interval", "0", "--warmup", "1", "--out", str(out)]  # fmt: skip
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=seconds * 10 + 120, check=False)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"llmload run failed ({done.returncode}): {done.stderr[-800:]}")


def lateness(run_dir: Path, scheduled: int) -> dict[str, float]:
    rows = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    late_ms = np.array([(r["send_s"] - r["intended_send_s"]) * 1000 for r in rows])
    start_s = min(r["intended_send_s"] for r in rows)
    settled = late_ms[[r["intended_send_s"] >= start_s + 3.0 for r in rows]]  # users spawn at 100/s at first
    lines = [r["scenario"]["line"] for r in rows]
    return {
        "scheduled": scheduled, "sent": len(rows), "once": len(set(lines)) == len(lines) == scheduled,
        "failed": sum(not r["ok"] for r in rows), "p50_ms": float(np.percentile(late_ms, 50)),
        "p99_ms": float(np.percentile(late_ms, 99)), "max_ms": float(late_ms.max()),
        "over_10ms": int((late_ms > 10).sum()),
        "after_3s_p99_ms": float(np.percentile(settled, 99)) if settled.size else float("nan"),
        "after_3s_max_ms": float(settled.max()) if settled.size else float("nan"),
    }  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rates", default="10,100,1000", help="trace rates, req/s")
    p.add_argument("--seconds", type=float, default=10.0, help="each trace's length")
    p.add_argument("--tokens", type=int, default=16, help="answer tokens")
    p.add_argument("--out", default="", help="work directory (default: a temporary one)")
    args = p.parse_args()
    work = Path(args.out or tempfile.mkdtemp(prefix="llmload-trace-replay-"))
    work.mkdir(parents=True, exist_ok=True)
    case = Case(streams=1, tokens=args.tokens, ttft_s=0.02, itl_s=0.002)
    server = FakeServer(case, free_port(), work / "server.log")
    results = {}
    try:
        for rate in (float(r) for r in args.rates.split(",")):
            trace = work / f"trace-{rate:g}.csv"
            scheduled = write_trace(trace, rate, args.seconds, args.tokens)
            in_flight = rate * (case.ttft_s + args.tokens * case.itl_s)
            replay(server.url, trace, args.seconds, max(32, int(4 * in_flight)), work / f"run-{rate:g}")
            results[rate] = lateness(work / f"run-{rate:g}", scheduled)
            print(f"{rate:>7g} req/s  " + "  ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                                                    for k, v in results[rate].items()), flush=True)  # fmt: skip
    finally:
        server.stop()
    (work / "trace_replay.json").write_text(json.dumps(results, indent=1))
    print(f"results: {work / 'trace_replay.json'}")


if __name__ == "__main__":
    main()
