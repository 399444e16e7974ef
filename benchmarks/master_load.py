"""The llmload master's cost per record received (issue 22, target 2), measured without real requests.

A real `llmload run --master --workers K` (the code users run) gets K workers that are record feeders
(benchmarks/record_feeder.py): Locust workers that send it synthetic records, shaped like real ones, at a
rate that rises in plateaus. The harness samples, every 0.2 s, the master process's CPU time and the lines
in its records.jsonl; the feeders log what they sent and when. Per plateau, over its steady part:

    sent/s, written/s     records the feeders sent / the master wrote, per second
    master CPU            % of one core
    us/record             master CPU per record sent in the window (idle cost included; the fit below
                          separates the two)
    backlog               records sent but not yet written, at the window's start and end; "grows" is its
                          slope (records/s): a master that keeps up holds it near one batch (0.5 s of records)

Then a least-squares line through the plateaus the master kept up with: master CPU = idle + slope x rate,
printed as % of a core per 1,000 records/s, and the rate at which the master would use half a core. At the
end, exactly-once: every record any feeder sent is in records.jsonl once, and meta.json's per-worker
sent/received agree.

    .venv/bin/python benchmarks/master_load.py                         # 250 .. 4,000 records/s
    .venv/bin/python benchmarks/master_load.py --rates 500,2000 --plateau-s 6 --feeders 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from client_overhead import Case, FakeServer, taskset
from cluster_sampling import RunSampler, Sample, at

from llmload.processes import free_port, stop_process

ROOT = Path(__file__).resolve().parents[1]
FEEDER = Path(__file__).with_name("record_feeder.py")
SETTLE_S = 2.0  # a plateau's first seconds are left out: the master works off the previous one's backlog
LAG_OK_S = 1.0


@dataclass
class Plateau:
    rate_rps: float
    start_s: float
    end_s: float
    sent_rps: float = 0.0  # from the feeders' logs, interpolated between their messages
    written_rps: float = 0.0  # lines the master wrote (whole messages: +-1 message per window)
    master_cpu: float = 0.0  # fraction of one core
    backlog_start: float = 0.0
    backlog_end: float = 0.0

    @property
    def backlog_growth_rps(self) -> float:
        return (self.backlog_end - self.backlog_start) / max(1e-9, self.end_s - self.start_s)

    @property
    def lag_s(self) -> float:
        """How far behind the feeders the master was at the window's end (seconds of records)."""
        return max(0.0, self.backlog_end) / max(self.sent_rps, 1e-9)

    @property
    def kept_up(self) -> bool:
        """At most LAG_OK_S behind at the end: a master that keeps up is at most one message (0.5 s) behind."""
        return self.lag_s <= LAG_OK_S


def read_feed_logs(paths: list[Path]) -> tuple[float, list[list[tuple[float, int]]]]:
    """(the latest feeder start, each feeder's (wall_s, records sent so far) points, from its start)."""
    logs = []
    for path in paths:
        rows = [line.split() for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
        logs.append([(float(t), int(n)) for t, n in rows])
    starts = [log[0][0] for log in logs if log]
    return (max(starts) if starts else 0.0), logs


def sent_at(logs: list[list[tuple[float, int]]], t_s: float) -> float:
    """Records the feeders had made by t_s: each message's records were made over the interval it closes,
    so the count rises linearly between two messages."""
    total = 0.0
    for log in logs:
        times = [t for t, _ in log]
        counts = [float(n) for _, n in log]
        total += float(np.interp(t_s, times, counts)) if log else 0.0
    return total


def measure_plateaus(rates: list[float], plateau_s: float, start_s: float, samples: list[Sample],
                     logs: list[list[tuple[float, int]]]) -> list[Plateau]:
    out = []
    for i, rate in enumerate(rates):
        a, b = at(samples, start_s + i * plateau_s + SETTLE_S), at(samples, start_s + (i + 1) * plateau_s - 0.3)
        if b.t_s <= a.t_s:
            continue
        dt = b.t_s - a.t_s
        p = Plateau(rate, a.t_s, b.t_s)
        sent_a, sent_b = sent_at(logs, a.t_s), sent_at(logs, b.t_s)
        p.sent_rps, p.written_rps = (sent_b - sent_a) / dt, (b.records - a.records) / dt
        p.master_cpu = (b.master_cpu_s - a.master_cpu_s) / dt
        p.backlog_start, p.backlog_end = sent_a - a.records, sent_b - b.records
        out.append(p)
    return out


def fit(plateaus: list[Plateau]) -> tuple[float, float] | None:
    """(idle fraction of a core, core-seconds per record) over the plateaus the master kept up with."""
    points = [(p.sent_rps, p.master_cpu) for p in plateaus if p.kept_up]
    if len(points) < 2:
        return None
    n = len(points)
    mx, my = sum(x for x, _ in points) / n, sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx <= 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx
    return my - slope * mx, slope


def exactly_once(run_dir: Path, sent_total: int) -> str:
    """'yes' or what went wrong: records.jsonl against what the feeders sent and meta.json's tally."""
    ids = [json.loads(line)["request_id"] for line in (run_dir / "records.jsonl").open(encoding="utf-8")]
    problems = []
    if len(ids) != sent_total:
        problems.append(f"{len(ids)} records written, {sent_total} sent")
    if len(set(ids)) != len(ids):
        problems.append(f"{len(ids) - len(set(ids))} duplicates")
    meta = json.loads((run_dir / "meta.json").read_text())
    workers = meta.get("workers", {})
    if any(w.get("sent") != w.get("received") for w in workers.values()):
        problems.append(f"meta.json workers {workers}")
    return "; ".join(problems) or "yes"


def master_argv(url: str, port: int, feeders: int, run_s: float, run_dir: Path, master_cpu: str) -> list[str]:
    return [*(taskset(master_cpu) if master_cpu else []), sys.executable, "-m", "llmload.cli", "run", "--host", url, "--master", "--workers", str(feeders),
            "--master-bind-host", "127.0.0.1", "--master-port", str(port), "--users", str(feeders),
            "--step-duration", f"{run_s:.0f}s", "--out", str(run_dir), "--batch-size", "1", "--max-tokens", "4",
            "--no-score"]


def start_feeders(args: argparse.Namespace, port: int, work: Path) -> tuple[list[subprocess.Popen[bytes]], list[Path]]:
    per_feeder = ",".join(f"{rate / args.feeders:g}:{args.plateau_s:g}" for rate in args.rates)
    procs, logs = [], []
    for i in range(args.feeders):
        log = work / f"feed-{i}.log"
        env = dict(os.environ, LLMLOAD_FEED_SCHEDULE=per_feeder, LLMLOAD_FEED_LOG=str(log),
                   LLMLOAD_FEED_TOKENS=str(args.tokens), LLMLOAD_FEED_BATCH=str(args.batch))
        argv = [*(taskset(args.feeder_cpus) if args.feeder_cpus else []), sys.executable, "-m", "locust", "-f", str(FEEDER), "--worker",
                "--master-host", "127.0.0.1", "--master-port", str(port), "--loglevel", "WARNING"]
        with (work / f"feeder-{i}.out").open("w") as out:
            procs.append(subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT))
        logs.append(log)
    return procs, logs


def run(args: argparse.Namespace, work: Path) -> tuple[list[Plateau], str, float]:
    run_dir, port = work / "run", free_port()
    server = FakeServer(Case(1, 4, 0.0, 0.0), free_port(), work / "server.log", cores=args.feeder_cpus)
    run_s = len(args.rates) * args.plateau_s + 8.0  # the feeders start with the plan; it ends after them
    try:
        with (work / "master.out").open("w") as out:
            master = subprocess.Popen(master_argv(server.url, port, args.feeders, run_s, run_dir, args.master_cpu),
                                      stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        feeders, logs = start_feeders(args, port, work)
        sampler = RunSampler([master.pid], run_dir / "records.jsonl")
        sampler.start()
        try:
            master.wait(timeout=run_s + 240)
        finally:
            sampler.stop()
            for proc in feeders:
                stop_process(proc)
    finally:
        server.stop()
    (work / "samples.json").write_text(json.dumps([s.__dict__ for s in sampler.samples]))
    start_s, feed_logs = read_feed_logs(logs)
    plateaus = measure_plateaus(args.rates, args.plateau_s, start_s, sampler.samples, feed_logs)
    sent_total = sum(log[-1][1] for log in feed_logs if log)
    record_bytes = (run_dir / "records.jsonl").stat().st_size / max(1, sampler.samples[-1].records)
    return plateaus, exactly_once(run_dir, sent_total), record_bytes


def table(plateaus: list[Plateau]) -> str:
    lines = ["| records/s asked | sent/s | written/s | master CPU % | us/record | behind at end | backlog grows/s |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for p in plateaus:
        per_record_us = p.master_cpu / p.sent_rps * 1e6 if p.sent_rps > 0 else float("nan")
        lines.append(f"| {p.rate_rps:,.0f} | {p.sent_rps:,.0f} | {p.written_rps:,.0f} | {p.master_cpu * 100:.1f} "
                     f"| {per_record_us:.0f} | {p.lag_s:.2f} s{'' if p.kept_up else ' (falls behind)'} "
                     f"| {p.backlog_growth_rps:+,.0f} |")
    return "\n".join(lines)


def verdict(plateaus: list[Plateau]) -> str:
    line = fit(plateaus)
    if line is None:
        return "fit: fewer than two plateaus the master kept up with"
    idle, per_record_s = line
    half_core_rps = (0.5 - idle) / per_record_s if per_record_s > 0 else float("inf")
    return (f"master CPU = {idle * 100:.1f}% + {per_record_s * 1000 * 100:.1f}% of a core per 1,000 records/s "
            f"({per_record_s * 1e6:.0f} us/record); half a core at {half_core_rps:,.0f} records/s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rates", type=lambda s: [float(x) for x in s.split(",")], default=[250, 500, 1000, 2000, 4000],
                   help="records/s from all feeders together, one plateau each (comma-separated)")
    p.add_argument("--plateau-s", type=float, default=8.0, help="seconds per plateau")
    p.add_argument("--feeders", type=int, default=2, help="feeder workers (the master's --workers)")
    p.add_argument("--tokens", type=int, default=64, help="chunk times per record")
    p.add_argument("--batch", type=int, default=100, help="batch ids per record (llmload's default --batch-size)")
    p.add_argument("--master-cpu", default="0", help="core(s) of the master ('' : not pinned)")
    p.add_argument("--feeder-cpus", default="1", help="cores of the feeders, the stub server and this harness")
    p.add_argument("--out", default="", help="work folder (default: a new folder under /tmp)")
    args = p.parse_args()
    work = Path(args.out or tempfile.mkdtemp(prefix="llmload-master-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.feeder_cpus and hasattr(os, "sched_setaffinity"):
        from llmload.cpus import parse_cpu_list

        os.sched_setaffinity(0, parse_cpu_list(args.feeder_cpus, "--feeder-cpus"))
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  load before: {os.getloadavg()[0]:.2f}  work: {work}  "
          f"feeders {args.feeders}, {args.tokens} tokens and {args.batch} batch ids per record", flush=True)
    plateaus, once, record_bytes = run(args, work)
    print(table(plateaus))
    print(verdict(plateaus))
    print(f"record size {record_bytes:,.0f} bytes; every record exactly once: {once}  "
          f"(load after: {os.getloadavg()[0]:.2f})")
    (work / "results.json").write_text(json.dumps([p.__dict__ for p in plateaus], indent=1))


if __name__ == "__main__":
    main()
