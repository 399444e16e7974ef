"""Which Python runs a profile's engine, why that one, and which version of the engine it imports.

vLLM on a ``device = "cpu"`` profile is the test tier: the CPU build's own venv (``make vllm-env``). Every
other Python engine profile uses the user's installation, the first of:
1. ``$LLMLOAD_<ENGINE>_PYTHON`` (``LLMLOAD_VLLM_PYTHON``, ``LLMLOAD_SGLANG_PYTHON``,
   ``LLMLOAD_TRANSFORMERS_PYTHON``);
2. the interpreter of the engine's own command on PATH (``vllm``, ``sglang``, ``transformers``): its venv's;
3. ``python3`` on PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from llmload.serve.engines import Engine
from llmload.serve.vllm_env import cpu_vllm_python

Which = Callable[[str], str | None]


@dataclass(frozen=True, slots=True)
class Interpreter:
    python: Path
    why: str  # how it was chosen, for `llmload serve --dry-run`
    hint: str  # what to do when the engine cannot be imported there


def script_python(script: Path, which: Which = shutil.which) -> Path | None:
    """The Python a console script runs with: its ``#!`` line (``/venv/bin/python``, ``/usr/bin/env
    python3``), else a ``python3``/``python`` beside it (pip's ``#!/bin/sh`` wrapper for long paths)."""
    try:
        with script.open("rb") as fh:
            first = fh.readline(512).decode("utf-8", errors="replace")
    except OSError:
        return None
    words = first.removeprefix("#!").split() if first.startswith("#!") else []
    if words and Path(words[0]).name.startswith("python"):
        return Path(words[0])
    if len(words) > 1 and Path(words[0]).name == "env" and words[1].startswith("python"):
        found = which(words[1])
        return Path(found) if found else None
    for sibling in ("python3", "python"):
        if (script.parent / sibling).is_file():
            return script.parent / sibling
    return None


def engine_python(
    engine: Engine, device: str, environ: Mapping[str, str] = os.environ, which: Which = shutil.which
) -> Interpreter | None:
    """The interpreter that runs ``engine`` for a profile on ``device``, and why (see the module doc);
    None for a ``command`` profile, whose program is its own."""
    if engine.module is None:
        return None
    variable = engine.python_variable
    if engine.name == "vllm" and device == "cpu":
        why = "device = cpu: the vLLM CPU test venv ($LLMLOAD_VLLM_VENV, default ~/.cache/llmload/vllm-venv)"
        return Interpreter(cpu_vllm_python(), why, "run `make vllm-env`")
    hint = f"install {engine.module} there, or set {variable} to the python that has it"
    if environ.get(variable):
        return Interpreter(Path(environ[variable]), f"${variable}", hint)
    script = which(engine.name)
    python = script_python(Path(script), which) if script else None
    if script and python:
        return Interpreter(python, f"the interpreter of {script} (`{engine.name}` on PATH)", hint)
    fallback = which("python3") or "python3"
    why = f"python3 on PATH (no `{engine.name}` on PATH and ${variable} unset)"
    return Interpreter(Path(fallback), why, hint)


def module_version(python: str | Path, module: str, timeout_s: float = 120.0) -> tuple[str | None, str]:
    """(version, detail): the version of ``module`` importable by ``python``, or None and the reason."""
    argv = [str(python), "-c", f"import {module}; print({module}.__version__)"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    except (FileNotFoundError, PermissionError):
        return None, f"python not found: {python}"
    except subprocess.TimeoutExpired:
        return None, f"`import {module}` took over {timeout_s:.0f} s in {python}"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"`import {module}` failed in {python}: {last}"
    lines = done.stdout.strip().splitlines()
    version = lines[-1].strip() if lines else ""
    return (
        (version, f"{module} {version} in {python}") if version else (None, f"no version printed by {python}")
    )
