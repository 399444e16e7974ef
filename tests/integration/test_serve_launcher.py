"""EngineServer against a fake server (a tiny HTTP server script): readiness per engine, early death, no orphans."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import psutil
import pytest

from llmload.processes import free_port
from llmload.serve.endpoint_probe import NO_MODEL_LIST_HINT, probe_server
from llmload.serve.launcher import EngineServer, ServerStartError
from llmload.serve.serve_meta import read_serve_meta
from llmload.serve.serve_profile import ServeProfile

FAKE_VLLM = """#!{python}
import http.server, json, os, signal, sys, time
args = sys.argv[1:]
port = int(args[args.index("--port") + 1])
name = args[args.index("--served-model-name") + 1] if "--served-model-name" in args else ""
mode = os.environ["FAKE_MODE"]
if mode == "die":
    for i in range(30):
        print(f"log line {{i}}", flush=True)
    sys.exit(3)
if os.fork() == 0:  # a worker that ignores SIGTERM, as a stuck engine core would
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        time.sleep(1)
if mode == "hang":
    time.sleep(3600)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = {{"/health": {{}}, "/version": {{"version": "9.9.9"}},
                 "/v1/models": {{"data": [{{"id": name}}]}}}}.get(self.path)
        data = json.dumps(body).encode()
        status = 200 if body is not None else 404
        if mode == "models500" and self.path == "/v1/models":  # as transformers serve without an HF cache
            status = 500
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
"""


@pytest.fixture
def fake_python(tmp_path: Path) -> Path:
    script = tmp_path / "fake_vllm"
    script.write_text(FAKE_VLLM.format(python=sys.executable))
    script.chmod(0o755)
    return script


def profile(mode: str, engine: str = "vllm", command: tuple[str, ...] = ()) -> ServeProfile:
    return ServeProfile(
        name="fake", source=Path("fake.toml"), model="/m/fake", served_model_name="fake-model",
        port=free_port(), device="cpu", env={"FAKE_MODE": mode}, engine=engine, command=command,
    )  # fmt: skip


def group_members(pgid: int) -> list[int]:
    members = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return members


def test_ready_meta_and_stop_leaves_no_process(fake_python: Path, tmp_path: Path) -> None:
    server = EngineServer(profile("ok"), tmp_path / "serve", python=fake_python, stop_grace_s=1.0)
    with server:
        assert server.process is not None
        pgid = server.process.pid
        assert len(group_members(pgid)) == 2  # the server and its SIGTERM-ignoring worker
        meta = read_serve_meta(tmp_path / "serve")
        assert meta is not None
        assert (meta["engine"], meta["engine_version"]) == ("vllm", "9.9.9")
        assert meta["port"] == server.port
        assert meta["argv"][:3] == [str(fake_python), "-m", "vllm.entrypoints.openai.api_server"]
        assert meta["profile"] == "fake" and meta["gpus"] == []
    assert group_members(pgid) == []


def test_early_death_raises_with_last_20_log_lines(fake_python: Path, tmp_path: Path) -> None:
    server = EngineServer(profile("die"), tmp_path / "serve", python=fake_python, stop_grace_s=1.0)
    with pytest.raises(ServerStartError) as info, server:
        pass
    message = str(info.value)
    assert "exited with status 3" in message
    assert "log line 29" in message and "log line 10" in message and "log line 9\n" not in message


def test_startup_timeout_stops_the_group(fake_python: Path, tmp_path: Path) -> None:
    server = EngineServer(
        profile("hang"), tmp_path / "serve", python=fake_python, startup_timeout_s=1.0, stop_grace_s=0.5
    )
    start_s = time.monotonic()
    with pytest.raises(ServerStartError, match="not ready on http://127.0.0.1:.* after 1 s"), server:
        pass
    assert server.process is not None
    assert group_members(server.process.pid) == []
    # gave up on the 1 s startup timeout and killed the SIGTERM-deaf worker after the 0.5 s grace: far less
    # than the fake's hour-long hang or any wait of its own (30 s is a bound on neither this machine's speed)
    assert time.monotonic() - start_s < 30.0


def test_transformers_is_ready_on_health_alone_where_vllm_waits_for_its_model(
    fake_python: Path, tmp_path: Path
) -> None:
    with EngineServer(profile("models500", "transformers"), tmp_path / "tf", python=fake_python, stop_grace_s=1.0) as tf:
        assert tf.argv[1:4] == ["-m", "transformers.cli.transformers", "serve"]
        assert tf.log_path.name == "transformers.log"
        meta = read_serve_meta(tmp_path / "tf")
        assert meta is not None and meta["engine"] == "transformers"
        models = probe_server(tf.base_url, timeout_s=5.0)[0]
        assert not models.ok and models.detail == "HTTP 500" + NO_MODEL_LIST_HINT
    strict = EngineServer(
        profile("models500", "vllm"), tmp_path / "vllm", python=fake_python, startup_timeout_s=1.0, stop_grace_s=0.5
    )
    with pytest.raises(ServerStartError, match="vLLM not ready on"), strict:
        pass


def test_a_command_profile_runs_its_template(fake_python: Path, tmp_path: Path) -> None:
    template = (str(fake_python), "--port", "{port}", "--served-model-name", "{served_model_name}")
    server = EngineServer(profile("ok", "command", template), tmp_path / "cmd", stop_grace_s=1.0)
    with server:
        assert server.argv == [str(fake_python), "--port", str(server.port), "--served-model-name", "fake-model"]
        assert server.process is not None
        pgid = server.process.pid
        assert server.engine_version == "9.9.9"  # its GET /version
    assert group_members(pgid) == []
