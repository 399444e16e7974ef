"""serve_meta.json: what a started server runs (profile, engine and its version, argv, device, GPUs, cores,
pid), written by the launcher into its serve folder, and the facts a run takes from it when it loads a
live `llmload serve` of the same target."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

from llmload import rundir
from llmload.serve.process_group import exists


def read_serve_meta(serve_dir: Path) -> dict[str, Any] | None:
    """The ``serve_meta.json`` a running/finished server left in ``serve_dir``, or None."""
    path = Path(serve_dir) / rundir.SERVE_META
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


RUN_FACTS = ("profile", "engine", "engine_version", "argv", "device", "gpus", "cpus", "started_at", "startup_s")


def find_serve_meta(base_url: str, folders: list[Path]) -> dict[str, Any] | None:
    """The facts a run takes from a live ``llmload serve`` of this target: the ``serve_meta.json`` in
    ``folders`` whose port is the URL's, on a loopback URL, and whose server process is still alive."""
    url = urllib.parse.urlsplit(base_url)
    if url.hostname not in ("127.0.0.1", "localhost", "::1", "0.0.0.0"):
        return None
    for folder in folders:
        try:
            meta = read_serve_meta(folder)
        except (OSError, ValueError):
            continue
        if meta and meta.get("port") == url.port and exists(meta.get("pid")):
            return {key: meta.get(key) for key in RUN_FACTS}  # not the profile's env: it may hold tokens
    return None
