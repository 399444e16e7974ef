"""Serve profiles: a TOML file describing one deployment (engine, model, port, engine settings), validated.

``engine`` names the server program (``engines``: vllm, the default; sglang; transformers; command, an argv
template). Named keys become the engine's own flags (``engine_argv``); any other flag goes into the
``[args]`` table (``flag-name = value``; ``true`` gives a bare flag, ``false`` omits it, a list repeats
the flag). Environment variables for the server go into ``[env]``. The ``model`` path may use ``~``,
``$VARS`` and ``{model_cache}`` (``$LLMLOAD_MODEL_CACHE`` or ``~/.cache/llmload/models``).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmload.cpus import AUTO, parse_cpu_list
from llmload.errors import UsageError
from llmload.serve.engines import COMMAND, DEFAULT_ENGINE, ENGINE_KEYS, ENGINES, PLACEHOLDERS, template_fields
from llmload.serve.vllm_env import model_cache_dir, profiles_dir

DEVICES = ("gpu", "cpu", "npu")  # npu: an Ascend profile (vllm-ascend); llmload reads no NPU inventory

# key -> accepted python types
_KNOWN_KEYS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "description": (str,),
    "engine": (str,),
    "command": (list,),
    "health_path": (str,),
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
    engine: str = DEFAULT_ENGINE
    command: tuple[str, ...] = ()  # engine = "command": the argv template
    health_path: str | None = "/health"  # engine = "command": the readiness path ("" in the file: none)
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
    _check_engine(data, bad)


_NO_DEFAULT = (
    "gpu_memory_utilization",
    "max_num_seqs",
    "max_model_len",
    "dtype",
)  # placeholders without a value


def _check_engine(data: dict[str, Any], bad: Callable[[str, str], UsageError]) -> None:
    """The engine exists, has a flag for every engine key the profile sets, and a command has its template."""
    name = data.get("engine", DEFAULT_ENGINE)
    if name not in ENGINES:
        raise bad("engine", f"engine must be one of {tuple(ENGINES)}, got {name!r}")
    engine = ENGINES[name]
    for key in ENGINE_KEYS:
        if key in data and not engine.supports(key):
            raise bad(key, f"engine {name} has no flag for {key}: give its own flag in [args]")
    if name != COMMAND:
        for key in ("command", "health_path"):
            if key in data:
                raise bad(key, f'{key} is for engine = "command" (this profile\'s engine is {name})')
        return
    template = data.get("command")
    if not template or not all(isinstance(word, str) for word in template):
        raise bad(
            "command" if template else "engine", 'engine = "command" needs command = ["program", "arg", ...]'
        )
    try:
        fields = template_fields(template)
    except ValueError as exc:
        raise bad("command", f"command: {exc}") from None
    for field_name in fields:
        if field_name not in PLACEHOLDERS:
            raise bad(
                "command", f"command: unknown placeholder {{{field_name}}} (known: {', '.join(PLACEHOLDERS)})"
            )
        if field_name in _NO_DEFAULT and field_name not in data:
            raise bad(
                "command", f"command: placeholder {{{field_name}}} needs key '{field_name}' in the profile"
            )


def _served_model_name(data: dict[str, Any], model: str) -> str:
    """The name clients send: the profile's, else the model folder's name; transformers serve names its
    model by the path it was given."""
    if ENGINES[data.get("engine", DEFAULT_ENGINE)].name == "transformers":
        return model
    return str(data.get("served_model_name", Path(model).name))


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
        served_model_name=_served_model_name(data, model),
        port=data["port"],
        host=data.get("host", "127.0.0.1"),
        device=data.get("device", "gpu"),
        engine=data.get("engine", DEFAULT_ENGINE),
        command=tuple(data.get("command", ())),
        health_path=data.get("health_path", "/health") or None,
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


def missing_model_message(profile: ServeProfile) -> str:
    """One line saying the model folder is missing and how to get it."""
    hint = f"; get it with: {profile.download_hint}" if profile.download_hint else ""
    return f"{profile.source}: model not found at {profile.model}{hint}"
