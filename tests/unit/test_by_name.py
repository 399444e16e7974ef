"""Statistics per request name (issue 16 §5) on hand-made runs with known answers: each step's figures per
name by the step's own definitions, which name saturates first, SLO clauses naming one, the report's rows
and lines; a run of one name gains nothing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from helpers import T0, closed_loop, closed_loop_by_name, rec, write_run
from llmload.analysis.pipeline import analyze_run
from llmload.analysis.summary_json import summary_json
from llmload.capacity.plan import operating_point
from llmload.records import StepMark
from llmload.report.build import build_report
from llmload.report.text import print_verdict

# A server both names share: no queue up to 6 users, then every request waits QUEUE_S more (the same for both
# names), so throughput stays flat past 6 (the totals' knee) while the short chat answers (1 s alone) pass
# 1.5 x their own E2E at 10 users and the long rag answers (4 s alone) never pass theirs.
QUEUE_S = {2: 0.0, 4: 0.0, 6: 0.0, 8: 0.41, 10: 0.85}
LEVELS = list(QUEUE_S)
E2E_S = {"chat": {u: 1.0 + q for u, q in QUEUE_S.items()}, "rag": {u: 4.0 + q for u, q in QUEUE_S.items()}}


def _shared_queue_run(tmp_path: Path, slo: str = "") -> Path:
    steps, records = closed_loop_by_name(LEVELS, 120.0, E2E_S)
    return write_run(tmp_path / "run", steps, records, meta={"options": {"model": "m", "warmup": "auto", "slo": slo}})


def test_each_step_has_each_names_figures_by_the_steps_definitions(tmp_path: Path) -> None:
    analysis = analyze_run(_shared_queue_run(tmp_path))
    for step in analysis.steps:
        assert step.by_name is not None and list(step.by_name) == ["chat", "rag"]
        chat, rag = step.by_name["chat"], step.by_name["rag"]
        assert chat.e2e_s.p50 == pytest.approx(E2E_S["chat"][step.users], abs=1e-6)
        assert rag.e2e_s.p50 == pytest.approx(E2E_S["rag"][step.users], abs=1e-6)
        assert chat.ttft_s.p50 == pytest.approx(0.1, abs=1e-6) and chat.tpot_s.p50 is not None
        # the names' work in the window and their samples add up to the step's
        assert chat.rps is not None and rag.rps is not None and step.rps is not None
        assert chat.rps + rag.rps == pytest.approx(step.rps, rel=1e-9)
        assert chat.requests_ok + rag.requests_ok == step.requests_ok
        assert (chat.requests_failed, chat.error_rate) == (0, 0.0)
        # half the users send each name: users / 2 / E2E requests per second (users stop before the step's end)
        assert chat.rps == pytest.approx(step.users / 2 / E2E_S["chat"][step.users], rel=0.03)
        assert rag.output_tokens_per_s == pytest.approx(11 * rag.rps)


def test_the_knee_is_the_totals_and_the_report_says_which_name_saturates_first(tmp_path: Path) -> None:
    analysis = analyze_run(_shared_queue_run(tmp_path))
    assert analysis.knee.knee is not None and analysis.knee.knee.users == 6
    block = analysis.saturation_by_name
    assert block is not None and block["saturates_first"] == "chat"
    chat, rag = block["per_name"]["chat"], block["per_name"]["rag"]
    assert (chat["e2e_p50_at_knee_s"], chat["e2e_p50_bound_s"]) == pytest.approx((1.0, 1.5), abs=1e-6)
    # chat: 1.41 s at 8 users, 1.85 s at 10 > 1.5; the limit interpolates 8 + floor(2 x 0.09 / 0.44) = 8
    assert (chat["crossed_at_users"], chat["limit_users"]) == (10, 8)
    assert chat["over_bound"] == pytest.approx(1.85 / 1.5, rel=1e-6)
    assert (rag["crossed_at_users"], rag["limit_users"]) == (None, 10)  # 4.85 s <= 1.5 x 4 s
    # chat's share of the requests falls as its users wait a larger part of each turn: 3/1 of 3/1 + 3/4 at the
    # knee, (5/1.85) / (5/1.85 + 5/4.85) at the top
    assert chat["rps_share_at_knee"] == pytest.approx(0.8, rel=0.01)
    assert chat["rps_share_at_top"] == pytest.approx(4.85 / (4.85 + 1.85), rel=0.01)
    assert block["detail"].startswith("chat: its p50 E2E passed 1.5 x its own at the knee (1 s) at 10 users")


def test_a_run_of_one_name_gains_no_key(tmp_path: Path) -> None:
    steps, records = closed_loop([1, 2, 4], 60.0, {1: 1.0, 2: 1.0, 4: 2.0}, name="plates")
    summary = summary_json(analyze_run(write_run(tmp_path / "run", steps, records)))
    assert "saturation_by_name" not in summary
    assert all("by_name" not in step for step in summary["steps"])


def test_failures_count_per_name(tmp_path: Path) -> None:
    # one 100 s step, a request each second alternating names, each 1.001 s long (the last one, rag, ends
    # after the step: 49 rag and 50 chat requests ended); every 4th rag request fails (HTTP 500): 13 of them
    records = [
        rec(i, float(i), 1.0, name="chat") if i % 2 == 0
        else rec(i, float(i), 1.0, name="rag", ok=i % 8 != 1, http_status=500, error_kind="http_status")
        for i in range(100)
    ]  # fmt: skip
    meta = {"options": {"slo": "rag:error_rate<=20%,error_rate<=20%"}}
    run_dir = write_run(tmp_path / "run", [StepMark(0, 2, T0, T0 + 100.0)], records, meta=meta)
    analysis = analyze_run(run_dir)
    (step,) = analysis.steps
    assert step.by_name is not None
    rag = step.by_name["rag"]
    assert (step.requests_failed, rag.requests_failed, step.by_name["chat"].requests_failed) == (13, 13, 0)
    assert rag.error_rate == pytest.approx(13 / 49) and step.error_rate == pytest.approx(13 / 99)
    assert analysis.slo is not None
    judged = analysis.slo["per_step"][0]["clauses"]
    assert [(c["value"], c["passed"]) for c in judged] == [(pytest.approx(13 / 49), False), (pytest.approx(13 / 99), True)]


def test_slo_clauses_naming_a_request_name(tmp_path: Path) -> None:
    analysis = analyze_run(_shared_queue_run(tmp_path, "chat:e2e_p50<=1.5s,rag:e2e_p99.9<5s,e2e_p95<=10"))
    slo = analysis.slo
    assert slo is not None
    named = [c for c in slo["clauses"] if "name" in c]
    assert [(c["name"], c["metric"], c["stat"]) for c in named] == [("chat", "e2e", "p50"), ("rag", "e2e", "p99.9")]
    rows = {row["users"]: row for row in slo["per_step"]}
    assert [c["value"] for c in rows[10]["clauses"]] == pytest.approx([1.85, 4.85, 4.85], abs=1e-6)
    assert [c["passed"] for c in rows[10]["clauses"]] == [False, True, True]
    assert slo["max_users_passing"] == 8
    # goodput at 10 users: a chat answer (1.85 s) fails its clause, a rag answer meets every clause
    assert analysis.steps[4].by_name is not None
    assert rows[10]["goodput_rps"] == pytest.approx(analysis.steps[4].by_name["rag"].rps, rel=1e-9)
    assert "unknown_names" not in slo


def test_a_clause_naming_no_request_of_the_run_fails_and_says_so(tmp_path: Path) -> None:
    slo = analyze_run(_shared_queue_run(tmp_path, "rga:ttft_p95<=2s")).slo
    assert slo is not None and slo["unknown_names"] == ["rga"] and slo["max_users_passing"] is None
    assert slo["per_step"][0]["clauses"] == [{"clause": "rga:ttft_p95<=2s", "value": None, "passed": False}]


def test_a_run_of_one_name_judges_a_clause_naming_it_on_its_totals(tmp_path: Path) -> None:
    steps, records = closed_loop([1, 2, 4], 60.0, {1: 1.0, 2: 1.0, 4: 2.0}, name="plates")
    run_dir = write_run(tmp_path / "run", steps, records, meta={"options": {"slo": "plates:e2e_p50<=1.5s"}})
    summary = summary_json(analyze_run(run_dir))
    assert summary["slo"]["max_users_passing"] == 2
    # `llmload plan` judges a summary against a clause naming the run's one name, or one of several names
    assert operating_point(summary, "plates:e2e_p50<=1.5s")["users"] <= 2
    several = summary_json(analyze_run(_shared_queue_run(tmp_path)))
    assert operating_point(several, "chat:e2e_p50<=1.2s")["users"] == 6  # 8 users: chat at 1.41 s
    assert operating_point(several, "rag:e2e_p50<=5s")["users"] == 6  # the knee: rag meets it everywhere


def test_the_report_shows_rows_and_lines_per_name(tmp_path: Path) -> None:
    built = build_report(_shared_queue_run(tmp_path))
    html = built.html_path.read_text(encoding="utf-8")
    assert html.count('<tr class="by-name') == 2 * len(LEVELS)
    assert 'id="chart-by-name"' in html and "chat: p50 E2E (s)" in html and "rag: req/s" in html
    assert 'id="saturates-first"' in html and "chat saturates first" in html
    assert built.summary["steps"][0]["by_name"]["rag"]["e2e_s"]["p50"] == pytest.approx(4.0, abs=1e-6)
    verdict = io.StringIO()
    print_verdict(built.summary, verdict)
    assert "which request name saturates first: chat: its p50 E2E passed 1.5 x" in verdict.getvalue()
