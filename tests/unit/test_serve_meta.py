"""A run picks up the facts of a live `llmload serve` of its target (serve_meta.json)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from llmload.serve.serve_meta import find_serve_meta


def write(folder: Path, port: int, pid: int) -> Path:
    folder.mkdir(parents=True)
    meta = {"profile": "tiny-cpu", "port": port, "pid": pid, "engine": "vllm", "engine_version": "0.32.0", "argv": ["python", "-m", "vllm"],
            "env": {"HF_TOKEN": "hf_secret"}, "gpus": [], "device": "cpu"}
    (folder / "serve_meta.json").write_text(json.dumps(meta))
    return folder


def test_live_server_on_the_targets_port_is_found_without_its_env(tmp_path: Path) -> None:
    other = write(tmp_path / "serve-a", 8001, os.getpid())
    mine = write(tmp_path / "serve-b", 8002, os.getpid())
    facts = find_serve_meta("http://127.0.0.1:8002", [other, mine])
    assert facts is not None
    assert facts["engine_version"] == "0.32.0" and facts["profile"] == "tiny-cpu"
    assert "env" not in facts and "hf_secret" not in json.dumps(facts)


def test_dead_server_remote_host_or_broken_file_is_ignored(tmp_path: Path) -> None:
    dead = write(tmp_path / "serve-dead", 8003, 2**22 + 12345)  # above the default pid_max: no such process
    assert find_serve_meta("http://127.0.0.1:8003", [dead]) is None
    live = write(tmp_path / "serve-live", 8004, os.getpid())
    assert find_serve_meta("http://gpu-box:8004", [live]) is None
    broken = tmp_path / "serve-broken"
    broken.mkdir()
    (broken / "serve_meta.json").write_text("{not json")
    assert find_serve_meta("http://127.0.0.1:8004", [broken, live]) is not None
