"""``llmload serve``: preflight a serve profile, then run its server in the foreground until it exits or a
signal (SIGINT/SIGTERM) stops it. ``--dry-run``: what would run, why that interpreter, and the checks."""

from __future__ import annotations

import shlex
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from llmload.exit_codes import ExitCode
from llmload.serve.engine_argv import engine_argv, readiness
from llmload.serve.engines import engine_named
from llmload.serve.interpreter import Interpreter, engine_python
from llmload.serve.launcher import EngineServer
from llmload.serve.serve_preflight import PreflightResult, run_preflight
from llmload.serve.serve_profile import ServeProfile, load_profile


class _StopRequested(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _StopRequested(signum)


def _install_handlers() -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}


def describe(profile: ServeProfile, interpreter: Interpreter | None) -> list[str]:
    """What `llmload serve` would start and how it would know the server is up, one fact a line."""
    engine = engine_named(profile.engine)
    program = (
        f"python   {interpreter.python}: {interpreter.why}"
        if interpreter
        else f"program  {profile.command[0]} (the profile's command template)"
    )
    return [
        f"profile  {profile.name} ({profile.source})"
        + (f": {profile.description}" if profile.description else ""),
        f"engine   {engine.name} ({engine.label}), device {profile.device}",
        program,
        f"ready    {readiness(profile).describe(profile.served_model_name)}",
        f"metrics  {engine.metrics}",
    ]


def print_plan(profile: ServeProfile, interpreter: Interpreter | None, result: PreflightResult) -> None:
    """The dry run's output (also printed before a real start): facts, checks, command line, environment."""
    print("\n".join(describe(profile, interpreter)))
    print(result.table())
    print("command: " + shlex.join(engine_argv(profile, interpreter.python if interpreter else None)))
    if profile.env:
        print("env: " + " ".join(f"{k}={shlex.quote(v)}" for k, v in profile.env.items()))


def serve_profile(profile_path: str | Path, dry_run: bool, serve_dir: Path) -> int:
    """``llmload serve``: preflight, then run the server in the foreground until it exits or SIGINT/SIGTERM.

    A failed check prints one line per failure on stderr and returns 2, with or without ``dry_run``; a dry
    run that passes returns 0. Otherwise the return value is 0 after a signal-requested stop and the
    server's own exit status if it exited by itself.
    """
    profile = load_profile(profile_path)
    interpreter = engine_python(engine_named(profile.engine), profile.device)
    result = run_preflight(profile, interpreter)
    print_plan(profile, interpreter, result)
    for failed in result.failures():
        print(f"llmload: preflight failed: {failed.name}: {failed.detail}", file=sys.stderr)
    if not result.ok:
        return ExitCode.USAGE  # as any bad input
    if dry_run:
        return ExitCode.OK
    server = EngineServer(
        profile, serve_dir, python=interpreter.python if interpreter else None, gpus=result.gpus
    )
    server.engine_version = result.engine_version
    return _run_in_foreground(server)


def _run_in_foreground(server: EngineServer) -> int:
    previous = _install_handlers()
    label = server.engine.label
    try:
        with server:
            name = f"{label} {server.engine_version}" if server.engine_version else label
            print(
                f"{name} ready at {server.base_url}/v1 after {server.startup_s:.1f} s"
                f" (log {server.log_path}, meta {server.meta_path}); Ctrl-C stops it",
                flush=True,
            )
            assert server.process is not None
            return server.process.wait()
    except _StopRequested as stop:
        print(f"{stop}: stopping {label}", flush=True)
        return ExitCode.OK
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
