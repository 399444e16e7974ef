"""Nothing leaked: the API key never reaches a file or a log; hostile dataset/model text stays data in
JSON, CSV and HTML; run ids cannot escape reports/; the simulator binds loopback; no shell strings."""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import psutil
import pytest
from test_faults_support import REPO, fault_plan, records, run_llmload, sim_counts, sim_process, sim_thread

from llmload.client.blocking_http import http_get
from llmload.errors import UsageError
from llmload.load.context import new_run_id
from llmload.load.launch import default_run_dir
from llmload.load.supervise import check_run_id

KEY = "sk-llmload-PLANTED-0123456789abcdef"
HOSTILE_MODEL = 'evil"</script><img src=x onerror=alert(1)>,=SUM(A1)'
HOSTILE_TEXT = '<script>alert("x")</script>,"=cmd|\' /C calc\'!A0",\t\\ 完'


def _hostile_inputs(tmp_path: Path) -> tuple[Path, Path]:
    profile = tmp_path / "hostile.toml"
    profile.write_text(
        f"model = {json.dumps(HOSTILE_MODEL)}\nmax_model_len = 4096\nmax_num_seqs = 8\n"
        'kv_budget_tokens = "unlimited"\nstep_base_s = 0.01\noutput_mean_tokens = 16\ntime_scale = 5.0\n'
    )
    dataset = tmp_path / "hostile.jsonl"
    rows = [{"id": f"h{i}", "text": HOSTILE_TEXT + str(i), "plates": [], "industry": "x<b>", "scene": "y&z"}
            for i in range(10)]
    dataset.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return profile, dataset


def test_api_key_never_reaches_disk_or_logs_and_hostile_text_stays_data(tmp_path: Path) -> None:
    profile, dataset = _hostile_inputs(tmp_path)
    run_dir = tmp_path / "run"
    sim_env = dict(os.environ, LLMLOAD_SIM_API_KEY=KEY)
    with sim_process(str(profile), tmp_path / "sim.log", env=sim_env) as (url, sim):
        listening = {c.laddr.ip for c in psutil.Process(sim.pid).net_connections("tcp") if c.status == "LISTEN"}
        result = run_llmload("run", "--host", url, "--api-key", KEY, "--users", "2", "--step-duration", "3s",
                             "--batch-size", "5", "--dataset", str(dataset), "--out", str(run_dir))
        assert http_get(url + "/v1/models", 5.0)[0] == 401  # no key: refused
        assert http_get(url + "/v1/models", 5.0, api_key="wrong")[0] == 401
        counts = sim_counts(url)
    assert listening == {"127.0.0.1"}  # the simulator's default bind address
    assert result.returncode == 0, result.stderr[-2000:]
    assert counts["unauthorized"] == 2 and counts["completed_ok"] > 20  # the run itself was authorised
    # the planted key: in no file of the run directory, in no log, not on stdout/stderr
    outputs = [p for p in run_dir.rglob("*") if p.is_file()] + [tmp_path / "sim.log"]
    assert len(outputs) >= 6
    for path in outputs:
        assert KEY.encode() not in path.read_bytes(), path
    assert KEY not in result.stdout + result.stderr
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["options"]["api_key_set"] is True
    # hostile text: JSON round-trips it exactly, CSV cells stay cells, HTML never carries it raw
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["model"] == HOSTILE_MODEL == meta["options"]["model"]
    assert all(r["scenario"]["batch_ids"][0].startswith("h") for r in records(run_dir))
    for path in run_dir.rglob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))
    for path in run_dir.rglob("*.csv"):
        rows = list(csv.reader(path.open(encoding="utf-8", newline="")))
        assert rows and all(len(row) == len(rows[0]) for row in rows), path
        formulas = [c for row in rows[1:] for c in row if re.match(r"^[=+@]", c)]
        assert not formulas, (path, formulas)
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    for raw in ("<img src=x onerror", '<script>alert("x")', "</script><img"):
        assert raw not in html


def test_the_simulator_counts_401s_and_never_shows_its_key() -> None:
    with sim_thread("tiny", fault_plan(), api_key=KEY) as server:
        url = f"http://127.0.0.1:{server.port}"
        assert http_get(url + "/v1/models", 5.0)[0] == 401
        assert http_get(url + "/v1/models", 5.0, api_key=KEY)[0] == 200
        assert http_get(url + "/health", 5.0)[0] == 200  # like vLLM: only /v1 needs the key
        status, body = http_get(url + "/llmload/sim", 5.0)
        info = json.loads(body)
        assert server.host == "127.0.0.1"
    assert status == 200 and info["unauthorized"] == 1 and info["auth_required"] is True
    assert KEY not in body.decode() and KEY not in repr(server.faults)


def test_run_ids_cannot_escape_the_reports_folder() -> None:
    assert check_run_id(new_run_id()) and check_run_id(default_run_dir("demo-").name)
    assert default_run_dir().parent == Path("reports")
    for bad in ("../etc", "a/b", "..", "", "x/../../y", ".hidden", "a\\b", "a" * 200):
        with pytest.raises(UsageError, match="run id"):
            check_run_id(bad)


def test_no_shell_strings_in_subprocesses() -> None:
    offenders = []
    for path in (REPO / "src").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for pattern in (r"shell\s*=\s*True", r"\bos\.system\(", r"\bos\.popen\(", r"subprocess\.getoutput"):
            offenders += [f"{path.relative_to(REPO)}: {pattern}" for _ in re.finditer(pattern, text)]
    assert offenders == []
