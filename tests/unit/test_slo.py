"""SLO parsing, per-step judgement, max users passing and goodput."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import T0, rec, write_run
from llmload.analysis.frame import load_run
from llmload.analysis.goodput import slo_summary
from llmload.analysis.slo import SloLevel, evaluate_slo, level_of_summary_step, parse_slo
from llmload.analysis.step_stats import measure_steps
from llmload.errors import UsageError
from llmload.records import StepMark


def test_parse_the_documented_example() -> None:
    clauses = parse_slo("ttft_p95<=2s,e2e_p95<=60s,error_rate<=1%,tpot_p99<=80ms,output_tokens_per_s>=500")
    got = [(c.metric, c.stat, c.op, c.threshold) for c in clauses]
    assert got == [("ttft", "p95", "<=", 2.0), ("e2e", "p95", "<=", 60.0), ("error_rate", None, "<=", 0.01),
                   ("tpot", "p99", "<=", 0.08), ("output_tokens_per_s", None, ">=", 500.0)]
    assert [c.per_request for c in clauses] == [True, True, False, True, False]
    assert parse_slo(" e2e_p99.9 < 70 , tps>0.5")[0].stat == "p99.9"
    assert parse_slo("tps>0.5")[0].metric == "rps"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("ttft<=2s", "'ttft<=2s': ttft needs a statistic"),
        ("latency_p95<=2s", "unknown metric 'latency'"),
        ("ttft_p95=<2s", "'ttft_p95=<2s': expected METRIC"),
        ("ttft_p95<=2%", "is a time"),
        ("error_rate<=5", "did you mean 5%"),
        ("rps>=3ms", "no unit"),
        ("error_rate_p95<=1%", "takes no statistic"),
        ("e2e_p95<=60s,,", None),
        ("", "empty SLO"),
    ],
)
def test_bad_clauses_name_the_clause(spec: str, message: str | None) -> None:
    if message is None:
        assert len(parse_slo(spec)) == 1  # empty clauses from trailing commas are ignored
        return
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        parse_slo(spec)


def test_a_clause_may_name_the_requests_it_judges() -> None:
    rag, upper, colon = parse_slo("rag:ttft_p95<2, RAG Long : e2e_mean<=3s,api:v1:rps>=0.5")
    assert (rag.name, rag.metric, rag.stat, rag.op, rag.threshold) == ("rag", "ttft", "p95", "<", 2.0)
    assert (upper.name, upper.clause, upper.metric) == ("RAG Long", "RAG Long : e2e_mean<=3s", "e2e")  # case kept
    assert (colon.name, colon.metric) == ("api:v1", "rps")  # the name is everything before the last ':'
    assert parse_slo("ttft_p95<2")[0].name is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (":ttft_p95<2", "no request name before ':'"),
        ("rag:itl_p99<0.1", "itl is not measured per name"),
        ("rag:f1>=0.9", "f1 is not measured per name"),
        ("rag:ttft<2", "'rag:ttft<2': ttft needs a statistic"),
    ],
)
def test_bad_named_clauses_name_the_clause(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_slo(spec)


def test_a_named_clause_reads_the_steps_figures_of_that_name() -> None:
    step = {"users": 4, "e2e_s": {"p95": 9.0}, "by_name": {"rag": {"e2e_s": {"p95": 12.0}, "rps": 0.5}}}
    block = evaluate_slo(parse_slo("rag:e2e_p95<=10s,e2e_p95<=10s,rag:rps>=1"), [level_of_summary_step(step)])
    assert [(c["value"], c["passed"]) for c in block["per_step"][0]["clauses"]] == [
        (12.0, False), (9.0, True), (0.5, False)]  # fmt: skip


def _row(users: int, e2e_p95: float | None, error_rate: float = 0.0) -> SloLevel:
    return level_of_summary_step({"users": users, "e2e_s": {"p95": e2e_p95}, "error_rate": error_rate, "rps": 1.0})


def test_max_users_passing_is_contiguous_from_the_bottom() -> None:
    rows = [_row(1, 10), _row(2, 20), _row(4, 70), _row(8, 50), _row(16, None)]
    block = evaluate_slo(parse_slo("e2e_p95<=60s,error_rate<=1%"), rows)
    assert [r["passed"] for r in block["per_step"]] == [True, True, False, True, False]
    assert block["max_users_passing"] == 2  # 8 passes again, but 4 already failed
    assert block["per_step"][4]["clauses"][0] == {"clause": "e2e_p95<=60s", "value": None, "passed": False}
    assert evaluate_slo(parse_slo("error_rate<1%"), [_row(1, 1, 0.02)])["max_users_passing"] is None


def test_goodput_counts_requests_meeting_every_per_request_clause(tmp_path: Path) -> None:
    # one 100 s step, fixed 5 s warm-up; a request every second: even ones take 1 s, odd ones 3 s
    records = [rec(i, send=float(i), e2e=1.0 if i % 2 == 0 else 3.0) for i in range(100)]
    run = load_run(write_run(tmp_path, [StepMark(0, 3, T0, T0 + 100)], records,
                             meta={"options": {"warmup": "5", "slo": ""}}))
    steps = measure_steps(run)
    block = slo_summary(run, steps, "e2e_p50<=2s,e2e_p90<=10s,ttft_p97<=0.2s")
    step = block["per_step"][0]
    # completions in [5, 100): ends at i+1 (even i) or i+3 (odd i), +1 ms -> 95 completions
    assert steps[0].completed_in_window == 95
    # goodput counts work in the window as throughput does: whole requests inside count 1, edge ones their
    # share inside. Fast (1.001 s, even i): 6..98 whole, 0.001 s of the one sent at 4; slow (3.001 s, odd i):
    # 5..95 whole, 1.001 s of the one sent at 3, 3 s of 97's, 1 s of 99's
    fast, slow = 47 + 0.001 / 1.001, 46 + (1.001 + 3 + 1) / 3.001
    assert step["good_share"] == pytest.approx(fast / (fast + slow))
    assert step["goodput_rps"] == pytest.approx(fast / 95)
    assert step["clauses"][2]["value"] == pytest.approx(0.1, abs=1e-6)  # any percentile, from the requests
    # steady requests: 47 fast (sent 6..98 even) and 46 slow (sent 5..95 odd): the median is a fast one
    assert step["clauses"][0]["value"] == pytest.approx(1.0)
    assert step["passed"] is True
    assert slo_summary(run, steps, "e2e_p50<=0.5s")["per_step"][0]["goodput_rps"] == 0.0
