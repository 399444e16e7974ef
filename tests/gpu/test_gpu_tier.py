"""The GPU tier (`make test-gpu`, on the GPU machine): a random-weight Qwen3 of a 8B shape (36 layers x 4096,
bf16), served by `transformers serve --continuous-batching` from the `transformers-gpu` serve profile (started
by llmload's own launcher, as `llmload serve --profile transformers-gpu` would) with a KV budget of
KV_BLOCKS x KV_BLOCK_SIZE tokens read from that profile, under llmload's load with NVML sampling.

Prediction: paged attention allocates a request's blocks as its tokens arrive, so a request holds its
prompt's blocks plus, on average over its decode, half its output's: KV_BLOCKS / (prompt + output / 2) x block
size requests fit at once; past that they wait and throughput stops growing: the knee. (A scheduler that
reserved a whole answer's blocks at admission would fit KV_BLOCKS / ceil((prompt + output) / block size);
the H200's first sweep, 256 blocks, put the knee at 22 against 21.3 for the paged model and 18 for that one.)
`LLMLOAD_GPU_KV_BLOCKS` sets another budget than the profile's (an out-of-sample check of the model).
Checked: the knee of a sweep and of `--users auto` within one user of it; GPU utilisation, power, SM clock
and memory per step in summary.json, aligned with the steps; output tokens exact (the server's usage; EOS
from random weights ends a few early, counted). NVML utilisation is the share of time a kernel runs, not
how full the GPU is: one CUDA-graph decode stream already keeps it at ~95% on the H200 (it read 95% at 1
user and 78% at 28), so it is checked for presence and a busy GPU, not for rising with users.

Seen on this server (not llmload): it rejects unknown request fields (HTTP 422 for vLLM's `ignore_eos`),
answers `/v1/models` with HTTP 500 and needs the model's path as its name, and ends streams without
`data: [DONE]`; llmload runs against it all the same (docs/gpu.md).
"""

from __future__ import annotations

import dataclasses
import json
import os
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
BASE_PROFILE = load_profile("transformers-gpu")  # the model lands in $LLMLOAD_MODEL_CACHE (~/.cache/llmload/models)
KV_BLOCKS = int(os.environ.get("LLMLOAD_GPU_KV_BLOCKS") or BASE_PROFILE.args["cb-num-blocks"])
PROFILE = dataclasses.replace(BASE_PROFILE, args={**BASE_PROFILE.args, "cb-num-blocks": KV_BLOCKS})
MODEL_DIR = Path(PROFILE.model)
LAYERS, HIDDEN, VOCAB = 36, 4096, 32768
KV_BLOCK_SIZE = int(PROFILE.args["cb-block-size"])
OUTPUT_TOKENS, BATCH_SIZE = 128, 5
STEP = "20s"
RUN_TIMEOUT_S = 1200  # a 13-level sweep of 20 s steps, or an auto plan of ~12 such steps, with room to spare


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

    with EngineServer(
        PROFILE, tmp_path_factory.mktemp("serve"), python=sys.executable, port=free_port()
    ) as srv:
        print(f"transformers serve ready in {srv.startup_s:.0f} s: {' '.join(srv.argv[1:])}")
        yield srv.base_url


def run(url: str, users: str, out: Path) -> dict[str, Any]:
    argv = [
        sys.executable, "-m", "llmload.cli", "run", "--host", url, "--model", str(MODEL_DIR), "--users", users,
        "--step-duration", STEP, "--max-tokens", str(OUTPUT_TOKENS), "--batch-size", str(BATCH_SIZE),
        "--no-score", "--metrics-interval", "1s", "--out", str(out),
    ]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)
    print(done.stdout[-3000:], done.stderr[-2000:], f"wall {time.monotonic() - started:.0f} s", sep="\n")
    assert done.returncode == 0, done.stderr[-3000:]
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text())
    return summary


def predicted_knee(summary: dict[str, Any]) -> float:
    """Requests that fit the KV budget at once (module doc): blocks / mean blocks held over a request's life."""
    prompt = [s["prompt_tokens_mean"] for s in summary["steps"] if s["prompt_tokens_mean"]]
    return KV_BLOCKS * KV_BLOCK_SIZE / (sum(prompt) / len(prompt) + OUTPUT_TOKENS / 2)


def sweep_levels() -> str:
    """Every user level around the predicted knee (prompts of ~320 tokens), sparser below it."""
    around = round(KV_BLOCKS * KV_BLOCK_SIZE / (320 + OUTPUT_TOKENS / 2))
    return ",".join(str(u) for u in sorted({1, 2, 4, 8, *range(max(1, around - 4), around + 5)}))


GPU_KEYS = ("util_mean_percent", "power_mean_w", "sm_clock_mean_mhz", "mem_used_max_bytes")  # summary steps[].gpu[]


def print_steps(summary: dict[str, Any]) -> None:
    print("users  rps    tok/s   e2e_p50  gpu_util%  power_W  sm_MHz  mem_used_bytes")
    for s in summary["steps"]:
        gpu = (s.get("gpu") or [{}])[0]
        print(s["users"], f"{s['rps']:.3f}", f"{s['output_tokens_per_s']:.0f}", f"{s['e2e_s']['p50']:.2f}",
              *(gpu.get(key) for key in GPU_KEYS))  # fmt: skip


def check_gpu_steps(summary: dict[str, Any]) -> None:
    """NVML figures in every step, from a busy GPU (module doc: utilisation does not rise with users)."""
    for step in summary["steps"]:
        gpu = (step.get("gpu") or [{}])[0]
        assert all(gpu.get(key) is not None for key in GPU_KEYS), (step["users"], gpu)
        assert gpu["util_mean_percent"] > 50 and gpu["power_mean_w"] > 100, (step["users"], gpu)


def check_tokens(run_dir: Path) -> None:
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    ok = [r for r in records if r["ok"]]
    full = [r for r in ok if r["finish_reason"] == "length"]
    assert all(r["output_tokens"] == OUTPUT_TOKENS for r in full)
    assert len(full) >= 0.9 * len(ok), f"{len(ok) - len(full)} of {len(ok)} ended early (EOS)"


@pytest.mark.timeout(RUN_TIMEOUT_S + 120)
def test_sweep_knee_is_the_kv_budget_prediction(server: str, tmp_path: Path) -> None:
    summary = run(server, sweep_levels(), tmp_path / "sweep")
    print_steps(summary)
    predicted = predicted_knee(summary)
    knee = summary["knee"]["users"] if summary["knee"] else None
    print(f"knee {knee}, predicted {predicted:.1f} ({KV_BLOCKS} blocks x {KV_BLOCK_SIZE} tokens)")
    assert knee is not None and abs(knee - predicted) <= 1
    check_gpu_steps(summary)
    check_tokens(tmp_path / "sweep")


@pytest.mark.timeout(RUN_TIMEOUT_S + 120)
def test_adaptive_knee_is_the_kv_budget_prediction(server: str, tmp_path: Path) -> None:
    summary = run(server, "auto", tmp_path / "auto")
    print_steps(summary)
    predicted = predicted_knee(summary)
    knee = summary["knee"]["users"] if summary["knee"] else None
    print(f"auto: knee {knee}, predicted {predicted:.1f}, {len(summary['steps'])} steps")
    assert knee is not None and abs(knee - predicted) <= 1
