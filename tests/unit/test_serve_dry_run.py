"""`llmload serve --profile NAME --dry-run` for every example profile, here where no engine is installed (and
no GPU, on the project's machines): it prints the interpreter and why, the checks and the exact argv, then
exits 2 with one stderr line per failed check."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmload.cli import main
from llmload.telemetry.nvml import read_nvml_inventory

# the command each profile prints; {py}: the engine's interpreter, {cache}: the model cache
EXPECTED = {
    "qwen3-32b-awq-2x4090": "{py} -m vllm.entrypoints.openai.api_server"
    " --model /models/Qwen/Qwen3-32B-AWQ --served-model-name Qwen3-32B-AWQ --host 0.0.0.0 --port 4444"
    " --tensor-parallel-size 2 --gpu-memory-utilization 0.85 --max-num-seqs 64 --max-model-len 32768"
    " --enforce-eager --trust-remote-code",
    "transformers-gpu": "{py} -m transformers.cli.transformers serve {cache}/random-qwen3-8b-shape"
    " --host 127.0.0.1 --port 8452 --device cuda:0 --continuous-batching --cb-num-blocks 256"
    " --cb-block-size 32 --cb-use-cuda-graph",
    "sglang-qwen3-32b-awq-2x4090": "{py} -m sglang.launch_server --model-path /models/Qwen/Qwen3-32B-AWQ"
    " --served-model-name Qwen3-32B-AWQ --host 0.0.0.0 --port 30000 --tp-size 2 --mem-fraction-static 0.85"
    " --max-running-requests 64 --context-length 32768 --trust-remote-code --enable-metrics",
    "command-llama-server": "llama-server --model {cache}/Qwen3-8B-Q4_K_M.gguf --alias qwen3-8b"
    " --host 127.0.0.1 --port 8080 --parallel 4 --ctx-size 16384 --n-gpu-layers 999 --metrics",
    "vllm-ascend-qwen3-32b-2x910b": "{py} -m vllm.entrypoints.openai.api_server"
    " --model /models/Qwen/Qwen3-32B --served-model-name Qwen3-32B --host 0.0.0.0 --port 4445"
    " --tensor-parallel-size 2 --gpu-memory-utilization 0.85 --max-num-seqs 64 --max-model-len 32768"
    " --trust-remote-code",
}
ENGINE_CHECK = {"transformers-gpu": "transformers", "sglang-qwen3-32b-awq-2x4090": "sglang"}
ENGINE_CHECK |= {"command-llama-server": "command"}


@pytest.fixture
def bare_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """No engine anywhere: each engine's interpreter is a python that does not exist, PATH is empty."""
    python = tmp_path / "no-engine" / "python"
    for variable in ("LLMLOAD_VLLM_PYTHON", "LLMLOAD_SGLANG_PYTHON", "LLMLOAD_TRANSFORMERS_PYTHON"):
        monkeypatch.setenv(variable, str(python))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("LLMLOAD_MODEL_CACHE", str(tmp_path / "models"))
    return {"py": str(python), "cache": str(tmp_path / "models")}


def check_rows(out: str) -> list[tuple[str, str]]:
    """(name, ok/FAIL) of each row of the printed check table."""
    rows = [line.split(maxsplit=2) for line in out.splitlines()]
    return [(row[0], row[1]) for row in rows if len(row) == 3 and row[1] in ("ok", "FAIL")]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dry_run_prints_the_argv_and_fails_preflight_cleanly(
    name: str, bare_machine: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["serve", "--profile", name, "--dry-run"])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert "command: " + EXPECTED[name].format(**bare_machine) in out.splitlines()
    failed = [check for check, status in check_rows(out) if status == "FAIL"]
    assert ENGINE_CHECK.get(name, "vllm") in failed and "model" in failed
    if read_nvml_inventory()[0] is None and "ascend" not in name:
        assert "gpu" in failed  # no NVML here: the GPU check fails, it does not crash
    assert err.splitlines() == [
        line for line in err.splitlines() if line.startswith("llmload: preflight failed: ")
    ]
    assert [line.split(": ")[2] for line in err.splitlines()] == failed  # one line per failed check, in order
    assert "Traceback" not in err


def test_dry_run_says_which_interpreter_and_why(
    bare_machine: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    main(["serve", "--profile", "qwen3-32b-awq-2x4090", "--dry-run"])
    lines = capsys.readouterr().out.splitlines()
    assert f"python   {bare_machine['py']}: $LLMLOAD_VLLM_PYTHON" in lines
    assert "engine   vllm (vLLM), device gpu" in lines
    assert "ready    GET /health answers 200 and GET /v1/models lists Qwen3-32B-AWQ" in lines
    main(["serve", "--profile", "vllm-ascend-qwen3-32b-2x910b", "--dry-run"])
    out = capsys.readouterr().out
    assert "env: ASCEND_RT_VISIBLE_DEVICES=0,1" in out.splitlines() and "untested on Ascend" in out
