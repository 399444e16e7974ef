"""Start, watch and stop a vLLM OpenAI server described by a serve profile.

vLLM runs in its own process group (its engine core is a child process); ``stop()`` signals the whole
group, SIGTERM first and SIGKILL after a grace period, so no worker is left behind. Output goes to
``<serve_dir>/vllm.log``; once the server answers, ``<serve_dir>/serve_meta.json`` records what runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any

from llmload.cpus import format_cpu_list, pin_process, server_cpus
from llmload.errors import UsageError
from llmload.serve.preflight import run_preflight
from llmload.serve.profile import ServeProfile, load_profile, profile_to_argv
from llmload.serve.vllm_env import VLLM_CPU_PLATFORM_ENV, vllm_python
from llmload.telemetry.nvml import GpuInfo, read_nvml_inventory

SERVE_META = "serve_meta.json"
SERVE_LOG = "vllm.log"
POLL_S = 0.5


class VllmStartError(RuntimeError):
    """vLLM exited or did not become ready in time; the message carries the last log lines."""


def tail_lines(path: Path, n_lines: int = 20) -> str:
    if not path.is_file():
        return "(no log)"
    with path.open(encoding="utf-8", errors="replace") as fh:
        return "".join(deque(fh, maxlen=n_lines)).rstrip()


def _get_json(url: str, timeout_s: float) -> Any:
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 (loopback URL we built)
        body = resp.read()
    return json.loads(body) if body else None


def server_env(profile: ServeProfile, cpus: list[int] | None) -> dict[str, str]:
    """What vLLM's CPU build needs from us: its platform named (a process that imports vLLM's benchmark or
    kernel code without it may load the AVX-512 kernels on an AVX2 CPU: illegal instruction), and its
    OpenMP threads bound to the server's cores (VLLM_CPU_OMP_THREADS_BIND; vLLM's own `auto` binding
    would take a core the generator uses). The profile's [env] overrides both."""
    if profile.device != "cpu":
        return {}
    env = dict(VLLM_CPU_PLATFORM_ENV)
    if cpus:
        env["VLLM_CPU_OMP_THREADS_BIND"] = format_cpu_list(cpus)
    return env


def read_serve_meta(serve_dir: Path) -> dict[str, Any] | None:
    """The ``serve_meta.json`` a running/finished server left in ``serve_dir``, or None."""
    path = Path(serve_dir) / SERVE_META
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


RUN_FACTS = ("profile", "vllm_version", "argv", "device", "gpus", "cpus", "started_at", "startup_s")


def find_serve_meta(base_url: str, folders: list[Path]) -> dict[str, Any] | None:
    """The facts a run takes from a live ``llmload serve`` of this target: the ``serve_meta.json`` in
    ``folders`` whose port is the URL's, on a loopback URL, and whose vLLM process is still alive."""
    url = urllib.parse.urlsplit(base_url)
    if url.hostname not in ("127.0.0.1", "localhost", "::1", "0.0.0.0"):
        return None
    for folder in folders:
        try:
            meta = read_serve_meta(folder)
        except (OSError, ValueError):
            continue
        if meta and meta.get("port") == url.port and _pid_alive(meta.get("pid")):
            return {key: meta.get(key) for key in RUN_FACTS}  # not the profile's env: it may hold tokens
    return None


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class VllmServer:
    """Context manager: ``with VllmServer(profile, serve_dir) as srv: ... srv.base_url``."""

    def __init__(
        self,
        profile: ServeProfile,
        serve_dir: Path,
        python: str | Path | None = None,
        port: int | None = None,
        startup_timeout_s: float | None = None,
        gpus: list[GpuInfo] | None = None,
        stop_grace_s: float = 20.0,
    ) -> None:
        self.profile = profile
        self.serve_dir = Path(serve_dir)
        self.python = Path(python) if python is not None else vllm_python()
        self.port = port if port is not None else profile.port
        self.startup_timeout_s = (
            startup_timeout_s if startup_timeout_s is not None else profile.startup_timeout_s
        )
        self.gpus = gpus
        self.stop_grace_s = stop_grace_s
        self.argv = profile_to_argv(profile, self.python, self.port)
        self.cpus = server_cpus(profile.cpus)  # None: not pinned
        self.process: subprocess.Popen[bytes] | None = None
        self.vllm_version: str | None = None
        self.startup_s: float | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.profile.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.serve_dir / SERVE_LOG

    @property
    def meta_path(self) -> Path:
        return self.serve_dir / SERVE_META

    def start(self) -> None:
        """Spawn vLLM in a new session (own process group), on the profile's cores; returns at once."""
        self.serve_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **server_env(self.profile, self.cpus), **self.profile.env}
        self._log = self.log_path.open("wb")
        self._log.write(f"$ {shlex.join(self.argv)}\n".encode())
        self._log.flush()
        self._started_mono_s = time.monotonic()
        cpus = self.cpus
        self.process = subprocess.Popen(
            self.argv, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, start_new_session=True, preexec_fn=(lambda: pin_process(cpus)) if cpus else None,
        )  # fmt: skip

    def _raise_if_dead(self) -> None:
        assert self.process is not None
        code = self.process.poll()
        if code is not None:
            raise VllmStartError(
                f"vLLM exited with status {code} during startup; last lines of {self.log_path}:\n"
                + tail_lines(self.log_path)
            )

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.base_url + "/health", timeout=2.0) as resp:  # noqa: S310
                if resp.status != 200:
                    return False
            models = _get_json(self.base_url + "/v1/models", timeout_s=5.0)
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
            return False
        ids = [m.get("id") for m in (models or {}).get("data", [])]
        return self.profile.served_model_name in ids

    def wait_ready(self) -> None:
        """Block until /health answers and /v1/models lists the served model; raise VllmStartError."""
        deadline = time.monotonic() + self.startup_timeout_s
        while True:
            self._raise_if_dead()
            if self._ready():
                break
            if time.monotonic() > deadline:
                raise VllmStartError(
                    f"vLLM not ready on {self.base_url} after {self.startup_timeout_s:.0f} s;"
                    f" last lines of {self.log_path}:\n" + tail_lines(self.log_path)
                )
            time.sleep(POLL_S)
        self.startup_s = time.monotonic() - self._started_mono_s
        try:
            self.vllm_version = (_get_json(self.base_url + "/version", 5.0) or {}).get("version")
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
            self.vllm_version = None

    def write_meta(self) -> dict[str, Any]:
        if self.gpus is None and self.profile.device == "gpu":
            self.gpus = read_nvml_inventory()[0]
        meta = {
            "profile": self.profile.name,
            "profile_path": str(self.profile.source),
            "argv": self.argv,
            "env": self.profile.env,
            "vllm_version": self.vllm_version,
            "model": self.profile.model,
            "served_model_name": self.profile.served_model_name,
            "host": self.profile.host,
            "port": self.port,
            "base_url": self.base_url,
            "pid": self.process.pid if self.process else None,
            "device": self.profile.device,
            "gpus": [asdict(g) for g in self.gpus or []],
            "cpus": format_cpu_list(self.cpus) if self.cpus else None,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "startup_s": round(self.startup_s, 3) if self.startup_s is not None else None,
        }
        self.meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return meta

    def _group_alive(self, pgid: int) -> bool:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _signal_group(self, pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)

    def stop(self, grace_s: float | None = None) -> int | None:
        """SIGTERM the whole process group, SIGKILL what is left after the grace period; returns the exit status."""
        grace_s = self.stop_grace_s if grace_s is None else grace_s
        proc = self.process
        if proc is None:
            return None
        pgid = proc.pid  # start_new_session: the group id is the leader's pid
        self._signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            proc.poll()
            if proc.returncode is not None and not self._group_alive(pgid):
                break
            time.sleep(0.1)
        else:
            self._signal_group(pgid, signal.SIGKILL)
        code = proc.wait()
        while self._group_alive(pgid):  # SIGKILLed members vanish within moments
            self._signal_group(pgid, signal.SIGKILL)
            time.sleep(0.05)
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def __enter__(self) -> VllmServer:
        self.start()
        try:
            self.wait_ready()
            self.write_meta()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


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
