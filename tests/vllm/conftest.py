"""The real-vLLM tier: one vLLM CPU server with the tiny model, shared by the whole session.

Set LLMLOAD_SKIP_VLLM=1 to skip this tier. Otherwise the vLLM venv must exist (`make vllm-env`
installs it); the tiny model is built if missing. Teardown fails the session if any process of the
server's group survives.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from llmload.processes import free_port
from llmload.serve.launcher import EngineServer
from llmload.serve.serve_profile import ServeProfile, load_profile
from llmload.serve.vllm_env import cpu_vllm_python, ensure_tiny_model

TINY_PROFILE = "tiny-cpu"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/vllm/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.vllm)


def server_processes(server: EngineServer) -> list[psutil.Process]:
    """The server process and all its descendants, while it runs."""
    assert server.process is not None
    root = psutil.Process(server.process.pid)
    return [root, *root.children(recursive=True)]


def survivors(procs: list[psutil.Process]) -> list[str]:
    alive = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{proc.pid} {' '.join(proc.cmdline())[:80]}")
        except psutil.NoSuchProcess:
            continue
    return alive


@pytest.fixture(scope="session")
def tiny_profile() -> ServeProfile:
    if os.environ.get("LLMLOAD_SKIP_VLLM") == "1":
        pytest.skip("LLMLOAD_SKIP_VLLM=1: real-vLLM tier skipped")
    python = cpu_vllm_python()
    if not python.is_file():
        pytest.fail(f"vLLM venv missing ({python}); run `make vllm-env` (or set LLMLOAD_SKIP_VLLM=1)")
    ensure_tiny_model(python)
    return load_profile(TINY_PROFILE)


@pytest.fixture(scope="session")
def vllm_server(tiny_profile: ServeProfile, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineServer]:
    serve_dir: Path = tmp_path_factory.mktemp("vllm-serve")
    server = EngineServer(tiny_profile, serve_dir, port=free_port())
    with server:
        procs = server_processes(server)
        yield server
    left = survivors(procs)
    assert not left, f"vLLM processes left after stop(): {left}"


@pytest.fixture(scope="session")
def vllm_base_url(vllm_server: EngineServer) -> str:
    """e.g. http://127.0.0.1:40123 (append /v1 for the OpenAI API)."""
    return vllm_server.base_url
