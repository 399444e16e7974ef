"""Trace replay: prompts whose equal block ids are equal text of the trace's lengths, the schedule that sends
each request at its trace time over the speed-up (each process its part, every request once), and capacity in
trace terms (the largest speed-up meeting the SLO, the replicas for a target speed-up)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from llmload.analysis.trace_speed import max_speed
from llmload.capacity.hardware import load_hardware
from llmload.capacity.trace_plan import build_trace_plan
from llmload.load.trace_schedule import TraceSchedule
from llmload.scenarios.datasets.fitted_words import LEAD
from llmload.scenarios.datasets.trace_blocks import build_trace
from llmload.scenarios.datasets.trace_file import TraceRequest
from llmload.scenarios.datasets.trace_scenario import load_trace_scenario
from token_counters import WordCounter

REQUESTS = [
    TraceRequest(1, 0.0, 1100, 8, (7, 8, 9)),
    TraceRequest(2, 0.5, 700, 4, (7, 10)),
    TraceRequest(3, 1.0, 1300, 4, (7, 8, 11)),
    TraceRequest(4, 1.5, 690, 4, (7, 10)),  # block 10 again, 10 tokens shorter: the start of the same words
    TraceRequest(5, 2.0, 300, 2, None),
]


def words_of(text: str) -> list[str]:
    return text.removeprefix(LEAD).split()


@pytest.mark.parametrize("chat", [True, False])
def test_prompts_have_the_traces_lengths_and_share_exactly_their_equal_blocks(chat: bool) -> None:
    counter = WordCounter()
    specs, warnings = build_trace(REQUESTS, counter, chat)
    assert warnings == []
    for request, spec in zip(REQUESTS, specs, strict=True):
        text = spec.messages[0]["content"] if spec.messages else spec.prompt
        assert counter.count(spec.messages, None if chat else text) == request.input_tokens
        assert spec.max_tokens == request.output_tokens and spec.ignore_eos
        assert spec.facts == {"kind": "trace", "line": request.line, "prompt_tokens": request.input_tokens,
                              "output_tokens": request.output_tokens}  # fmt: skip
    texts = [s.messages[0]["content"] if s.messages else s.prompt for s in specs]
    shared = {(a, b): len(os.path.commonprefix([words_of(texts[a]), words_of(texts[b])])) for a, b in
              ((0, 2), (0, 1), (1, 3), (0, 4))}  # fmt: skip
    tokens = {pair: WordCounter().count_text(" ".join(words_of(texts[pair[0]])[:n])) for pair, n in shared.items()}
    lead = WordCounter().count_text(LEAD)
    assert tokens[(0, 2)] in range(2 * 512 - lead - 2, 2 * 512 - lead + 1)  # blocks 7, 8: the last word may match
    assert tokens[(0, 1)] in range(512 - lead - 2, 512 - lead + 1)  # block 7
    assert tokens[(1, 3)] >= 690 - 512 - 8 - 2  # block 10's shorter copy is its start (less the framing)
    assert tokens[(0, 4)] < 3  # nothing shared: no ids


def test_a_tokenizer_whose_words_do_not_add_up_is_a_warning() -> None:
    class Rounding(WordCounter):
        def count(self, messages: Any, prompt: str | None) -> int:
            return round(super().count(messages, prompt) * 1.1)

    _, warnings = build_trace(REQUESTS[:1], Rounding(), True)
    assert len(warnings) == 1 and "do not add up" in warnings[0] and "line 1:" in warnings[0]


def test_a_scenario_builds_only_what_the_run_replays(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("timestamp,input_tokens,output_tokens\n0,20,2\n1,30,2\n2,40,2\n3,50,2\n")
    scenario, _ = load_trace_scenario(path, WordCounter(), True, until_s=2.0)
    assert scenario.arrivals_s == [0.0, 1.0] and [s.facts["line"] for s in scenario.specs] == [2, 3]
    assert scenario.facts["requests"] == 4  # the whole file's facts
    first, _ = load_trace_scenario(path, WordCounter(), True, first_only=True)
    assert len(first.specs) == 1 and first.pick(0, 0) == 0


def test_a_step_sends_each_request_at_its_trace_time_over_the_speed_up_cut_at_the_steps_end() -> None:
    schedule = TraceSchedule([0.0, 1.0, 2.0, 4.0, 9.0])
    schedule.start(speed=2.0, now_s=100.0, cut_s=3.0)
    claimed = []
    while (arrival := schedule.claim_next()) is not None:
        claimed.append(arrival)
    assert claimed == [(100.0, 0), (100.5, 1), (101.0, 2), (102.0, 3)]  # 9 s / 2 = 4.5 s: past the cut
    generation = schedule.generation
    schedule.start(speed=0.5, now_s=200.0, cut_s=3.0)
    assert schedule.generation == generation + 1 and schedule.claim_next() == (200.0, 0)
    assert schedule.claim_next() == (202.0, 1) and schedule.claim_next() is None


def test_each_process_sends_its_part_and_together_every_request_once() -> None:
    arrivals = [0.1 * i for i in range(23)]
    parts = []
    for part in range(3):
        schedule = TraceSchedule(arrivals)
        schedule.start(1.0, 0.0, 60.0, part, 3)
        parts.append([index for _, index in iter(schedule.claim_next, None)])
    assert sorted(i for p in parts for i in p) == list(range(23))
    assert all(p == sorted(p) for p in parts) and [len(p) for p in parts] == [8, 8, 7]


def test_the_offered_rate_is_the_traces_at_the_speed_up_over_what_the_step_replays() -> None:
    schedule = TraceSchedule([0.0, 1.0, 2.0, 3.0, 4.0])  # 5 requests over 4 s
    assert schedule.offered_rps(1.0, 10.0) == pytest.approx(5 / 4.0)  # the whole trace, then idle
    assert schedule.offered_rps(2.0, 10.0) == pytest.approx(5 / 2.0)
    assert schedule.offered_rps(1.0, 2.5) == pytest.approx(3 / 2.5)  # cut: over the step


def rows(*values: tuple[float, float, bool]) -> list[dict[str, Any]]:
    return [{"index": i, "speed": speed, "slo_passed": passed, "prefix_cache_hit_rate": 0.4,
             "slo_clauses": [{"clause": "e2e_p95<=2s", "value": e2e, "passed": passed}], "e2e_p95_s": e2e,
             "in_flight_mean": 2.0 * speed, "kv_tokens_in_flight": 2.0 * speed * 1500.0}
            for i, (speed, e2e, passed) in enumerate(values)]  # fmt: skip


SLO = {"spec": "e2e_p95<=2s", "clauses": [{"clause": "e2e_p95<=2s", "threshold": 2.0, "op": "<="}]}


def test_the_largest_speed_up_meeting_the_slo_and_where_it_would_cross() -> None:
    found = max_speed(rows((4.0, 3.0, False), (1.0, 1.0, True), (2.0, 1.5, True)), SLO)
    assert found["max_speed_passing"] == 2.0
    assert found["max_speed_estimate"] == pytest.approx(2.0 + (2.0 - 1.5) / (3.0 - 1.5) * 2.0)  # 2.67x
    assert found["binding_clause"] == "e2e_p95<=2s"
    assert max_speed(rows((1.0, 2.5, False), (2.0, 1.0, True)), SLO)["max_speed_passing"] is None
    everywhere = max_speed(rows((1.0, 1.0, True), (2.0, 1.2, True)), SLO)
    assert everywhere["max_speed_passing"] == 2.0 and everywhere["max_speed_estimate"] is None
    assert max_speed(rows((1.0, 1.0, True)), None)["max_speed_passing"] is None


def trace_summary() -> dict[str, Any]:
    steps = [{"index": i, "users": 64, "rps": 2.0 * s, "output_tokens_per_s": 100.0 * s, "requests_ok": 50,
              "e2e_s": {"p95": e}, "ttft_s": {}, "error_rate": 0.0}
             for i, (s, e) in enumerate(((1.0, 1.0), (2.0, 1.5), (4.0, 3.0)))]  # fmt: skip
    judged = [{"users": 64, "passed": e <= 2.0, "clauses": [{"clause": "e2e_p95<=2s", "value": e, "passed": e <= 2.0}]}
              for e in (1.0, 1.5, 3.0)]  # fmt: skip
    return {"steps": steps, "slo": {**SLO, "per_step": judged},
            "trace": {"rate_rps": 2.0, "steps": rows((1.0, 1.0, True), (2.0, 1.5, True), (4.0, 3.0, False))}}


def test_a_trace_plan_serves_the_target_speed_up_with_replicas_of_the_largest_passing_one() -> None:
    plan = build_trace_plan([("s", trace_summary())], load_hardware("seed-2x4090"), target_speed=5.0)
    assert plan["feasible"] and plan["operating_point"]["speed"] == 2.0
    assert plan["replicas"] == 3 and plan["gpus"] == 6 and plan["per_replica_speed"] == pytest.approx(5 / 3)
    kv = plan["kv"]
    budget = load_hardware("seed-2x4090").kv_tokens()[0]
    assert kv["kv_tokens_in_flight"] == 6000.0 and kv["kv_share"] == pytest.approx(6000.0 / budget)
    assert kv["kv_tokens_at_target"] == pytest.approx(6000.0 * (5 / 3) / 2.0)
    assert kv["kv_bound_speed"] == pytest.approx(2.0 * budget / 6000.0)
    stricter = build_trace_plan([("s", trace_summary())], load_hardware("seed-2x4090"), 5.0, "e2e_p95<=1.2s")
    assert stricter["operating_point"]["speed"] == 1.0 and stricter["replicas"] == 5


def test_a_trace_plan_needs_a_trace_run_and_an_slo() -> None:
    from llmload.errors import UsageError

    with pytest.raises(UsageError, match="not a trace run"):
        build_trace_plan([("s", {"steps": []})], load_hardware("seed-2x4090"), 2.0)
    no_slo = {**trace_summary(), "slo": None}
    with pytest.raises(UsageError, match="without --slo"):
        build_trace_plan([("s", no_slo)], load_hardware("seed-2x4090"), 2.0)
