"""The generator-health rule judges damage, not symptoms (analysis.validity), against a known-timing server.

- Contended but accurate: the Locust process is stopped (SIGSTOP) for 120 ms every 4 s, as a machine busy
  with other work would stall it. Its event loop wakes 100+ ms late (a symptom the old rule excluded for),
  but token times are the kernel's receive stamps and a user waits only when its last bytes land in a pause:
  the step is kept, and its TTFT is the fake server's truth within the rule's own latency bound.
- Truly late: 300 users against a server that answers in 5 ms (60,000 requests/s offered; a generator on
  one core turns a few thousand around): users stand idle waiting for the event loop far over the 1% bound,
  the generator's own CPU is full, so the step is excluded as "generator saturated".

The fake server (benchmarks/fake_server.py) runs on its own core and reports its own lateness, so its truth
is known; the generator runs on another (`--cpus`).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from known_server import fake_server, server_stats
from simulator import REPO, summary

from llmload.cpus import colocated_split, format_cpu_list
from llmload.validity_rule import LATENCY_ERROR_LIMIT, LOOP_LAG_SYMPTOM_S

SPLIT = colocated_split()
pytestmark = [
    pytest.mark.skipif(SPLIT is None, reason="needs two cores: one for the server, one for the generator"),
    pytest.mark.alone,  # run with no other test beside it: it pins the server and the generator to a core each
]
TTFT_S = 0.100
# 120 ms pauses wake the health probe's 50 ms sleeps at least 70 ms late (over the 50 ms symptom mark); a user
# waits only when its last bytes land in a pause: about 4 x 0.12/1.4 users x 60 ms per 4 s of 4 users = 0.1%
# idle, ten times under the 1% bound, so other load on the machine cannot push an accurate step over it
PAUSE_S, PAUSE_EVERY_S = 0.120, 4.0


def start_run(url: str, run_dir: Path, users: int, tokens: int) -> subprocess.Popen[str]:
    assert SPLIT is not None
    argv = [
        sys.executable, "-m", "llmload.cli", "run", "--host", url, "--users", str(users), "--step-duration", "12s",
        "--max-tokens", str(tokens), "--batch-size", "1", "--no-score", "--metrics-interval", "0",
        "--cpus", format_cpu_list(SPLIT[0]), "--out", str(run_dir),
    ]  # fmt: skip
    return subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def pause_locust(run: subprocess.Popen[str], stop: threading.Event) -> None:
    """Stops the run's Locust process for PAUSE_S every PAUSE_EVERY_S (a machine busy with other work)."""
    while not stop.wait(PAUSE_EVERY_S):
        try:
            for proc in psutil.Process(run.pid).children(recursive=True):
                if "locust" in " ".join(proc.cmdline()):
                    proc.send_signal(signal.SIGSTOP)
                    time.sleep(PAUSE_S)
                    proc.send_signal(signal.SIGCONT)
        except psutil.Error:  # the run ended meanwhile
            return


def finish(run: subprocess.Popen[str]) -> str:
    out, _ = run.communicate(timeout=120)
    assert run.returncode == 0, out[-3000:]
    return out


def test_a_contended_but_accurate_step_is_kept(tmp_path: Path) -> None:
    assert SPLIT is not None
    with fake_server(tmp_path, ttft_ms=TTFT_S * 1000, itl_ms=20, tokens=64, cores=SPLIT[1]) as url:
        run = start_run(url, tmp_path / "run", users=4, tokens=64)
        stop = threading.Event()
        pauser = threading.Thread(target=pause_locust, args=(run, stop), daemon=True)
        pauser.start()
        try:
            finish(run)
        finally:
            stop.set()
            pauser.join(timeout=10)
        truth = server_stats(url)
    (step,) = summary(tmp_path / "run")["steps"]
    generator = step["validity"]["generator"]
    true_ttft_s = TTFT_S + truth["lateness_p50_s"]
    print(f"loop lag max {generator['loop_lag_max_s']:.3f} s, idle {generator['damage']['idle_share']:.3%}, "
          f"TTFT p50 {step['ttft_s']['p50']:.4f} s vs the server's {true_ttft_s:.4f} s; {generator['cautions']}")
    assert generator["loop_lag_max_s"] > LOOP_LAG_SYMPTOM_S, "the pauses did not show: the test checked nothing"
    assert not step["excluded"], step["excluded_reasons"]
    assert any("woke" in c for c in generator["cautions"]), generator["cautions"]
    # the server's own truth: TTFT_S after the request arrived, plus how late it wrote (it reports that)
    assert abs(step["ttft_s"]["p50"] - true_ttft_s) <= LATENCY_ERROR_LIMIT * true_ttft_s  # the rule's bound
    assert generator["damage"]["idle_share"] < generator["damage"]["throughput_error_limit"]


def test_a_saturated_generator_is_excluded_and_named(tmp_path: Path) -> None:
    assert SPLIT is not None
    with fake_server(tmp_path, ttft_ms=5, itl_ms=0, tokens=8, cores=SPLIT[1]) as url:
        finish(start_run(url, tmp_path / "run", users=300, tokens=8))
    data = summary(tmp_path / "run")
    (step,) = data["steps"]
    generator = step["validity"]["generator"]
    print(f"CPU {generator['cpu_percent_mean']:.0f}%, idle {generator['damage']['idle_share']:.1%}: {step['excluded_reasons']}")
    assert step["excluded"] and generator["cause"] == "generator saturated", generator
    assert generator["damage"]["idle_share"] > generator["damage"]["throughput_error_limit"]
    assert "--workers" in step["excluded_reasons"][0]
    assert data["knee"] is None and "--workers" in data["knee_reason"]
