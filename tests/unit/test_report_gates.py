"""The CI verdict: SLO clauses judged at the operating point, junit.xml content, the failure table."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from helpers import T0, rec, write_run
from llmload.errors import UsageError
from llmload.records import StepMark
from llmload.report.build import build_report
from llmload.report.gate_options import ReportOptions
from llmload.report.gates import evaluate_gate, failure_lines, format_value
from llmload.report.junit import junit_xml
from llmload.report.text import print_gate
from llmload.rundir import read_meta

CLAUSES = [
    {"clause": "ttft_p95<=2s", "metric": "ttft", "stat": "p95", "op": "<=", "threshold": 2.0},
    {"clause": "error_rate<=1%", "metric": "error_rate", "stat": None, "op": "<=", "threshold": 0.01},
]


def judged(users: int, ttft: float, errors: float) -> dict[str, Any]:
    clauses = [
        {"clause": "ttft_p95<=2s", "value": ttft, "passed": ttft <= 2.0},
        {"clause": "error_rate<=1%", "value": errors, "passed": errors <= 0.01},
    ]
    return {"users": users, "passed": all(c["passed"] for c in clauses), "clauses": clauses}


def run_summary(knee_users: int | None, per_step: list[dict[str, Any]]) -> dict[str, Any]:
    steps = [{"users": r["users"], "requests_ok": 100} for r in per_step]
    return {
        "run_id": "r1",
        "complete": True,
        "steps": steps,
        "knee": {"users": knee_users} if knee_users else None,
        "slo": {"spec": "ttft_p95<=2s,error_rate<=1%", "clauses": CLAUSES, "per_step": per_step},
    }


PER_STEP = [judged(4, 0.5, 0.0), judged(8, 1.5, 0.0), judged(16, 3.25, 0.02)]


def test_slo_judged_at_the_knee() -> None:
    gate = evaluate_gate(run_summary(8, PER_STEP), ReportOptions())
    assert gate["passed"] and gate["slo"]["users"] == 8 and gate["slo"]["at"].startswith("optimal")
    assert [c["measured"] for c in gate["slo"]["clauses"]] == ["1.500 s", "0.00%"]


def test_without_a_knee_the_highest_level_is_judged() -> None:
    summary = run_summary(None, PER_STEP)
    summary["gate"] = gate = evaluate_gate(summary, ReportOptions())
    assert not gate["passed"] and gate["slo"]["users"] == 16
    lines = failure_lines(gate)
    assert lines[0] == "SLO failed at 16 users (highest level measured (no knee determined)):"
    assert any("ttft_p95<=2s" in line and "3.250 s" in line and "2.000 s" in line for line in lines)
    assert any("error_rate<=1%" in line and "2.00%" in line for line in lines)
    out = io.StringIO()
    assert print_gate(summary, out) == 1
    assert "FAIL at 16 users" in out.getvalue()


def test_no_slo_no_baseline_passes() -> None:
    summary = {"steps": [], "knee": None}
    gate = evaluate_gate(summary, ReportOptions())
    assert gate == {"passed": True, "slo": None, "baseline": None}
    assert print_gate({**summary, "gate": gate}, io.StringIO()) == 0


def test_junit_one_case_per_clause_with_the_measured_value() -> None:
    summary = run_summary(None, PER_STEP)
    summary["gate"] = evaluate_gate(summary, ReportOptions())
    root = ET.fromstring(junit_xml(summary))
    assert (root.get("tests"), root.get("failures")) == ("3", "2")
    slo = next(s for s in root if s.get("name") == "llmload.slo")
    cases = {c.get("name"): c for c in slo.findall("testcase")}
    assert list(cases) == ["ttft_p95<=2s", "error_rate<=1%"]
    failure = cases["ttft_p95<=2s"].find("failure")
    assert failure is not None
    assert (
        failure.get("message")
        == "ttft_p95<=2s: measured 3.250 s at 16 users, highest level measured (no knee determined)"
    )
    run = next(s for s in root if s.get("name") == "llmload.run")
    assert run.get("failures") == "0"


def test_junit_partial_run_and_escaping() -> None:
    summary = {"run_id": "<x>&", "complete": False, "stopped_reason": "target lost: <eof> & gone", "gate": {}}
    text = junit_xml(summary)
    root = ET.fromstring(text)  # well-formed despite the markup characters
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None and failure.get("message") == "target lost: <eof> & gone"
    assert "<eof>" not in text


def test_format_value_units() -> None:
    assert format_value("tpot", 0.0456) == "45.6 ms"
    assert format_value("e2e", 41.99) == "41.990 s"
    assert format_value("recall", 0.875) == "87.50%"
    assert format_value("rps", 0.6664) == "0.6664/s"
    assert format_value("e2e", None) == "no data"


def test_given_options_are_kept_in_meta_json_once_the_run_was_read(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "run", [StepMark(0, 1, T0, T0 + 60)], [rec(i, float(i), 2.0) for i in range(50)])
    build_report(run_dir, ReportOptions(apdex_t_s=3.0))
    assert read_meta(run_dir)["report"] == {"apdex_t_s": 3.0}
    rebuilt = build_report(run_dir)  # a later `llmload report RUN_DIR` judges alike
    assert (rebuilt.summary["apdex"]["t_s"], rebuilt.summary["apdex"]["t_source"]) == (3.0, "option")
    not_a_run = tmp_path / "meta-only"
    not_a_run.mkdir()
    (not_a_run / "meta.json").write_text('{"run_id": "x"}')
    with pytest.raises(UsageError, match="no records.jsonl"):
        build_report(not_a_run, ReportOptions(apdex_t_s=3.0))
    assert read_meta(not_a_run) == {"run_id": "x"}  # nothing kept for a directory that is not a run
