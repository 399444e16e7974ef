"""Start, watch and stop the OpenAI-API server a serve profile describes (vLLM, SGLang, transformers serve
or a command).

The server runs in its own process group (vLLM's engine core is a child process); ``stop()`` stops the
whole group (``process_group.stop_group``), so no worker is left behind. Output goes to
``<serve_dir>/<engine>.log`` (``vllm.log`` for vLLM); once the server is ready (``engine_argv.readiness``),
``<serve_dir>/serve_meta.json`` records what runs (``serve_meta``).
"""

from __future__ import annotations

import http.client
import json
import os
import shlex
import subprocess
import time
from collections import deque
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from llmload import rundir
from llmload.client.blocking_http import TargetUnreachable, get_json, http_get, server_version
from llmload.cpus import format_cpu_list, pin_process, server_cpus
from llmload.serve.engine_argv import engine_argv, readiness
from llmload.serve.engines import Readiness, engine_named
from llmload.serve.interpreter import engine_python
from llmload.serve.process_group import stop_group
from llmload.serve.serve_profile import ServeProfile
from llmload.serve.vllm_env import VLLM_CPU_PLATFORM_ENV
from llmload.telemetry.nvml import GpuInfo, read_nvml_inventory

POLL_S = 0.5


class ServerStartError(RuntimeError):
    """The server exited or did not become ready in time; the message carries the last log lines."""


def tail_lines(path: Path, n_lines: int = 20) -> str:
    if not path.is_file():
        return "(no log)"
    with path.open(encoding="utf-8", errors="replace") as fh:
        return "".join(deque(fh, maxlen=n_lines)).rstrip()


def is_ready(base_url: str, rule: Readiness, served_model_name: str) -> bool:
    """Whether the server answers its health path with 200 and, where its engine lists it, /v1/models
    with the served model name."""
    try:
        if rule.health_path and http_get(base_url + rule.health_path, 2.0)[0] != 200:
            return False
        if not rule.model_listed:
            return True
        status, models = get_json(base_url + "/v1/models", 5.0)
    except (TargetUnreachable, http.client.HTTPException):
        return False
    data = models.get("data") if isinstance(models, dict) else None
    ids = [m.get("id") for m in data if isinstance(m, dict)] if isinstance(data, list) else []
    return status == 200 and served_model_name in ids


def server_env(profile: ServeProfile, cpus: list[int] | None) -> dict[str, str]:
    """The engine's own environment (``engines.Engine.env``) and what vLLM's CPU build needs from us: its
    platform named (a process that imports vLLM's benchmark or kernel code without it may load the AVX-512
    kernels on an AVX2 CPU: illegal instruction), and its OpenMP threads bound to the server's cores
    (VLLM_CPU_OMP_THREADS_BIND; vLLM's own `auto` binding would take a core the generator uses). The
    profile's [env] overrides all of these."""
    env = dict(engine_named(profile.engine).env)
    if profile.device != "cpu" or profile.engine != "vllm":
        return env
    env.update(VLLM_CPU_PLATFORM_ENV)
    if cpus:
        env["VLLM_CPU_OMP_THREADS_BIND"] = format_cpu_list(cpus)
    return env


class EngineServer:
    """Context manager: ``with EngineServer(profile, serve_dir) as srv: ... srv.base_url``. ``python``: the
    interpreter of a Python engine (default: ``interpreter.engine_python``'s choice)."""

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
        self.engine = engine_named(profile.engine)
        if python is None:
            interpreter = engine_python(self.engine, profile.device)
            python = interpreter.python if interpreter else None
        self.python = Path(python) if python is not None else None
        self.port = port if port is not None else profile.port
        self.startup_timeout_s = (
            startup_timeout_s if startup_timeout_s is not None else profile.startup_timeout_s
        )
        self.gpus = gpus
        self.stop_grace_s = stop_grace_s
        self.argv = engine_argv(profile, self.python, self.port)
        self.cpus = server_cpus(profile.cpus)  # None: not pinned
        self.process: subprocess.Popen[bytes] | None = None
        self.engine_version: str | None = None  # the server's GET /version, else what preflight found
        self.startup_s: float | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.profile.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.serve_dir / (rundir.VLLM_LOG if self.engine.name == "vllm" else f"{self.engine.name}.log")

    @property
    def meta_path(self) -> Path:
        return self.serve_dir / rundir.SERVE_META

    def start(self) -> None:
        """Spawn the server in a new session (own process group), on the profile's cores; returns at once."""
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
            raise ServerStartError(
                f"{self.engine.label} exited with status {code} during startup;"
                f" last lines of {self.log_path}:\n"
                + tail_lines(self.log_path)
            )

    def wait_ready(self) -> None:
        """Block until the server is ready (``engine_argv.readiness``); raise ServerStartError."""
        rule = readiness(self.profile)
        deadline = time.monotonic() + self.startup_timeout_s
        while True:
            self._raise_if_dead()
            if is_ready(self.base_url, rule, self.profile.served_model_name):
                break
            if time.monotonic() > deadline:
                raise ServerStartError(
                    f"{self.engine.label} not ready on {self.base_url} after {self.startup_timeout_s:.0f} s;"
                    f" last lines of {self.log_path}:\n" + tail_lines(self.log_path)
                )
            time.sleep(POLL_S)
        self.startup_s = time.monotonic() - self._started_mono_s
        self.engine_version = server_version(self.base_url) or self.engine_version

    def write_meta(self) -> dict[str, Any]:
        if self.gpus is None and self.profile.device == "gpu":
            self.gpus = read_nvml_inventory()[0]
        meta = {
            "profile": self.profile.name,
            "profile_path": str(self.profile.source),
            "argv": self.argv,
            "env": self.profile.env,
            "engine": self.engine.name,
            "engine_version": self.engine_version,
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
        """Stop the server's whole process group (SIGTERM, then SIGKILL after the grace period); its exit
        status."""
        if self.process is None:
            return None
        code = stop_group(self.process, self.stop_grace_s if grace_s is None else grace_s)
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def __enter__(self) -> EngineServer:
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
