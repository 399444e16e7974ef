"""Serve profiles: a TOML file describing one vLLM deployment, turned into an argv list.

A profile names the model, the port and the vLLM engine settings. Any other vLLM flag goes into the
``[args]`` table (``flag-name = value``; ``true`` gives a bare flag, ``false`` omits it, a list repeats
the flag). Environment variables for the server go into ``[env]``. The ``model`` path may use ``~``,
``$VARS`` and ``{model_cache}`` (``$LLMLOAD_MODEL_CACHE`` or ``~/.cache/llmload/models``).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmload.cpus import AUTO, parse_cpu_list
from llmload.errors import UsageError
from llmload.serve.vllm_env import model_cache_dir, profiles_dir

API_SERVER_MODULE = "vllm.entrypoints.openai.api_server"
DEVICES = ("gpu", "cpu")

# key -> accepted python types
_KNOWN_KEYS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "description": (str,),
    "model": (str,),
    "served_model_name": (str,),
    "download_hint": (str,),
    "device": (str,),
    "host": (str,),
    "port": (int,),
    "tensor_parallel_size": (int,),
    "gpu_memory_utilization": (float, int),
    "max_num_seqs": (int,),
    "max_model_len": (int,),
    "dtype": (str,),
    "enforce_eager": (bool,),
    "trust_remote_code": (bool,),
    "startup_timeout_s": (float, int),
    "cpus": (str,),
    "args": (dict,),
    "env": (dict,),
}


@dataclass(frozen=True, slots=True)
class ServeProfile:
    """One validated serve profile. ``model`` is an expanded filesystem path."""

    name: str
    source: Path
    model: str
    served_model_name: str
    port: int
    host: str = "127.0.0.1"
    device: str = "gpu"
    description: str = ""
    download_hint: str = ""
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float | None = None
    max_num_seqs: int | None = None
    max_model_len: int | None = None
    dtype: str | None = None
    enforce_eager: bool = False
    trust_remote_code: bool = False
    startup_timeout_s: float = 600.0
    cpus: str | None = None  # cores for the server's processes: "auto" (all but the generator's) or "1-3"
    args: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)


def resolve_profile_path(name_or_path: str | Path) -> Path:
    """A file path as given, or a bare name looked up as ``serve/profiles/<name>.toml``."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    candidate = profiles_dir() / f"{name_or_path}.toml"
    if candidate.is_file():
        return candidate
    known = ", ".join(sorted(p.stem for p in profiles_dir().glob("*.toml"))) or "none"
    raise UsageError(f"serve profile not found: {name_or_path} (known profiles: {known})")


def _key_line(text: str, key: str) -> int:
    """1-based line where ``key`` is assigned or opened as a table; 1 when not found."""
    pattern = re.compile(rf"^\s*(\[\s*{re.escape(key)}\s*\]|{re.escape(key)}\s*=)")
    for lineno, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return lineno
    return 1


def expand_model_path(raw: str) -> str:
    """Expand ``{model_cache}``, ``$VARS`` and ``~`` in a model path."""
    return os.path.expanduser(os.path.expandvars(raw.replace("{model_cache}", str(model_cache_dir()))))


def _validate_types(data: dict[str, Any], text: str, where: Path) -> None:
    for key, value in data.items():
        line = _key_line(text, key)
        if key not in _KNOWN_KEYS:
            known = ", ".join(sorted(_KNOWN_KEYS))
            raise UsageError(f"{where}:{line}: unknown key '{key}' (known keys: {known})")
        types = _KNOWN_KEYS[key]
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            names = "/".join(t.__name__ for t in types)
            raise UsageError(f"{where}:{line}: key '{key}' must be {names}, got {value!r}")
    for table in ("args", "env"):
        for sub_key, sub_value in data.get(table, {}).items():
            if isinstance(sub_value, dict):
                line = _key_line(text, sub_key)
                raise UsageError(
                    f"{where}:{line}: [{table}] '{sub_key}' must be a scalar or list, not a table"
                )


def _check_values(data: dict[str, Any], text: str, where: Path) -> None:
    def bad(key: str, why: str) -> UsageError:
        return UsageError(f"{where}:{_key_line(text, key)}: {why}")

    if "model" not in data:
        raise UsageError(f"{where}:1: missing required key 'model' (path to the model folder)")
    if "port" not in data:
        raise UsageError(f"{where}:1: missing required key 'port'")
    if not 1 <= data["port"] <= 65535:
        raise bad("port", f"port must be 1..65535, got {data['port']}")
    if data.get("device", "gpu") not in DEVICES:
        raise bad("device", f"device must be one of {DEVICES}, got {data['device']!r}")
    if data.get("tensor_parallel_size", 1) < 1:
        raise bad("tensor_parallel_size", "tensor_parallel_size must be >= 1")
    util = data.get("gpu_memory_utilization")
    if util is not None and not 0.0 < util <= 1.0:
        raise bad("gpu_memory_utilization", f"gpu_memory_utilization must be in (0, 1], got {util}")
    for key in ("max_num_seqs", "max_model_len"):
        if key in data and data[key] < 1:
            raise bad(key, f"{key} must be >= 1, got {data[key]}")
    if data.get("cpus", AUTO) != AUTO:
        try:
            parse_cpu_list(data["cpus"], "cpus")
        except UsageError as exc:
            raise bad("cpus", str(exc)) from None


def load_profile(path: str | Path) -> ServeProfile:
    """Read and validate a profile file (or bare profile name). Raises UsageError on bad input."""
    where = resolve_profile_path(path)
    text = where.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{where}: invalid TOML: {exc}") from exc
    _validate_types(data, text, where)
    _check_values(data, text, where)
    model = expand_model_path(data["model"])
    util = data.get("gpu_memory_utilization")
    return ServeProfile(
        name=data.get("name", where.stem),
        source=where,
        model=model,
        served_model_name=data.get("served_model_name", Path(model).name),
        port=data["port"],
        host=data.get("host", "127.0.0.1"),
        device=data.get("device", "gpu"),
        description=data.get("description", ""),
        download_hint=data.get("download_hint", ""),
        tensor_parallel_size=data.get("tensor_parallel_size", 1),
        gpu_memory_utilization=float(util) if util is not None else None,
        max_num_seqs=data.get("max_num_seqs"),
        max_model_len=data.get("max_model_len"),
        dtype=data.get("dtype"),
        enforce_eager=data.get("enforce_eager", False),
        trust_remote_code=data.get("trust_remote_code", False),
        startup_timeout_s=float(data.get("startup_timeout_s", 600.0)),
        cpus=data.get("cpus"),
        args=dict(data.get("args", {})),
        env={k: str(v) for k, v in data.get("env", {}).items()},
    )


def _flag_args(flag: str, value: Any) -> list[str]:
    opt = "--" + flag.removeprefix("--").replace("_", "-")
    if value is True:
        return [opt]
    if value is False:
        return []
    if isinstance(value, list):
        return [part for item in value for part in (opt, str(item))]
    return [opt, str(value)]


def profile_to_argv(profile: ServeProfile, python: str | Path, port: int | None = None) -> list[str]:
    """The full command line (a list, never a shell string) that starts vLLM for this profile."""
    argv = [str(python), "-m", API_SERVER_MODULE, "--model", profile.model]
    argv += ["--served-model-name", profile.served_model_name]
    argv += ["--host", profile.host, "--port", str(port if port is not None else profile.port)]
    if profile.tensor_parallel_size != 1:
        argv += ["--tensor-parallel-size", str(profile.tensor_parallel_size)]
    optional: list[tuple[str, Any]] = [
        ("gpu-memory-utilization", profile.gpu_memory_utilization),
        ("max-num-seqs", profile.max_num_seqs),
        ("max-model-len", profile.max_model_len),
        ("dtype", profile.dtype),
    ]
    for flag, value in optional:
        if value is not None:
            argv += _flag_args(flag, value)
    argv += _flag_args("enforce-eager", profile.enforce_eager)
    argv += _flag_args("trust-remote-code", profile.trust_remote_code)
    for flag, value in profile.args.items():
        argv += _flag_args(flag, value)
    return argv


def missing_model_message(profile: ServeProfile) -> str:
    """One line saying the model folder is missing and how to get it."""
    hint = f"; get it with: {profile.download_hint}" if profile.download_hint else ""
    return f"{profile.source}: model not found at {profile.model}{hint}"
