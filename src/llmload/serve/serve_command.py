"""``llmload serve``: preflight a serve profile, then run vLLM in the foreground until it exits or a
signal (SIGINT/SIGTERM) stops it."""

from __future__ import annotations

import shlex
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from llmload.errors import UsageError
from llmload.serve.launcher import VllmServer
from llmload.serve.serve_profile import load_profile, profile_to_argv
from llmload.serve.vllm_env import vllm_python
from llmload.serve.vllm_preflight import run_preflight


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


def serve_profile(profile_path: str | Path, dry_run: bool, serve_dir: Path) -> int:
    """``llmload serve``: preflight, then run vLLM in the foreground until it exits or SIGINT/SIGTERM.

    Dry run: print the preflight table and the command line; return 0 if every check passed, else 1.
    Otherwise a failed preflight raises UsageError; the return value is 0 after a signal-requested stop
    and vLLM's own exit status if it exited by itself.
    """
    profile = load_profile(profile_path)
    python = vllm_python()
    result = run_preflight(profile, python)
    print(result.table())
    print("command: " + shlex.join(profile_to_argv(profile, python)))
    if profile.env:
        print("env: " + " ".join(f"{k}={shlex.quote(v)}" for k, v in profile.env.items()))
    if dry_run:
        return 0 if result.ok else 1
    if not result.ok:
        first = result.failures()[0]
        raise UsageError(f"preflight failed for {profile.source}: {first.name}: {first.detail}")
    server = VllmServer(profile, serve_dir, python=python, gpus=result.gpus)
    server.vllm_version = result.vllm_version
    previous = _install_handlers()
    try:
        with server:
            print(
                f"vLLM {server.vllm_version} ready at {server.base_url}/v1 after {server.startup_s:.1f} s"
                f" (log {server.log_path}, meta {server.meta_path}); Ctrl-C stops it",
                flush=True,
            )
            assert server.process is not None
            return server.process.wait()
    except _StopRequested as stop:
        print(f"{stop}: stopping vLLM", flush=True)
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
