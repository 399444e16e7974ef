"""Soak: N minutes (default 30) of `llmload run` at the knee against the simulator with faults on.

Prints the Locust runner's RSS (start, after a quarter of the run, peak, final: it must stay flat) and
checks that the records match the simulator's own count: one record per chat request the simulator
received (but the one preflight request), ok records = the simulator's completed_ok, and per error
category the records match the injected faults (but at most the one fault the preflight drew).

    .venv/bin/python benchmarks/soak.py --minutes 3
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

from llmload.client.blocking_http import TargetUnreachable, get_json, http_get
from llmload.processes import free_port

DEFAULT_FAULTS = ("http_500=0.02", "http_503=0.01", "http_429=0.01", "disconnect=0.02", "malformed=0.02",
                  "no_done=0.02", "stall=0.02:1s", "slow_headers=0.01:500ms")
CATEGORY_OF = {"http_500": "http_status", "http_503": "http_status", "http_429": "http_status",
               "disconnect": "disconnect", "malformed": "malformed", "no_done": "incomplete",
               "stall": "total_timeout", "stall_first": "first_token_timeout",
               "slow_headers": "first_token_timeout"}
FLAT_MB = 16.0  # allowed growth of RSS after the first quarter of the run


def start_sim(profile: str, faults: list[str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    argv = [sys.executable, "-m", "llmload.cli", "sim", "--profile", profile, "--port", str(port), "--seed", "1"]
    argv += [f"--fault={f}" for f in faults]
    with log.open("w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if http_get(url + "/health", 1.0)[0] == 200:
                return proc, url
        except TargetUnreachable:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"simulator did not start: {log.read_text()[-500:]}")


def locust_child(run: subprocess.Popen[bytes]) -> psutil.Process | None:
    try:
        kids = psutil.Process(run.pid).children()
    except psutil.NoSuchProcess:
        return None
    return next((k for k in kids if "locust" in " ".join(k.cmdline())), None)


def sample_rss(run: subprocess.Popen[bytes], steps: Path, every_s: float = 2.0) -> list[tuple[float, float]]:
    """(seconds since the plan started, RSS MiB) of the Locust process until the run ends (report
    building included: the caller keeps the samples of the load phase)."""
    samples: list[tuple[float, float]] = []
    start: float | None = None
    while run.poll() is None:
        if start is None and steps.exists():
            start = time.monotonic()
        child = locust_child(run)
        if child is not None and start is not None:
            with contextlib.suppress(psutil.NoSuchProcess):
                samples.append((time.monotonic() - start, child.memory_info().rss / 2**20))
        time.sleep(every_s)
    return samples


def check_counts(records: list[dict[str, Any]], counts: dict[str, Any]) -> list[str]:
    problems = []
    if len(records) != counts["requests_received"] - 1:
        problems.append(f"records {len(records)} != simulator received {counts['requests_received']} - 1 (preflight)")
    ok = sum(1 for r in records if r["ok"])
    if ok != counts["completed_ok"]:
        problems.append(f"ok records {ok} != simulator completed_ok {counts['completed_ok']}")
    got = Counter(r["error_kind"] for r in records if not r["ok"])
    want: Counter[str] = Counter()
    for fault, n in counts["faults_injected"].items():
        if fault not in ("stall", "slow_headers"):  # shorter than the timeouts: only slow, never failed
            want[CATEGORY_OF[fault]] += n
    diff = {k: want[k] - got[k] for k in set(want) | set(got) if want[k] != got[k]}
    if sum(diff.values()) not in (0, 1) or any(v not in (0, 1) for v in diff.values()):
        problems.append(f"failed records by category {dict(got)} != injected {dict(want)}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--profile", default="max-seqs-8", help="Simulator profile (default max-seqs-8)")
    parser.add_argument("--users", type=int, default=8, help="The knee of the profile (max-seqs-8: 8)")
    parser.add_argument("--fault", action="append", default=None, help="Override the fault mix (repeatable)")
    parser.add_argument("--out", default="", help="Run directory (default: a temporary folder)")
    args = parser.parse_args()
    work = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="llmload-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    faults = args.fault or list(DEFAULT_FAULTS)
    duration_s = args.minutes * 60
    sim, url = start_sim(args.profile, faults, work / "sim.log")
    try:
        argv = [sys.executable, "-m", "llmload.cli", "run", "--host", url, "--users", str(args.users),
                "--step-duration", f"{duration_s:g}s", "--batch-size", "5", "--out", str(work / "run")]
        with (work / "run.log").open("w") as log:
            run = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        samples = sample_rss(run, work / "run" / "steps.jsonl")
        time.sleep(0.5)
        status, counts = get_json(url + "/llmload/sim", 5.0)
    finally:
        sim.terminate()
        sim.wait(10)
    records = [json.loads(line) for line in (work / "run" / "records.jsonl").read_text().splitlines() if line]
    return report(samples, records, counts, run.returncode, duration_s, work)


def report(samples: list[tuple[float, float]], records: list[dict[str, Any]], counts: dict[str, Any],
           rc: int | None, duration_s: float, work: Path) -> int:
    in_run = [(t, m) for t, m in samples if t <= duration_s - 1] or samples  # the load phase only
    quarter = next((m for t, m in in_run if t >= duration_s / 4), in_run[0][1])
    peak = max(m for _, m in in_run)
    final = in_run[-1][1]
    print(f"soak: {duration_s / 60:g} min, llmload run exit {rc}, {len(records)} records "
          f"({sum(1 for r in records if not r['ok'])} failed) in {work}")
    print(f"runner RSS MiB during the load: start {in_run[0][1]:.1f}  at 1/4 {quarter:.1f}  peak {peak:.1f}  "
          f"final {final:.1f}  ({len(in_run)} samples; report building after it: peak "
          f"{max(m for _, m in samples):.1f})")
    keys = ("requests_received", "completed_ok", "faulted", "client_gone", "in_flight", "faults_injected")
    print(f"simulator: {json.dumps({k: counts[k] for k in keys})}")
    problems = check_counts(records, counts)
    if peak - quarter > FLAT_MB:
        problems.append(f"RSS grew {peak - quarter:.1f} MiB after the first quarter (> {FLAT_MB:g})")
    for problem in problems:
        print(f"FAIL: {problem}")
    print("OK: memory flat, records = simulator's count" if not problems else "FAILED")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
