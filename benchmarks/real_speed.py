"""Real-speed truth (issue 19 §2): the seed simulator at time scale 1 (40-60 s answers) against the same at 10x.

    .venv/bin/python benchmarks/real_speed.py               # ~20 min wall, printed before it starts
    .venv/bin/python benchmarks/real_speed.py --estimate    # the plan of runs and its wall time; runs nothing
    .venv/bin/python benchmarks/real_speed.py --only plan   # part 1 alone (~2-3 min wall)

1. plan    `--users auto --step-duration auto` at time scale 10: levels, each step's length and why it
           ended, knee and limit (seed bars: optimum 27-31, limit 30-34), the target time it used (the wall
           time the same plan needs against the real-speed server).
2. levels  `--users 4,16,29,32 --step-duration auto` at time scale 10 and at time scale 1 (32 is above the
           knee): E2E and TTFT percentiles per level in the target's time base, and how far apart (bound 5%).
3. beside them, a fixed 1..40 sweep of 2-minute steps: its wall time, and from the 10x levels which of its
   steps could hold a complete answer in the steady window (warm-up: the median answer, at most half the step).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PROFILE = "qwen3-32b-awq-2x4090"
LEVELS = "4,16,29,32"
COMPARED = (29, 32)
BOUND = 0.05
SWEEP_STEP_S = 120.0
# expected wall seconds (the seed profile, 30 samples, +-5%; the plan aimed by the KV cache: 14-15 min of target
# time; the levels 3 + 2 + 3.5 + 6 min)
ESTIMATE_S = {"plan x10": 15 * 60 / 10, "levels x10": 15 * 60 / 10, "levels x1": 15 * 60}


def llmload_run(url: str, out: Path, *args: str, timeout_s: float) -> tuple[dict[str, Any], float, str]:
    started = time.monotonic()
    argv = [sys.executable, "-m", "llmload.cli", "run", "--host", url, "--out", str(out), *args]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=timeout_s, check=False)
    wall_s = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"run failed ({done.returncode}): {done.stderr[-1500:]}")
    return json.loads((out / "summary.json").read_text()), wall_s, done.stdout


def one_run(time_scale: float, out: Path, *args: str) -> tuple[dict[str, Any], float, str]:
    from llmload.load.launch import running_simulator

    with running_simulator(PROFILE, time_scale, out.parent / f"{out.name}-sim.log") as url:
        return llmload_run(url, out, *args, timeout_s=3 * 3600)


STEP_HEADER = (f"{'users':>5} {'step s':>8} {'warm s':>7} {'ok':>6} {'rps':>7} {'p50 s':>7} {'p95 s':>7} {'stop':>13} "
               f"{'rps±':>6} {'p95±':>6} {'kv':>6} {'preempt':>7}")  # fmt: skip


def step_rows(summary: dict[str, Any]) -> list[str]:
    """One line per step in run order (summary.json lists them by users): the server's KV-cache usage and
    preemptions over its window beside the client's figures."""
    rows = []
    for s in sorted(summary["steps"], key=lambda step: step["start_s"]):
        stop, server = s.get("stop") or {}, s.get("server") or {}
        kv, preempted = server.get("kv_usage_mean"), server.get("preemptions")
        rows.append(
            f"{s['users']:>5} {s['end_s'] - s['start_s']:>8.0f} {s['warmup_s']:>7.0f} {s['requests_ok']:>6} "
            f"{s['rps']:>7.3f} {s['e2e_s']['p50']:>7.1f} {s['e2e_s']['p95']:>7.1f} "
            f"{stop.get('reason', '-'):>13} {_pct(stop.get('rps_ci_rel'))} {_pct(stop.get('e2e_p95_ci_rel'))} "
            f"{'-' if kv is None else f'{kv:.3f}':>6} {'-' if preempted is None else f'{preempted:.0f}':>7}"
        )
    return rows


def _pct(value: float | None) -> str:
    return f"{'-':>6}" if value is None else f"{value:>6.1%}"


PERCENTILES = (("e2e_s", "p50"), ("e2e_s", "p95"), ("e2e_s", "p99"), ("ttft_s", "p50"), ("ttft_s", "p95"))


def differences(scaled: dict[str, Any], real: dict[str, Any], users: tuple[int, ...]) -> list[dict[str, Any]]:
    """Per level and percentile: the 10x run's value (target time base), the real-speed one, relative gap."""
    by_users = [{int(s["users"]): s for s in run["steps"]} for run in (scaled, real)]
    out = []
    for u in users:
        for metric, p in PERCENTILES:
            a, b = (float(steps[u][metric][p]) for steps in by_users)
            out.append({"users": u, "metric": f"{metric[:-2]} {p}", "x10_s": a, "x1_s": b, "gap": (b - a) / a})
    return out


def sweep_windows(levels_summary: dict[str, Any], step_s: float = SWEEP_STEP_S) -> list[str]:
    """Which levels a fixed sweep of `step_s` steps could measure: warm-up auto (llmload.steady) against the
    shortest answer measured at the level."""
    from llmload.steady import auto_warmup_s

    out = []
    for s in levels_summary["steps"]:
        window = step_s - auto_warmup_s(step_s, float(s["e2e_s"]["p50"]))
        holds = window >= float(s["e2e_s"]["min"])
        out.append(f"{s['users']} users: window {window:.0f} s, shortest answer {s['e2e_s']['min']:.0f} s: "
                   f"{'holds answers' if holds else 'EMPTY'}")  # fmt: skip
    return out


def plan_report(plan: tuple[dict[str, Any], float, str]) -> None:
    summary, wall_s, _ = plan
    target_s = summary["target_time"]["target_s"]
    print(f"\n1. --users auto --step-duration auto, time scale 10: {len(summary['steps'])} steps, wall {wall_s:.0f} s, "
          f"target time {target_s / 60:.1f} min (= the plan's wall time at time scale 1)")  # fmt: skip
    print(f"   knee {(summary['knee'] or {}).get('users')} (bar 27-31), limit {(summary['limit'] or {}).get('users')} (30-34)")
    print(STEP_HEADER)
    print("\n".join(step_rows(summary)))


def report(plan: tuple[dict[str, Any], float, str], scaled: dict[str, Any], real: tuple[dict[str, Any], float, str]) -> None:
    plan_report(plan)
    print(f"\n2. levels {LEVELS}, auto steps, time scale 10 vs time scale 1 (target time base; bound {BOUND:.0%}):")
    print("\n".join(step_rows(scaled)))
    print(f"   --- time scale 1 (wall {real[1]:.0f} s)")
    print("\n".join(step_rows(real[0])))
    worst = 0.0
    for d in differences(scaled, real[0], COMPARED):
        worst = max(worst, abs(d["gap"])) if d["metric"].startswith("e2e") else worst
        print(f"   {d['users']:>3} users {d['metric']:<8} x10 {d['x10_s']:8.2f} s  x1 {d['x1_s']:8.2f} s  {d['gap']:+.1%}")
    print(f"   largest E2E percentile gap {worst:.1%}: {'within' if worst <= BOUND else 'OUTSIDE'} {BOUND:.0%}")
    print(f"\n3. fixed 1..40 sweep, {SWEEP_STEP_S:.0f} s steps: {40 * SWEEP_STEP_S / 60:.0f} min; at the measured levels:")
    print("   " + "\n   ".join(sweep_windows(scaled)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--estimate", action="store_true", help="print the runs and their expected wall time only")
    parser.add_argument("--keep", default="", help="keep the run directories here (default: a temporary one)")
    parser.add_argument("--only", choices=["plan"], help="run part 1 alone (the --users auto plan at time scale 10)")
    args = parser.parse_args()
    if args.only:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(args.keep or tmp)
            work.mkdir(parents=True, exist_ok=True)
            plan_report(one_run(10.0, work / "plan-x10", "--users", "auto"))
        return
    total = sum(ESTIMATE_S.values())
    print("runs: " + ", ".join(f"{k} ~{v / 60:.0f} min" for k, v in ESTIMATE_S.items()) + f"; total ~{total / 60:.0f} min wall")
    if args.estimate:
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        plan = one_run(10.0, work / "plan-x10", "--users", "auto")
        scaled = one_run(10.0, work / "levels-x10", "--users", LEVELS, "--step-duration", "auto")
        real = one_run(1.0, work / "levels-x1", "--users", LEVELS, "--step-duration", "auto")
        report(plan, scaled[0], real)
        print(f"\nbenchmark wall time {(time.monotonic() - started) / 60:.1f} min")


if __name__ == "__main__":
    main()
