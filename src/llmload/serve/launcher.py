"""Start, watch and stop a vLLM OpenAI server described by a serve profile.

vLLM runs in its own process group (its engine core is a child process); ``stop()`` stops the whole group
(``process_group.stop_group``), so no worker is left behind. Output goes to ``<serve_dir>/vllm.log``; once
the server answers, ``<serve_dir>/serve_meta.json`` records what runs (``serve_meta``).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from llmload import rundir
from llmload.cpus import format_cpu_list, pin_process, server_cpus
from llmload.serve.process_group import stop_group
from llmload.serve.serve_profile import ServeProfile, profile_to_argv
from llmload.serve.vllm_env import VLLM_CPU_PLATFORM_ENV, vllm_python
from llmload.telemetry.nvml import GpuInfo, read_nvml_inventory

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
        return self.serve_dir / rundir.VLLM_LOG

    @property
    def meta_path(self) -> Path:
        return self.serve_dir / rundir.SERVE_META

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

    def stop(self, grace_s: float | None = None) -> int | None:
        """Stop vLLM's whole process group (SIGTERM, then SIGKILL after the grace period); its exit status."""
        if self.process is None:
            return None
        code = stop_group(self.process, self.stop_grace_s if grace_s is None else grace_s)
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
