"""A profile's command line (a list, never a shell string) and its readiness rule, for its engine.

Python engines: ``PYTHON -m MODULE`` (``engines.Engine.entry``), the model, the served name, host and port,
then the flags of the named keys the profile sets (in the engine's order), then ``[args]``. A ``command``
profile: its template with the placeholders filled in, then ``[args]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmload.serve.engines import COMMAND, ENGINE_KEYS, Engine, Readiness, engine_named
from llmload.serve.serve_profile import ServeProfile


def flag_args(flag: str, value: Any) -> list[str]:
    """One ``[args]`` entry as argv words: ``true`` a bare flag, ``false`` nothing, a list the flag
    repeated."""
    opt = "--" + flag.removeprefix("--").replace("_", "-")
    if value is True:
        return [opt]
    if value is False or value is None:
        return []
    if isinstance(value, list):
        return [part for item in value for part in (opt, str(item))]
    return [opt, str(value)]


def _key_value(profile: ServeProfile, key: str) -> Any:
    value = getattr(profile, key)
    return None if key == "tensor_parallel_size" and value == 1 else value  # 1 is every engine's default


def _python_argv(engine: Engine, profile: ServeProfile, python: str | Path, port: int) -> list[str]:
    argv = [str(python), *engine.entry]
    argv += [engine.model_flag, profile.model] if engine.model_flag else [profile.model]
    if engine.served_name_flag:
        argv += [engine.served_name_flag, profile.served_model_name]
    argv += ["--host", profile.host, "--port", str(port)]
    argv += list(engine.device_args.get(profile.device, ()))
    for key, flag in engine.key_flags:
        argv += flag_args(flag, _key_value(profile, key))
    return argv


def _placeholder_values(profile: ServeProfile, port: int) -> dict[str, Any]:
    values = {key: getattr(profile, key) for key in ENGINE_KEYS}
    return {**values, "model": profile.model, "host": profile.host, "port": port}


def command_argv(profile: ServeProfile, port: int) -> list[str]:
    """A ``command`` profile's template, filled in (the loader checked every placeholder has a value)."""
    values = _placeholder_values(profile, port)
    return [word.format_map(values) for word in profile.command]


def engine_argv(profile: ServeProfile, python: str | Path | None, port: int | None = None) -> list[str]:
    """The full command line that starts this profile's server. ``python``: the interpreter of a Python
    engine (``interpreter.engine_python``); unused by a ``command`` profile."""
    port = profile.port if port is None else port
    engine = engine_named(profile.engine)
    if engine.name == COMMAND:
        argv = command_argv(profile, port)
    else:
        assert python is not None, f"engine {engine.name} needs its interpreter"
        argv = _python_argv(engine, profile, python, port)
    for flag, value in profile.args.items():
        argv += flag_args(flag, value)
    return argv


def readiness(profile: ServeProfile) -> Readiness:
    """When this profile's server is ready: its engine's rule; a ``command`` profile names its health path."""
    rule = engine_named(profile.engine).readiness
    return Readiness(profile.health_path, rule.model_listed) if profile.engine == COMMAND else rule
