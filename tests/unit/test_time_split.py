"""The time split (analysis.time_split, analysis.histogram_window) against the simulator's scheduler truth in
virtual time, and its rules: bucket quantiles, the remainder's sign, why nothing is shown, the queue sentence."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from helpers import T0, rec, write_run
from llmload.analysis.histogram_window import HistogramDelta
from llmload.analysis.server_evidence import load_server_metrics
from llmload.analysis.time_split import (
    configured_max_num_seqs,
    phase_histograms,
    step_time_split,
    time_split_summary,
)
from llmload.records import StepMark
from llmload.report.build import build_report
from llmload.sim.engine import VllmEngine
from llmload.sim.events import FinishedRecord
from llmload.sim.fixed import FixedEngine
from llmload.sim.request_histograms import RequestHistograms
from llmload.sim.sim_profile import SimProfile

PROFILE = SimProfile(name="t", model="m", max_num_seqs=8, step_base_s=0.02, step_per_seq_s=0.002,
                     prefill_s_per_token=0.0005, kv_budget_tokens=None)  # fmt: skip
SCALE = 10.0  # the simulator's time scale: /metrics in wall seconds, the analysis scales back
NETWORK_S = 0.004  # what the "client" adds to every TTFT and E2E


def scrape_lines(t_wall_s: float, engines: list[RequestHistograms]) -> list[str]:
    lines = []
    for engine, hists in enumerate(engines):
        labels = {"model_name": "m", "engine": str(engine)}
        for name, (_, hist) in hists.by_name.items():
            for le, count in hist.cumulative():
                lines.append(_line(t_wall_s, name + "_bucket", {**labels, "le": le}, count))
            lines.append(_line(t_wall_s, name + "_sum", labels, hist.sum))
            lines.append(_line(t_wall_s, name + "_count", labels, hist.count))
    return lines


def _line(t_s: float, name: str, labels: dict[str, str], value: float) -> str:
    return json.dumps({"t_s": t_s, "name": name, "labels": labels, "value": value})


def closed_loop(tmp_path: Path) -> tuple[pd.DataFrame, list[FinishedRecord]]:
    """4 users for 40 s, then 12 (8 slots), 64 prompt and 40 output tokens, scraped every virtual second;
    finished requests alternate between two engines' histograms. Returns the server frame (profile time)
    and the scheduler's finished records."""
    engine, engines = VllmEngine(PROFILE), [RequestHistograms(SCALE), RequestHistograms(SCALE)]
    records: list[FinishedRecord] = []
    lines: list[str] = []
    counter = 0

    def send(now_s: float) -> None:
        nonlocal counter
        counter += 1
        engine.add_request(f"r{counter}", 64, 40, now_s)

    for _ in range(4):
        send(0.0)
    t, next_scrape, added = 0.0, 0.0, False
    while t < 80.0:
        t = min(engine.next_change_s() or math.inf, next_scrape)
        for event in engine.advance(t, start_at_until=False):
            if event.finished:
                send(event.t_s)
        if t >= 40.0 and not added:
            for _ in range(8):
                send(t)
            added = True
        engine.advance(t)
        for record in engine.drain_finished():
            engines[len(records) % 2].observe(record)
            records.append(record)
        if t == next_scrape:
            lines += scrape_lines(t / SCALE, engines)
            next_scrape += 1.0
    (tmp_path / "server_metrics.jsonl").write_text("\n".join(lines) + "\n")
    return load_server_metrics(tmp_path / "server_metrics.jsonl", 0.0, SCALE), records


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, list[FinishedRecord]]:
    return closed_loop(tmp_path_factory.mktemp("loop"))


def client_frame(records: list[FinishedRecord]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ok": [True] * len(records),
            "end_s": [r.finish_s for r in records],
            "ttft_s": [r.ttft_s + NETWORK_S for r in records],
            "e2e_s": [r.e2e_s + NETWORK_S for r in records],
        }
    )


@pytest.mark.parametrize("window", [(10.0, 40.0), (55.0, 80.0)])
def test_split_equals_the_schedulers_truth(
    loop: tuple[pd.DataFrame, list[FinishedRecord]], window: tuple[float, float]
) -> None:
    server, records = loop
    split = step_time_split(phase_histograms(server, SCALE), client_frame(records), *window)
    assert split is not None
    lo, hi = split["span_s"]
    truth = [r for r in records if lo < r.finish_s <= hi]
    assert split["server_requests"] == split["client_requests"] == len(truth) > 50
    for phase in ("queue_s", "prefill_s", "decode_s", "inference_s"):
        expected = float(np.mean([getattr(r, phase) for r in truth]))
        assert split[phase]["mean"] == pytest.approx(expected, rel=0.02, abs=1e-9), phase
    assert split["server_ttft_s"]["mean"] == pytest.approx(np.mean([r.ttft_s for r in truth]), rel=0.02)
    assert split["ttft_remainder_s"] == pytest.approx(NETWORK_S, abs=1e-9)
    assert split["e2e_remainder_s"] == pytest.approx(NETWORK_S, abs=1e-9)
    share = split["queue_share_of_ttft"]
    if window[0] < 40.0:  # 4 users, 8 slots: a request is scheduled in the step it arrives before
        assert share < 0.01
    else:  # 12 users, 8 slots: 4 wait
        assert share > 0.5


def test_time_scale_maps_buckets_back_to_vllms(loop: tuple[pd.DataFrame, list[FinishedRecord]]) -> None:
    server, _ = loop
    phases = phase_histograms(server, SCALE)
    assert list(phases["queue_s"].bounds_s[:3]) == pytest.approx([0.3, 0.5, 0.8])
    assert phases["server_ttft_s"].bounds_s[0] == pytest.approx(0.001)


def delta(cumulative: list[float], bounds: list[float]) -> HistogramDelta:
    return HistogramDelta(cumulative[-1], 1.0, np.array(bounds), np.array(cumulative), (0.0, 1.0))


def test_quantiles_interpolate_only_inside_narrow_buckets() -> None:
    bounds = [0.3, 0.5, 0.8, 1.0, 1.5, math.inf]
    # 100 requests: 10 up to 0.3 s, 40 in (0.3, 0.5], 40 in (0.5, 0.8], 5 in (1.0, 1.5], 5 above 1.5 s
    d = delta([10, 50, 90, 90, 95, 100], bounds)
    assert d.quantile(0.5) == (pytest.approx(0.5), (0.3, 0.5))
    assert d.quantile(0.7) == (pytest.approx(0.5 + 0.3 * 20 / 40), (0.5, 0.8))
    assert d.quantile(0.99) == (None, (1.5, None))  # in +Inf: no upper bound
    assert d.quantile(0.05) == (None, (0.0, 0.3))  # the first bucket is as wide as its bound
    wide = delta([0, 0, 0, 0, 100, 100], bounds)  # (1.0, 1.5]: a third of 1.5 wide, allowed
    assert wide.quantile(0.5)[0] == pytest.approx(1.25)


def test_negative_remainder_is_kept_negative(loop: tuple[pd.DataFrame, list[FinishedRecord]]) -> None:
    server, records = loop
    early = client_frame(records).assign(ttft_s=lambda f: f["ttft_s"] - 0.05)  # a client clock 50 ms fast
    split = step_time_split(phase_histograms(server, SCALE), early, 10.0, 40.0)
    assert split is not None and split["ttft_remainder_s"] == pytest.approx(NETWORK_S - 0.05, abs=1e-9)


def test_no_phase_histograms_no_split_and_the_reason(loop: tuple[pd.DataFrame, list[FinishedRecord]]) -> None:
    server, _ = loop
    ttft_only = server[server["name"].str.startswith("vllm:time_to_first_token")]
    assert phase_histograms(ttft_only, 1.0) == {}
    summary = time_split_summary(ttft_only, [(4, None, None)], {})
    assert summary["available"] is False and summary["metrics"] == {"server_ttft_s": "vllm:time_to_first_token_seconds"}
    assert "hold no vllm:request_queue_time_seconds, vllm:request_prefill_time_seconds" in summary["absent_reason"]
    empty = time_split_summary(pd.DataFrame(columns=["t_s", "name", "labels", "value"]), [(4, None, None)], {})
    assert empty["absent_reason"].startswith("no server metrics were sampled")


def level(users: int, share: float, running_max: float) -> tuple[int, dict[str, Any], dict[str, Any]]:
    return users, {"queue_share_of_ttft": share}, {"running_max": running_max}


def test_sentence_from_the_level_where_the_queue_holds_over_half_of_ttft(
    loop: tuple[pd.DataFrame, list[FinishedRecord]],
) -> None:
    server, _ = loop
    levels = [level(4, 0.0, 4), level(5, 0.3, 4), level(6, 0.55, 4), level(8, 0.7, 4), level(12, 0.8, 4)]
    meta = {"target": {"sim": {"max_num_seqs": 4}}}
    summary = time_split_summary(server, levels, meta)
    assert summary["queue_over_half_from_users"] == 6
    assert summary["why_here"] == (
        "from 6 users on, requests wait for a slot: max-num-seqs 4 (the server ran 4 at once); the server's "
        "queue is 55% of TTFT at 6 users and more than half at every level above"
    )
    kv_bound = time_split_summary(server, [level(4, 0.1, 3), level(8, 0.6, 3)], meta)
    assert "ran at most 3 at once, below its max-num-seqs 4: KV cache or token budget" in kv_bound["why_here"]
    dips = time_split_summary(server, [level(4, 0.6, 4), level(8, 0.4, 4)], meta)  # not sustained
    assert dips["queue_over_half_from_users"] is None and dips["why_here"] is None


def test_max_num_seqs_from_the_simulator_or_the_serve_argv() -> None:
    assert configured_max_num_seqs({"target": {"sim": {"max_num_seqs": 64}}}) == 64
    argv = ["vllm", "serve", "m", "--max-num-seqs", "4"]
    assert configured_max_num_seqs({"target": {"serve": {"argv": argv}}}) == 4
    assert configured_max_num_seqs({"target": {"serve": {"argv": ["--max-num-seqs=6"]}}}) == 6
    assert configured_max_num_seqs({"target": {}}) is None


def test_fixed_engine_has_no_queue() -> None:
    engine = FixedEngine(replace(PROFILE, engine="fixed", ttft_s=0.1, itl_s=0.02))
    engine.add_request("a", 10, 3, 1.0)
    engine.advance(5.0)
    (record,) = engine.drain_finished()
    assert (record.queue_s, record.prefill_s, record.decode_s) == (0.0, pytest.approx(0.1), pytest.approx(0.04))


def test_report_says_why_there_is_no_split(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "run", [StepMark(0, 1, T0, T0 + 60)], [rec(i, float(i), 2.0) for i in range(50)])
    result = build_report(run_dir)
    assert result.summary["steps"][0]["time_split"] is None
    html = result.html_path.read_text()
    assert 'id="time-split-absent"' in html and "No time split: no server metrics were sampled" in html
    assert 'id="chart-time-split-ttft"' not in html  # nothing drawn in its place
