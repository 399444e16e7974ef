"""GPU check of the launcher's preflight and the NVML sampler, for a machine with any number of GPUs.

Runs on a GPU host with PyTorch (no vLLM, no network needed):

    PYTHONPATH=src python3 benchmarks/gpu_check.py --out OUT_DIR [--load-s 20]

1. ``llmload serve --profile qwen3-32b-awq-2x4090 --dry-run``: the preflight's GPU verdict (TP 2 needs two
   GPUs; memory for utilisation 0.85), with all GPUs and with ``CUDA_VISIBLE_DEVICES=0``.
2. ``llmload telemetry`` samples NVML every 0.5 s while one torch matmul process per visible GPU runs
   between two idle periods; prints per-GPU idle vs load figures (utilisation, memory, power, clock).
3. While the load holds memory, a dry-run with a 1-GPU copy of the profile at utilisation 0.85 must fail
   the memory check.
4. ``CUDA_VISIBLE_DEVICES`` narrows the sampler: the last GPU alone, then none.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SEED_PROFILE = "serve/profiles/qwen3-32b-awq-2x4090.toml"
BURN = """
import sys, time, torch
dev = torch.device("cuda", 0)
hold = torch.empty(int(float(sys.argv[2]) * 2**30), dtype=torch.uint8, device=dev)
a = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
end = time.time() + float(sys.argv[1])
while time.time() < end:
    for _ in range(20):
        a = (a @ a).clamp_(-1, 1)
    torch.cuda.synchronize()
"""


def llmload(args: list[str], env: dict[str, str] | None = None, timeout_s: float = 120) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "llmload.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout_s,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def preflight(title: str, profile: str, env: dict[str, str]) -> None:
    rc, text = llmload(["serve", "--profile", profile, "--dry-run"], env)
    gpu_lines = [line for line in text.splitlines() if line.startswith("gpu")]
    print(f"preflight [{title}] exit {rc}: " + (" | ".join(gpu_lines) or text.strip()[-300:]))


def gpu_count(env: dict[str, str]) -> int:
    code = "import torch; print(torch.cuda.device_count())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return int(out.stdout.strip())


def one_gpu_profile(out: Path) -> str:
    text = (
        Path(SEED_PROFILE)
        .read_text(encoding="utf-8")
        .replace("tensor_parallel_size = 2", "tensor_parallel_size = 1")
    )
    path = out / "one-gpu-0.85.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def summarize(gpu_file: Path, load_start_s: float, load_end_s: float) -> None:
    rows = [json.loads(line) for line in gpu_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    for gpu in sorted({r["gpu"] for r in rows}):
        mine = [r for r in rows if r["gpu"] == gpu]
        idle = [r for r in mine if r["t_s"] < load_start_s - 0.5 or r["t_s"] > load_end_s + 3]
        busy = [r for r in mine if load_start_s + 3 <= r["t_s"] <= load_end_s - 0.5]

        def med(part: list[dict[str, float]], key: str, scale: float = 1.0) -> str:
            vals = [r[key] / scale for r in part if r.get(key) is not None]
            return f"{statistics.median(vals):.0f}" if vals else "-"

        print(
            f"gpu {gpu} {mine[0]['name']} ({len(mine)} samples; idle {len(idle)}, load {len(busy)}): "
            f"util {med(idle, 'util_percent')}% -> {med(busy, 'util_percent')}%, "
            f"mem {med(idle, 'mem_used_bytes', 2**30)} -> {med(busy, 'mem_used_bytes', 2**30)} GiB "
            f"of {med(mine, 'mem_total_bytes', 2**30)}, power {med(idle, 'power_w')} -> {med(busy, 'power_w')} W, "
            f"temp {med(idle, 'temp_c')} -> {med(busy, 'temp_c')} C, "
            f"SM clock {med(idle, 'sm_clock_mhz')} -> {med(busy, 'sm_clock_mhz')} MHz"
        )


def sampler_gpus(out: Path, name: str, visible: str) -> list[int]:
    env = dict(os.environ, CUDA_VISIBLE_DEVICES=visible)
    folder = out / name
    llmload(["telemetry", "--out", str(folder), "--interval", "0.5", "--duration", "2"], env)
    path = folder / "gpu.jsonl"
    if not path.exists():
        return []
    return sorted({json.loads(line)["gpu"] for line in path.read_text(encoding="utf-8").splitlines() if line})


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", required=True)
    parser.add_argument("--load-s", type=float, default=20.0)
    parser.add_argument(
        "--hold-gib", type=float, default=0.0, help="GPU memory each burner holds (default: 60%% of total)"
    )
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    count = gpu_count(env)
    print(f"torch sees {count} GPU(s)")
    preflight("seed profile, all GPUs", SEED_PROFILE, env)
    preflight("seed profile, CUDA_VISIBLE_DEVICES=0", SEED_PROFILE, dict(env, CUDA_VISIBLE_DEVICES="0"))
    one_gpu = one_gpu_profile(out)
    preflight("TP 1 at 0.85, idle", one_gpu, dict(env, CUDA_VISIBLE_DEVICES="0"))

    telemetry = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llmload.cli",
            "telemetry",
            "--out",
            str(out / "telemetry"),
            "--interval",
            "0.5",
        ],
        env=env,
    )
    time.sleep(5)
    import torch

    hold_gib = args.hold_gib or 0.6 * torch.cuda.get_device_properties(0).total_memory / 2**30
    load_start_s = time.time()
    burners = [
        subprocess.Popen(
            [sys.executable, "-c", BURN, str(args.load_s), str(hold_gib)],
            env=dict(env, CUDA_VISIBLE_DEVICES=str(i)),
        )
        for i in range(count)
    ]
    time.sleep(min(10.0, args.load_s / 2))
    preflight(
        f"TP 1 at 0.85, {hold_gib:.0f} GiB held by the load", one_gpu, dict(env, CUDA_VISIBLE_DEVICES="0")
    )
    for burner in burners:
        burner.wait()
    load_end_s = time.time()
    time.sleep(6)
    telemetry.terminate()
    telemetry.wait(timeout=30)
    summarize(out / "telemetry" / "gpu.jsonl", load_start_s, load_end_s)
    last = str(count - 1)
    print(f"sampler with CUDA_VISIBLE_DEVICES={last}: GPUs {sampler_gpus(out, 'narrow', last)}")
    print(f"sampler with CUDA_VISIBLE_DEVICES='': GPUs {sampler_gpus(out, 'none', '')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
