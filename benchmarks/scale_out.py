"""Scale-out: `llmload run --workers N` against the known-timing fake server, for N = 1, 2, 4, 8, 12 (issue 22).

Per row, the fake server (benchmarks/fake_server.py, --workers = its cores) paces `--streams-per-worker` x N
streams (TTFT, ITL and tokens known), and llmload runs exactly as users run it: `llmload run --workers N
--cpus <client cores>`, one closed-loop step, every request in records.jsonl. The harness samples, every
0.2 s, the CPU of llmload's master and workers (apart) and of the server, the server's counters and the
records written. Over the steady window (from 1 s after every stream is running, `--window-s` long):

    tok/s            tokens the server wrote per second
    wrk CPU          the workers' CPU together (cores); tok/s/core = tok/s / wrk CPU
    vs 1             tok/s/core over the first row's (target: >= 0.85 up to 12 workers)
    master CPU       % of one core; rec/s = records the master wrote per second (target 2)
    TTFT / ITL err   llmload's TTFT and ITL minus the true ones (ms), requests sent in the window
    srv99            the server's own lateness p99 (ms): the floor under any client error
    once             every request the server completed is in records.jsonl exactly once, and meta.json's
                     per-worker sent/received agree

Cores: the last (max workers + 1) allowed cores go to llmload (workers + master), the rest to the server,
the same for every row; with fewer cores than that (this 2-core machine) the server gets core 0 and
llmload the rest, shared (the `cores` column says so).

    python benchmarks/scale_out.py                                   # 1, 2, 4, 8, 12 workers (16 cores)
    python benchmarks/scale_out.py --workers 1,2 --streams-per-worker 64 --window-s 5     # 2 cores
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from client_overhead import Case, FakeServer, taskset
from cluster_sampling import RunSampler, Sample, at

from llmload.cpus import allowed_cpus, format_cpu_list
from llmload.processes import free_port

ROOT = Path(__file__).resolve().parents[1]
SPAWN_USERS_PER_S = 100.0  # llmload's step start (load/shape.py SPAWN_RATE): 4,096 streams take 41 s
# The fake server waits with select() (microsecond timers), which takes file descriptors below 1,024 only,
# and holds two per connection (its own reader of the kernel receive stamps): at most ~500 connections per
# process. SO_REUSEPORT spreads connections at random, so each process gets 350 on average at most.
CONNECTIONS_PER_SERVER_PROCESS = 350


@dataclass
class Row:
    workers: int
    streams: int
    client_cores: list[int]
    server_cores: list[int]
    shared: bool
    tok_s: float = math.nan
    worker_cpu: float = math.nan  # cores
    master_cpu: float = math.nan  # cores
    server_cpu: float = math.nan  # cores
    records_s: float = math.nan
    ttft_err_s: list[float] = field(default_factory=list)
    itl_err_s: list[float] = field(default_factory=list)
    server_late_p99_s: float | None = None
    once: str = "-"
    note: str = ""

    @property
    def tok_s_per_core(self) -> float:
        return self.tok_s / self.worker_cpu if self.worker_cpu > 0 else math.nan


def plan_cores(allowed: list[int], max_workers: int) -> tuple[list[int], list[int], bool]:
    """(server cores, llmload cores, shared): llmload gets the last max_workers + 1 cores (workers and the
    master), the server the rest; with too few cores, the server core 0 and llmload the others (shared)."""
    need = max_workers + 1
    if len(allowed) > need:
        return allowed[: len(allowed) - need], allowed[len(allowed) - need :], False
    if len(allowed) >= 2:
        return allowed[:1], allowed[1:], True
    return allowed, allowed, True


def client_cores_for(llmload_cores: list[int], workers: int, shared: bool) -> list[int]:
    return llmload_cores if shared else llmload_cores[: workers + 1]


def llmload_argv(args: argparse.Namespace, url: str, row: Row, run_dir: Path, step_s: float) -> list[str]:
    cpus = format_cpu_list(row.client_cores)
    return [*taskset(cpus), sys.executable, "-m", "llmload.cli", "run", "--host", url, "--users", str(row.streams),
            "--step-duration", f"{step_s:.0f}s", "--workers", str(row.workers), "--cpus", cpus,
            "--out", str(run_dir), "--batch-size", "1", "--max-tokens", str(args.tokens), "--ignore-eos",
            "--warmup", "1"]


class ServerProbe:
    """The fake server's counters (all its workers) and the CPU of its processes, for the sampler."""

    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.root = psutil.Process(server.proc.pid)

    def __call__(self) -> dict[str, float]:
        try:
            stats = self.server.stats()
        except OSError:
            return {}
        cpu_s = 0.0
        for proc in [self.root, *self.root.children(recursive=True)]:
            try:
                times = proc.cpu_times()
                cpu_s += times.user + times.system
            except psutil.NoSuchProcess:
                continue
        return {"tokens": stats["tokens_sent"], "active": stats["active"], "done": stats["requests_done"],
                "server_cpu_s": cpu_s}


def steady_window(samples: list[Sample], streams: int, window_s: float) -> tuple[Sample, Sample] | None:
    """From 1 s after every stream runs, window_s long (or up to the last sample that still had them all)."""
    full = [s for s in samples if s.extra.get("active", 0) >= streams]
    if not full:
        return None
    a = at(samples, full[0].t_s + 1.0)
    b = at(samples, min(a.t_s + window_s, full[-1].t_s))
    return (a, b) if b.t_s > a.t_s else None


def record_errors(run_dir: Path, case: Case, t_a: float, t_b: float) -> tuple[list[float], list[float], list[str]]:
    """TTFT and ITL errors (s) of the ok requests sent in [t_a, t_b); every record's request id."""
    ttft, itl, ids = [], [], []
    for line in (run_dir / "records.jsonl").open(encoding="utf-8"):
        r = json.loads(line)
        ids.append(r["request_id"])
        if not r["ok"] or not t_a <= r["send_s"] < t_b or r["first_token_s"] is None:
            continue
        ttft.append(r["first_token_s"] - r["send_s"] - case.ttft_s)
        itl.extend((np.diff(r["chunk_s"]) - case.itl_s).tolist())
    return ttft, itl, ids


def exactly_once(run_dir: Path, ids: list[str], served: int) -> str:
    problems = []
    if len(ids) != served:
        problems.append(f"{len(ids)} records, server completed {served}")
    if len(set(ids)) != len(ids):
        problems.append(f"{len(ids) - len(set(ids))} duplicate ids")
    workers = json.loads((run_dir / "meta.json").read_text()).get("workers", {})
    if any(w.get("sent") != w.get("received") for w in workers.values()):
        problems.append(f"meta.json workers {workers}")
    return "; ".join(problems) or "yes"


def measure(row: Row, case: Case, samples: list[Sample], run_dir: Path, window_s: float) -> None:
    window = steady_window(samples, row.streams, window_s)
    if window is None:
        row.note = "never had every stream running"
        return
    a, b = window
    dt = b.t_s - a.t_s
    row.tok_s = (b.extra["tokens"] - a.extra["tokens"]) / dt
    row.worker_cpu = (b.worker_cpu_s - a.worker_cpu_s) / dt
    row.master_cpu = (b.master_cpu_s - a.master_cpu_s) / dt
    row.server_cpu = (b.extra["server_cpu_s"] - a.extra["server_cpu_s"]) / dt
    row.records_s = (b.records - a.records) / dt
    row.ttft_err_s, row.itl_err_s, ids = record_errors(run_dir, case, a.t_s, b.t_s)
    served = int(samples[-1].extra["done"])  # a fresh server per row; the last sample is after the run
    row.once = exactly_once(run_dir, ids, served)


def run_row(args: argparse.Namespace, row: Row, work: Path) -> Row:
    case = Case(row.streams, args.tokens, args.ttft_ms / 1000, args.itl_ms / 1000)
    out = work / f"workers-{row.workers}"
    out.mkdir(parents=True, exist_ok=True)
    processes = max(len(row.server_cores), math.ceil(row.streams / CONNECTIONS_PER_SERVER_PROCESS))
    server = FakeServer(case, free_port(), out / "server.log", workers=processes,
                        cores=format_cpu_list(row.server_cores))
    step_s = row.streams / SPAWN_USERS_PER_S + 3.0 + args.window_s + 2.0
    try:
        with (out / "llmload.log").open("w") as log:
            proc = subprocess.Popen(llmload_argv(args, server.url, row, out / "run", step_s), cwd=ROOT,
                                    stdout=log, stderr=subprocess.STDOUT)
        sampler = RunSampler([proc.pid], out / "run" / "records.jsonl", probe=ServerProbe(server))
        sampler.start()
        try:
            rc = proc.wait(timeout=step_s + 300)
        finally:
            sampler.stop()
        time.sleep(0.3)
        try:
            sampler.samples.append(Sample(time.time(), 0.0, 0.0, 0, ServerProbe(server)()))  # completions at the end
            row.server_late_p99_s = server.stats(lateness=True)["lateness_p99_s"]
        except OSError as exc:  # a server process is gone: say so in the row, keep the other rows
            log_tail = (out / "server.log").read_text(errors="replace").strip().splitlines()[-1:]
            row.note = f"server stats unreadable after the run ({exc}); server log: {' '.join(log_tail)}"
    finally:
        server.stop()
    if rc != 0 or not (out / "run" / "meta.json").exists():
        row.note += f" llmload exit {rc} (see {out / 'llmload.log'})"
    measure(row, case, [s for s in sampler.samples if "tokens" in s.extra], out / "run", args.window_s)
    return row


def _ms(values: list[float], q: float | None) -> str:
    if not values:
        return "-"
    arr = np.asarray(values) * 1000.0
    return f"{(arr.mean() if q is None else np.percentile(arr, q)):+.2f}"


HEADER = ("| workers | streams | cores srv/llmload | tok/s | wrk CPU | tok/s/core | vs 1 | master CPU % | rec/s "
          "| TTFT err mean / p99 ms | ITL err p99 ms | srv99 ms | srv CPU | once |\n"
          "|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|")


def table_row(row: Row, base: float) -> str:
    cores = f"{format_cpu_list(row.server_cores)} / {format_cpu_list(row.client_cores)}" + (
        " shared" if row.shared else "")
    late = "-" if row.server_late_p99_s is None else f"{row.server_late_p99_s * 1000:.2f}"
    return (f"| {row.workers} | {row.streams} | {cores} | {row.tok_s:,.0f} | {row.worker_cpu:.2f} "
            f"| {row.tok_s_per_core:,.0f} | {row.tok_s_per_core / base:.2f} | {row.master_cpu * 100:.1f} "
            f"| {row.records_s:,.0f} | {_ms(row.ttft_err_s, None)} / {_ms(row.ttft_err_s, 99)} "
            f"| {_ms(row.itl_err_s, 99)} | {late} | {row.server_cpu:.2f} | {row.once} |"
            + (f" {row.note}" if row.note else ""))


def dump(row: Row) -> dict[str, Any]:
    out = {k: v for k, v in row.__dict__.items() if k not in ("ttft_err_s", "itl_err_s")}
    ttft, itl = np.asarray(row.ttft_err_s or [math.nan]), np.asarray(row.itl_err_s or [math.nan])
    out.update(tok_s_per_core=row.tok_s_per_core, ttft_err_mean_s=float(ttft.mean()),
               ttft_err_p99_s=float(np.percentile(ttft, 99)), itl_err_p99_s=float(np.percentile(itl, 99)),
               requests_in_window=len(row.ttft_err_s))
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4, 8, 12])
    p.add_argument("--streams-per-worker", type=int, default=342, help="342 x 12 workers = 4,104 streams")
    p.add_argument("--tokens", type=int, default=32, help="tokens per request")
    p.add_argument("--ttft-ms", type=float, default=100.0)
    p.add_argument("--itl-ms", type=float, default=40.0)
    p.add_argument("--window-s", type=float, default=15.0, help="steady window per row (s)")
    p.add_argument("--out", default="", help="work folder (default: a new folder under /tmp)")
    p.add_argument("--json", default="", help="also write the rows here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(argv)
    work = Path(args.out or tempfile.mkdtemp(prefix="llmload-scale-"))
    server_cores, llmload_cores, shared = plan_cores(allowed_cpus(), max(args.workers))
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  load before: {os.getloadavg()[0]:.2f}  cores {len(allowed_cpus())}"
          f"  work: {work}\n# {args.tokens} tokens, TTFT {args.ttft_ms:g} ms, ITL {args.itl_ms:g} ms, "
          f"{args.streams_per_worker} streams per worker\n{HEADER}", flush=True)
    rows: list[Row] = []
    for n in args.workers:
        row = Row(n, n * args.streams_per_worker, client_cores_for(llmload_cores, n, shared), server_cores, shared)
        rows.append(run_row(args, row, work))
        print(table_row(row, rows[0].tok_s_per_core) + f"  (load {os.getloadavg()[0]:.2f})", flush=True)
    results = [dump(r) for r in rows]
    for path in (work / "results.json", *([Path(args.json)] if args.json else [])):
        path.write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
