"""JMeter's per-sample figures in the requests frame (label, Latency, Connect, bytes) and the tables built on
them: Statistics and APDEX per label with a Total row, Top 5 Errors by sampler (label), on hand-made numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers import T0, rec, write_run
from llmload.analysis.frame import load_run
from llmload.analysis.pipeline import AnalysisOptions, analyze_run
from llmload.records import Record, StepMark


def _records() -> list[Record]:
    """Our own requests (no name): E2E 1, 2, 3 s and an HTTP 500; two "summarise" samples of 10 and 20 s with
    1000 body bytes each. Sends 0..4 s; the first of each opened its connection 5 ms after its send."""
    ours = [
        rec(0, 0.0, 1.0, connect_s=T0 + 0.005, headers_s=T0 + 0.02),
        rec(1, 1.0, 2.0, headers_s=T0 + 1.03),
        rec(2, 2.0, 3.0),
        rec(3, 3.0, 0.5, ok=False, error_kind="http_status", http_status=500, error="HTTP 500: boom"),
    ]
    theirs = [
        rec(4, 0.5, 10.0, name="summarise", response_bytes=1000, connect_s=T0 + 0.505),
        rec(5, 4.0, 20.0, name="summarise", response_bytes=1000),
    ]
    return ours + theirs


def _run(tmp_path: Path) -> Path:
    return write_run(tmp_path / "run", [StepMark(0, 2, T0, T0 + 100.0)], _records())


def test_the_frame_has_label_latency_connect_and_bytes(tmp_path: Path) -> None:
    req = load_run(_run(tmp_path)).requests.set_index("request_id")
    assert req["label"].tolist() == ["chat/completions"] * 4 + ["summarise"] * 2
    assert req.loc["r0", "latency_s"] == pytest.approx(0.02, abs=1e-6)
    assert req.loc["r1", "latency_s"] == pytest.approx(0.03, abs=1e-6)
    assert np.isnan(req.loc["r2", "latency_s"])  # no headers stamp: missing, not zero
    assert req.loc["r0", "connect_time_s"] == pytest.approx(0.005, abs=1e-6)
    assert req.loc["r4", "connect_time_s"] == pytest.approx(0.005, abs=1e-6)
    assert np.isnan(req.loc["r1", "connect_time_s"])  # a kept-alive connection: no connect time
    assert req.loc["r4", "response_bytes"] == 1000 and np.isnan(req.loc["r0", "response_bytes"])


def test_statistics_and_apdex_per_label_with_a_total(tmp_path: Path) -> None:
    analysis = analyze_run(_run(tmp_path), AnalysisOptions(apdex_t_s=2.5, apdex_f_s=10.0))
    ours, theirs = analysis.statistics.per_label
    total = analysis.statistics.total
    assert (ours.label, theirs.label, total.label) == ("chat/completions", "summarise", "Total")
    assert (ours.samples, ours.failed, ours.error_rate) == (4, 1, 0.25)
    # E2E over the successes only: 1, 2, 3 s (the failure's 0.5 s is not a response time)
    assert (ours.e2e_s.n, ours.e2e_s.mean, ours.e2e_s.min, ours.e2e_s.max) == (3, 2.0, 1.0, 3.0)
    ours_span_s = 5.001  # first send 0 s, last end 2 + 3 + 0.001 s
    assert ours.rps == pytest.approx(4 / ours_span_s)
    assert ours.output_tokens_per_s == pytest.approx(3 * 11 / ours_span_s)
    assert ours.received_bytes_per_s is None  # not measured: never 0
    theirs_span_s = 24.001 - 0.5
    assert theirs.received_bytes_per_s == pytest.approx(2000 / theirs_span_s)
    assert (total.samples, total.failed) == (6, 1)
    assert total.received_bytes_per_s == pytest.approx(2000 / 24.001)
    # APDEX, T = 2.5 s, F = 10 s: ours 1 and 2 satisfied, 3 tolerating, the failure frustrated
    assert ours.apdex["score"] == pytest.approx((2 + 0.5) / 4)
    assert theirs.apdex["score"] == pytest.approx(0.5 / 2)  # 10 s tolerating, 20 s frustrated
    assert total.apdex["score"] == analysis.apdex["overall"]["score"]


def test_top_errors_by_sampler_is_per_label(tmp_path: Path) -> None:
    errors = analyze_run(_run(tmp_path)).errors
    assert errors["top_per_label"] == [
        {"label": "chat/completions", "samples": 4, "errors": 1, "top": [{"type": "http_status 500", "count": 1}]}
    ]
