"""What the web UI's live statistics cost the master (issue 22, target 2): per record added, and per poll.

The master feeds every record it writes to llmload.load.live.LiveStats as well (when the web UI runs), and
each open browser tab asks for a snapshot every 2 s; the snapshot runs in the master's event loop, between
the workers' messages and heartbeats. This times both against the number of records the run holds so far:
records at `--rate` per second in steps of `--step-s`, like a long run at that rate.

    .venv/bin/python benchmarks/live_view_cost.py                     # 10k .. 2M records
    .venv/bin/python benchmarks/live_view_cost.py --records 100000,1000000 --rate 2000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

from llmload.load.live import LiveStats
from llmload.records import Record, RecordWriter, StepMark

POLL_EVERY_S = 2.0  # the live page's poll interval (load/webui_page.html)


def records(n: int, rate_rps: float, start_s: float) -> Iterator[Record]:
    """n ok requests of 1.36 s ending at `rate_rps` from start_s, 64 tokens each (only what LiveStats reads)."""
    for i in range(n):
        end_s = start_s + 1.36 + i / rate_rps
        yield Record(request_id=f"r{i}", user_id=0, send_s=end_s - 1.36, end_s=end_s, ok=True,
                     first_token_s=end_s - 1.26, output_tokens=64)


def bytes_per_record(rate_rps: float, n: int = 20_000) -> float:
    """Memory LiveStats keeps per record added (tracemalloc over n records)."""
    live = LiveStats()
    made = list(records(n, rate_rps, time.time()))
    tracemalloc.start()
    for record in made:
        live.add(record)
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return held / n


def write_steps(run_dir: Path, start_s: float, end_s: float, step_s: float, users: int) -> None:
    """Finished steps of step_s up to end_s; the last one still running (no end)."""
    writer = RecordWriter(run_dir / "steps.jsonl")
    index, t_s = 0, start_s
    while t_s + step_s < end_s:
        writer.write_line(StepMark(index, users, t_s, t_s + step_s).to_json())
        index, t_s = index + 1, t_s + step_s
    writer.write_line(StepMark(index, users, t_s).to_json())
    writer.close()


def measure(n: int, rate_rps: float, step_s: float) -> dict[str, float]:
    start_s = time.time() - 1.36 - n / rate_rps  # the newest record ends now: the last step is current
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        write_steps(run_dir, start_s, time.time(), step_s, 64)
        live = LiveStats(run_dir)
        add_s = 0.0
        for record in records(n, rate_rps, start_s):
            t0 = time.perf_counter()
            live.add(record)
            add_s += time.perf_counter() - t0
        live.snapshot(time.time())  # the first settles the finished steps (cached from then on)
        polls = []
        for _ in range(3):
            t0 = time.perf_counter()
            live.snapshot(time.time())
            polls.append(time.perf_counter() - t0)
    poll_s = statistics.median(polls)
    return {"records": n, "add_us": add_s / n * 1e6, "poll_ms": poll_s * 1e3,
            "poll_core_share": poll_s / POLL_EVERY_S, "hours_at_rate": n / rate_rps / 3600}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", type=lambda s: [int(x) for x in s.split(",")],
                   default=[10_000, 100_000, 500_000, 1_000_000, 2_000_000])
    p.add_argument("--rate", type=float, default=2000.0, help="records per second of the run imitated")
    p.add_argument("--step-s", type=float, default=120.0, help="step length of the run imitated (s)")
    args = p.parse_args()
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  Python {sys.version.split()[0]}  rate {args.rate:g}/s, "
          f"{args.step_s:g} s steps; one browser tab polls every {POLL_EVERY_S:g} s")
    print(f"LiveStats holds {bytes_per_record(args.rate):.0f} bytes per record added")
    print("| records held | run so far at that rate | add us/record | snapshot ms | one tab's share of a core |\n"
          "|---:|---:|---:|---:|---:|")
    for n in args.records:
        m = measure(n, args.rate, args.step_s)
        print(f"| {n:,} | {m['hours_at_rate'] * 60:.0f} min | {m['add_us']:.2f} | {m['poll_ms']:.1f} "
              f"| {m['poll_core_share'] * 100:.1f}% |", flush=True)


if __name__ == "__main__":
    main()
