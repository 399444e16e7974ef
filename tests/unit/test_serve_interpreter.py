"""Which Python runs an engine: the CPU test venv for vLLM on CPU only; the user's own installation
otherwise."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from llmload.serve.engines import COMMAND_ENGINE, SGLANG, TRANSFORMERS, VLLM
from llmload.serve.interpreter import engine_python, module_version, script_python


def script(folder: Path, name: str, first_line: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(first_line + "\nimport sys\n")
    path.chmod(0o755)
    return path


def which_in(folder: Path) -> Callable[[str], str | None]:
    def which(name: str) -> str | None:
        path = folder / name
        return str(path) if path.is_file() else None

    return which


def test_vllm_on_cpu_is_the_test_venv_whatever_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMLOAD_VLLM_VENV", str(tmp_path / "venv"))
    bin_dir = tmp_path / "bin"
    script(bin_dir, "vllm", "#!/opt/gpu/bin/python3.12")
    chosen = engine_python(VLLM, "cpu", {"LLMLOAD_VLLM_PYTHON": "/opt/gpu/bin/python"}, which_in(bin_dir))
    assert chosen is not None
    assert chosen.python == tmp_path / "venv" / "bin" / "python"
    assert "device = cpu" in chosen.why and chosen.hint == "run `make vllm-env`"


def test_gpu_vllm_is_the_variable_then_the_vllm_on_path_then_python3(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    script(bin_dir, "python3", "#!/bin/sh")
    which = which_in(bin_dir)
    fallback = engine_python(VLLM, "gpu", {}, which)
    assert fallback is not None and fallback.python == bin_dir / "python3"
    assert fallback.why == "python3 on PATH (no `vllm` on PATH and $LLMLOAD_VLLM_PYTHON unset)"
    script(bin_dir, "vllm", "#!/opt/gpu/bin/python3.12")
    on_path = engine_python(VLLM, "gpu", {}, which)
    assert on_path is not None and on_path.python == Path("/opt/gpu/bin/python3.12")
    assert on_path.why == f"the interpreter of {bin_dir / 'vllm'} (`vllm` on PATH)"
    chosen = engine_python(VLLM, "npu", {"LLMLOAD_VLLM_PYTHON": "/srv/vllm/bin/python"}, which)
    assert chosen is not None and (chosen.python, chosen.why) == (
        Path("/srv/vllm/bin/python"),
        "$LLMLOAD_VLLM_PYTHON",
    )
    assert "set LLMLOAD_VLLM_PYTHON" in chosen.hint


def test_each_engine_has_its_own_variable_and_a_command_needs_none(tmp_path: Path) -> None:
    which = which_in(tmp_path)
    for engine, variable in (
        (SGLANG, "LLMLOAD_SGLANG_PYTHON"),
        (TRANSFORMERS, "LLMLOAD_TRANSFORMERS_PYTHON"),
    ):
        chosen = engine_python(engine, "cpu", {variable: "/x/python"}, which)
        assert chosen is not None and chosen.python == Path("/x/python")
    assert engine_python(COMMAND_ENGINE, "gpu", {}, which) is None


def test_script_python_reads_shebangs_env_and_pip_wrappers(tmp_path: Path) -> None:
    assert script_python(script(tmp_path / "a", "vllm", "#!/venv/bin/python")) == Path("/venv/bin/python")
    env = script(tmp_path / "b", "sglang", "#!/usr/bin/env python3")
    assert script_python(env, lambda name: "/usr/local/bin/python3" if name == "python3" else None) == Path(
        "/usr/local/bin/python3"
    )
    wrapper = script(tmp_path / "c", "transformers", "#!/bin/sh")  # pip's wrapper for over-long paths
    script(tmp_path / "c", "python3", "#!/bin/sh")
    assert script_python(wrapper) == tmp_path / "c" / "python3"
    assert script_python(script(tmp_path / "d", "vllm", "#!/bin/sh")) is None
    assert script_python(tmp_path / "missing") is None


def test_module_version_runs_the_interpreter(tmp_path: Path) -> None:
    version, detail = module_version(sys.executable, "pytest")
    assert version == pytest.__version__ and detail == f"pytest {version} in {sys.executable}"
    missing, why = module_version(sys.executable, "no_such_engine_pkg")
    assert missing is None
    assert why.startswith(f"`import no_such_engine_pkg` failed in {sys.executable}: ModuleNotFoundError")
    assert module_version(tmp_path / "nope", "vllm") == (None, f"python not found: {tmp_path / 'nope'}")
