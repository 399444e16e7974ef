"""Known-answer tests of the virtual-time vLLM scheduler model and the fixed engine."""

from __future__ import annotations

from dataclasses import replace

import pytest

from llmload.sim.engine import VllmEngine
from llmload.sim.events import TokenEvent
from llmload.sim.fixed import FixedEngine
from llmload.sim.sim_profile import SimProfile

BASE = SimProfile(name="t", model="m", max_num_seqs=8, block_size=4, kv_budget_tokens=None, step_base_s=0.25)


def tokens_of(events: list[TokenEvent], req_id: str) -> int:
    return sum(e.n_tokens for e in events if e.req_id == req_id)


def run_all(engine: VllmEngine, until_s: float = 1e9) -> list[TokenEvent]:
    return engine.advance(until_s)


def test_third_request_waits_for_a_free_slot() -> None:
    eng = VllmEngine(replace(BASE, max_num_seqs=2))
    eng.add_request("a", 4, 4, 0.0)
    eng.add_request("b", 4, 2, 0.0)
    eng.add_request("c", 4, 3, 0.0)
    first = eng.advance(0.3)
    assert [(e.req_id, e.t_s, e.n_tokens) for e in first] == [("a", 0.25, 1), ("b", 0.25, 1)]
    assert (eng.stats().running, eng.stats().waiting) == (2, 1)
    run_all(eng)
    done = {r.req_id: r for r in eng.drain_finished()}
    assert done["b"].finish_s == 0.5
    assert done["c"].first_token_s == 0.75  # admitted in the step after b finished
    assert done["a"].finish_s == 1.0
    assert done["c"].finish_s == 1.25
    # vLLM's phases: c waited for b's slot (scheduled at 0.5), prefilled in one step, decoded two more
    c = done["c"]
    assert (c.scheduled_s, c.queue_s, c.prefill_s, c.decode_s, c.inference_s) == (0.5, 0.5, 0.25, 0.5, 0.75)
    assert (done["a"].queue_s, done["a"].prefill_s) == (0.0, 0.25)
    assert eng.stats().generation_tokens_total == 9
    assert eng.stats().prompt_tokens_total == 12


def test_step_time_model_is_exact() -> None:
    prof = replace(BASE, step_base_s=0.5, step_per_seq_s=0.25, step_per_kv_token_s=0.0625, prefill_s_per_token=0.125)
    eng = VllmEngine(prof)
    eng.add_request("a", 8, 3, 0.0)
    events = run_all(eng)
    # step 1: 0.5 + 0.25 + 8/16 + prefill 8*0.125 = 2.25; step 2 (ctx 9): 1.3125; step 3 (ctx 10): 1.375
    assert events[0].t_s == 2.25
    assert events[-1].t_s == 4.9375 and events[-1].finished
    assert tokens_of(events, "a") == 3


def test_arrival_mid_bundle_joins_at_next_step() -> None:
    prof = replace(BASE, step_base_s=0.5, step_per_seq_s=0.25, step_per_kv_token_s=0.0625, prefill_s_per_token=0.125)
    eng = VllmEngine(prof)
    eng.add_request("a", 8, 3, 0.0)
    assert [e.t_s for e in eng.advance(2.6)] == [2.25]
    eng.add_request("b", 8, 1, 2.6)
    events = run_all(eng)
    # a's step 2 runs 2.25..3.5625; then a (ctx 10) + b (prefill 8): 0.5 + 0.5 + 18/16 + 1.0 = 3.125
    assert [(e.req_id, e.t_s) for e in events] == [("a", 3.5625), ("a", 6.6875), ("b", 6.6875)]


def test_kv_exhaustion_preempts_newest_and_it_resumes() -> None:
    prof = replace(BASE, kv_budget_tokens=16, step_base_s=1.0, prefill_s_per_token=0.125)  # 4 blocks of 4
    eng = VllmEngine(prof)
    eng.add_request("a", 4, 6, 0.0)
    eng.add_request("b", 4, 6, 0.0)
    events = run_all(eng)
    done = {r.req_id: r for r in eng.drain_finished()}
    # steps end at 2 (prefill 8 tokens), 3, 4, 5, 6; at t=6 a needs a 3rd block: b is preempted
    assert eng.stats().preemptions_total == 1
    assert done["b"].preemptions == 1 and done["a"].preemptions == 0
    assert done["a"].finish_s == 7.0
    # b resumes at 7 re-prefilling 4 prompt + 5 generated tokens: 1 + 9*0.125
    assert done["b"].finish_s == 9.125
    # as vLLM's: the preemption moves neither b's first scheduling nor its first token
    assert (done["b"].queue_s, done["b"].prefill_s, done["b"].decode_s) == (0.0, 2.0, 7.125)
    assert tokens_of(events, "b") == 6 and tokens_of(events, "a") == 6
    assert eng.stats().kv_usage == 0.0
    assert eng.stats().prompt_tokens_total == 8  # re-prefill is not new prompt


def test_admission_needs_free_blocks() -> None:
    eng = VllmEngine(replace(BASE, kv_budget_tokens=16))  # 4 blocks
    eng.add_request("a", 12, 2, 0.0)  # 3 blocks
    eng.add_request("b", 8, 1, 0.0)  # 2 blocks: must wait
    eng.advance(0.2)
    assert (eng.stats().running, eng.stats().waiting) == (1, 1)
    assert eng.stats().kv_usage == 0.75
    eng.advance(0.25)  # step 2 begins: a now holds 13 tokens = 4 blocks, b still cannot enter
    assert (eng.stats().running, eng.stats().waiting, eng.stats().kv_usage) == (1, 1, 1.0)
    eng.advance(0.5)  # a finished at 0.5, b admitted
    assert (eng.stats().running, eng.stats().waiting, eng.stats().kv_usage) == (1, 0, 0.5)


def test_request_that_can_never_fit_is_rejected() -> None:
    eng = VllmEngine(replace(BASE, kv_budget_tokens=16))
    with pytest.raises(ValueError, match="KV cache"):
        eng.add_request("big", 16, 2, 0.0)


def test_abort_frees_slot_and_blocks() -> None:
    eng = VllmEngine(replace(BASE, kv_budget_tokens=1024, max_num_seqs=1))
    eng.add_request("a", 4, 100, 0.0)
    eng.add_request("b", 4, 2, 0.0)
    eng.advance(1.0)
    eng.abort("a")
    events = run_all(eng)
    assert {e.req_id for e in events} == {"b"}
    assert [r.req_id for r in eng.drain_finished()] == ["b"]
    assert eng.stats().kv_usage == 0.0


def test_fixed_engine_exact_deadlines() -> None:
    eng = FixedEngine(replace(BASE, engine="fixed", ttft_s=0.1, itl_s=0.02))
    eng.add_request("a", 10, 5, 1.0)
    assert eng.next_token_s() == 1.1 and eng.next_token_is_first()
    assert eng.advance(1.0999) == []
    ev = eng.advance(1.1)
    assert [(e.n_tokens, e.first) for e in ev] == [(1, True)]
    ev = eng.advance(1.15)
    assert ev[0].n_tokens == 2 and ev[0].t_s == pytest.approx(1.14, abs=1e-12)
    ev = eng.advance(10.0)
    assert ev[0].n_tokens == 2 and ev[0].finished and ev[0].t_s == pytest.approx(1.18, abs=1e-12)
    rec = eng.drain_finished()[0]
    assert rec.ttft_s == pytest.approx(0.1) and rec.e2e_s == pytest.approx(0.18)
