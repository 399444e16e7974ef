"""The known-timing fake server (benchmarks/fake_server.py) as a test's server: started, ready, its /stats."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from simulator import REPO

from llmload.cpus import pin_process
from llmload.processes import free_port


@contextmanager
def fake_server(
    tmp: Path, ttft_ms: float, itl_ms: float, tokens: int, cores: list[int] | None = None
) -> Iterator[str]:
    """The server's URL once it answers /health; `cores`: the CPUs it is pinned to (all when None)."""
    port = free_port()
    argv = [
        sys.executable, str(REPO / "benchmarks" / "fake_server.py"), "--port", str(port),
        "--ttft-ms", str(ttft_ms), "--itl-ms", str(itl_ms), "--tokens", str(tokens),
    ]  # fmt: skip
    pin = (lambda: pin_process(cores)) if cores is not None else None
    with (tmp / "fake.log").open("w") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, preexec_fn=pin)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(url + "/health", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def server_stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/stats", timeout=5) as resp:
        data: dict[str, Any] = json.loads(resp.read())
        return data
