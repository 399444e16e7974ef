"""Starting the simulator and running llmload as a user would (subprocesses, loopback only)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from llmload.load.launch import running_simulator

REPO = Path(__file__).resolve().parents[2]


@contextmanager
def simulator(profile: str, log_dir: Path, time_scale: float | None = None) -> Iterator[str]:
    with running_simulator(profile, time_scale, log_dir / "sim.log") as url:
        yield url


def llmload(
    *args: str, timeout_s: float = 240, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmload.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=env,
        check=False,
    )


def summary(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "summary.json").read_text())
    return data
