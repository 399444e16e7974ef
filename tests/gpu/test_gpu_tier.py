"""The GPU tier (`make test-gpu`, on the GPU machine): a random-weight Qwen3 of a 8B shape (36 layers x 4096,
bf16), served by `transformers serve --continuous-batching` from the `transformers-gpu` serve profile (started
by llmload's own launcher, as `llmload serve --profile transformers-gpu` would) with a KV budget of
KV_BLOCKS x KV_BLOCK_SIZE tokens read from that profile, under llmload's load with NVML sampling.

Prediction: each request holds ceil((prompt + output tokens) / block size) blocks at its end, so at most
KV_BLOCKS // that many requests run at once; past that they wait and throughput stops growing: the knee.
Checked: the knee of a sweep and of `--users auto` within one user of it; GPU utilisation, power, SM clock
and memory per step in summary.json, aligned with the steps (utilisation rises with users and flattens at
the knee); output tokens exact (the server's usage; EOS from random weights ends a few early, counted).

Seen on this server (not llmload): it rejects unknown request fields (HTTP 422 for vLLM's `ignore_eos`),
answers `/v1/models` with HTTP 500 and needs the model's path as its name, and ends streams without
`data: [DONE]`; llmload runs against it all the same (docs/gpu.md).
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmload.serve.serve_profile import load_profile

REPO = Path(__file__).resolve().parents[2]
PROFILE = load_profile("transformers-gpu")  # the model lands in $LLMLOAD_MODEL_CACHE (~/.cache/llmload/models)
MODEL_DIR = Path(PROFILE.model)
LAYERS, HIDDEN, VOCAB = 36, 4096, 32768
KV_BLOCKS, KV_BLOCK_SIZE = int(PROFILE.args["cb-num-blocks"]), int(PROFILE.args["cb-block-size"])
OUTPUT_TOKENS, BATCH_SIZE = 128, 5
STEP = "20s"
SWEEP = "1,2,4,8,12,16,18,20,22,24,26,28,32"


def _gpu_present() -> bool:
    if shutil.which("nvidia-smi") is None:
        return False
    return subprocess.run(["nvidia-smi", "-L"], capture_output=True, check=False).returncode == 0


pytestmark = pytest.mark.skipif(not _gpu_present(), reason="no NVIDIA GPU here (nvidia-smi finds none)")


@pytest.fixture(scope="session")
def model_dir() -> Path:
    started = time.monotonic()
    subprocess.run(
        [sys.executable, str(REPO / "serve" / "tiny_model" / "build.py"), "--out", str(MODEL_DIR),
         "--layers", str(LAYERS), "--hidden", str(HIDDEN), "--vocab-size", str(VOCAB), "--dtype", "bfloat16",
         "--device", "cuda"],
        check=True, timeout=900,
    )  # fmt: skip
    print(f"model {MODEL_DIR}: {LAYERS} x {HIDDEN} bf16 ready in {time.monotonic() - started:.0f} s")
    return MODEL_DIR


@pytest.fixture(scope="session")
def server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The profile's server on a free port, run by this interpreter (it has torch, transformers and the
    wheels of .whl/ on PYTHONPATH, which the server inherits)."""
    from llmload.processes import free_port
    from llmload.serve.launcher import EngineServer

    with EngineServer(PROFILE, tmp_path_factory.mktemp("serve"), python=sys.executable, port=free_port()) as srv:
        print(f"transformers serve ready in {srv.startup_s:.0f} s: {' '.join(srv.argv[1:])}")
        yield srv.base_url


def run(url: str, users: str, out: Path) -> dict[str, Any]:
    argv = [
        sys.executable, "-m", "llmload.cli", "run", "--host", url, "--model", str(MODEL_DIR), "--users", users,
        "--step-duration", STEP, "--max-tokens", str(OUTPUT_TOKENS), "--batch-size", str(BATCH_SIZE),
        "--no-score", "--metrics-interval", "1s", "--out", str(out),
    ]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=1800, check=False)
    print(done.stdout[-3000:], done.stderr[-2000:], f"wall {time.monotonic() - started:.0f} s", sep="\n")
    assert done.returncode == 0, done.stderr[-3000:]
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text())
    return summary


def predicted_knee(summary: dict[str, Any]) -> int:
    prompt = [s["prompt_tokens_mean"] for s in summary["steps"] if s["prompt_tokens_mean"]]
    blocks_per_request = math.ceil((sum(prompt) / len(prompt) + OUTPUT_TOKENS) / KV_BLOCK_SIZE)
    return KV_BLOCKS // blocks_per_request


GPU_KEYS = ("util_mean_percent", "power_mean_w", "sm_clock_mean_mhz", "mem_used_max_bytes")  # summary steps[].gpu[]


def print_steps(summary: dict[str, Any]) -> None:
    print("users  rps    tok/s   e2e_p50  gpu_util%  power_W  sm_MHz  mem_used_bytes")
    for s in summary["steps"]:
        gpu = (s.get("gpu") or [{}])[0]
        print(s["users"], f"{s['rps']:.3f}", f"{s['output_tokens_per_s']:.0f}", f"{s['e2e_s']['p50']:.2f}",
              *(gpu.get(key) for key in GPU_KEYS))  # fmt: skip


def check_gpu_steps(summary: dict[str, Any], knee: int) -> None:
    steps = sorted(summary["steps"], key=lambda s: s["users"])
    utils = [((s.get("gpu") or [{}])[0]).get("util_mean_percent") for s in steps]
    assert all(u is not None for u in utils), "NVML samples missing from a step"
    for key in GPU_KEYS[1:]:
        assert all((s["gpu"][0]).get(key) is not None for s in steps), key
    below = [u for s, u in zip(steps, utils, strict=True) if s["users"] < knee]
    assert below == sorted(below) or max(below) - min(below) > 20  # rises with users below the knee


def check_tokens(run_dir: Path) -> None:
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    ok = [r for r in records if r["ok"]]
    full = [r for r in ok if r["finish_reason"] == "length"]
    assert all(r["output_tokens"] == OUTPUT_TOKENS for r in full)
    assert len(full) >= 0.9 * len(ok), f"{len(ok) - len(full)} of {len(ok)} ended early (EOS)"


def test_sweep_knee_is_the_kv_budget_prediction(server: str, tmp_path: Path) -> None:
    summary = run(server, SWEEP, tmp_path / "sweep")
    print_steps(summary)
    predicted = predicted_knee(summary)
    knee = summary["knee"]["users"] if summary["knee"] else None
    print(f"knee {knee}, predicted {predicted} ({KV_BLOCKS} blocks x {KV_BLOCK_SIZE} tokens)")
    assert knee is not None and abs(knee - predicted) <= 1
    check_gpu_steps(summary, predicted)
    check_tokens(tmp_path / "sweep")


def test_adaptive_knee_is_the_kv_budget_prediction(server: str, tmp_path: Path) -> None:
    summary = run(server, "auto", tmp_path / "auto")
    print_steps(summary)
    predicted = predicted_knee(summary)
    knee = summary["knee"]["users"] if summary["knee"] else None
    print(f"auto: knee {knee}, predicted {predicted}, {len(summary['steps'])} steps")
    assert knee is not None and abs(knee - predicted) <= 1
