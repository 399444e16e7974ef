"""APDEX and the error tables on hand-made numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llmload.analysis.apdex import apdex, apdex_per_step, rating, thresholds
from llmload.analysis.error_tables import errors_table, top_errors_per_step
from llmload.analysis.step_windows import StepWindow, place_requests
from llmload.records import StepMark


def test_apdex_counts_and_score() -> None:
    # T = 4 s, F = 16 s: 1 and 2 satisfied, 5 and 10 tolerating, 50 and the failure frustrated
    e2e = np.array([1.0, 2.0, 5.0, 10.0, 50.0, 0.5])
    ok = np.array([True, True, True, True, True, False])
    result = apdex(e2e, ok, 4.0, 16.0)
    assert (result["satisfied"], result["tolerating"], result["frustrated"]) == (2, 2, 2)
    assert result["score"] == pytest.approx((2 + 2 / 2) / 6)
    assert rating(result["score"]) == "poor" and rating(0.49) == "unacceptable"
    assert apdex(np.array([]), np.array([], dtype=bool), 4.0, 16.0)["score"] is None


def test_apdex_boundaries_are_inclusive() -> None:
    result = apdex(np.array([4.0, 16.0, 16.000001]), np.array([True, True, True]), 4.0, 16.0)
    assert (result["satisfied"], result["tolerating"], result["frustrated"]) == (1, 1, 1)


def test_thresholds_sources() -> None:
    assert thresholds() == {"t_s": 60.0, "f_s": 240.0, "t_source": "default"}
    assert thresholds(slo="ttft_p95<=2s,e2e_p95<=30s") == {"t_s": 30.0, "f_s": 120.0, "t_source": "slo"}
    assert thresholds(slo="e2e_p99<=1500ms")["t_s"] == pytest.approx(1.5)
    assert thresholds(slo="ttft_p95<=2s")["t_source"] == "default"  # no e2e clause
    assert thresholds(10.0, 25.0, slo="e2e_p95<=30s") == {"t_s": 10.0, "f_s": 25.0, "t_source": "option"}


def _requests(
    rows: list[tuple[float, float, bool, str | None, int | None, str | None]],
) -> tuple[pd.DataFrame, list[StepWindow]]:
    """The requests placed in one step of 4 users from 0 to 100 s with a 10 s warm-up."""
    frame = pd.DataFrame.from_records(
        rows, columns=["send_s", "end_s", "ok", "error_kind", "http_status", "error"]
    ).assign(e2e_s=lambda f: f["end_s"] - f["send_s"])
    return place_requests(frame, [StepMark(0, 4, 0.0, 100.0)], 10.0)


def test_apdex_per_step_population() -> None:
    req, windows = _requests(
        [
            (1.0, 3.0, True, None, None, None),  # in the warm-up: not counted
            (20.0, 22.0, True, None, None, None),  # satisfied (2 s <= 4 s)
            (30.0, 40.0, True, None, None, None),  # tolerating (10 s)
            (
                5.0,
                6.0,
                False,
                "connect",
                None,
                "refused",
            ),  # a failure in the warm-up still counts (frustrated)
            (95.0, 105.0, True, None, None, None),  # ended after the step: not counted
        ]
    )
    assert req["steady"].tolist() == [False, True, True, False, False]
    (row,) = apdex_per_step(req, windows, {"t_s": 4.0, "f_s": 16.0})
    assert (row["samples"], row["satisfied"], row["tolerating"], row["frustrated"]) == (3, 1, 1, 1)
    assert row["score"] == pytest.approx(0.5)


def test_error_tables() -> None:
    req, windows = _requests(
        [
            (1.0, 2.0, False, "http_status", 503, "HTTP 503: busy"),
            (2.0, 3.0, False, "http_status", 503, "HTTP 503: busy"),
            (3.0, 4.0, False, "http_status", 500, "HTTP 500: <b>x</b>"),
            (4.0, 5.0, False, "first_token_timeout", None, "no token in 600 s"),
            (5.0, 6.0, True, None, None, None),
            (150.0, 151.0, False, "connect", None, "refused"),
        ]
    )
    table = errors_table(req)
    assert [(r["type"], r["count"]) for r in table] == [
        ("http_status 503", 2),
        ("connect", 1),
        ("first_token_timeout", 1),
        ("http_status 500", 1),
    ]
    assert table[0]["percent_of_errors"] == pytest.approx(40.0)
    assert table[0]["percent_of_samples"] == pytest.approx(100 * 2 / 6)
    assert table[0]["example"] == "HTTP 503: busy"
    (step,) = top_errors_per_step(req, windows)  # the connect failure at 150 s is outside the step
    assert (step["samples"], step["errors"]) == (5, 4)
    assert step["top"][0] == {"type": "http_status 503", "count": 2}
