"""The analysis model turned into summary.json: one conversion, one rule for missing numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from helpers import T0, rec, write_run
from llmload.analysis.knee import find_knee, knee_of_step_dicts
from llmload.analysis.knee_model import KneeLevel
from llmload.analysis.pipeline import analyze_run
from llmload.analysis.summary_json import summary_json, to_json
from llmload.records import StepMark


def level(users: int, rps: float, e2e_s: float) -> KneeLevel:
    return KneeLevel(users, rps, rps * 10, e2e_s, e2e_s, e2e_s, 0.1, requests_ok=50)


def test_to_json_spells_missing_numbers_null_and_leaves_out_empty_marked_fields() -> None:
    result = find_knee([level(1, 1.0, 1.0), level(2, 2.0, 1.0), level(4, 2.0, 2.0), level(8, 2.0, 4.0)])
    knee, limit = to_json(result.knee), to_json(result.limit)
    assert knee["users"] == 2 and "saturated" not in knee and "interpolated_between" not in knee
    # p50 E2E bound 1.5 x 1 s: crossed between 2 (1 s) and 4 users (2 s), at 3
    assert limit["users"] == 3 and limit["interpolated_between"] == [2, 4] and limit["saturated"] is True
    assert to_json({"a": (np.float64(math.nan), np.int64(3), np.bool_(True))}) == {"a": [None, 3, True]}


def test_the_live_view_reads_summary_shaped_steps_with_the_same_rule() -> None:
    levels = [level(1, 1.0, 1.0), level(2, 2.0, 1.0), level(4, 2.0, 2.0)]
    steps = [
        {"users": lv.users, "rps": lv.rps, "requests_ok": 50, "output_tokens_per_s": math.nan,
         "e2e_s": {"p50": lv.e2e_p50_s, "p95": lv.e2e_p95_s, "mean": lv.e2e_mean_s}, "ttft_s": {"p95": 0.1}}
        for lv in levels
    ]
    steps.append({**steps[-1], "users": 8, "rps": math.nan})  # a step whose window had no length yet
    live = knee_of_step_dicts(steps)
    assert live["knee"]["users"] == find_knee(levels).knee.users == 2
    assert live["knee"]["output_tokens_per_s"] is None  # NaN is no figure
    assert live["limit"]["users"] == 3  # interpolated between 2 and 4 users (bound 1.5 s)


def test_summary_json_of_a_run_is_plain_json_and_counts_the_steady_column(tmp_path: Path) -> None:
    # one 100 s step; warm-up auto = 5 s: the requests sent at 5..97 are steady (end by 100 s)
    records = [rec(i, send=float(i), e2e=2.0) for i in range(100)]
    analysis = analyze_run(write_run(tmp_path, [StepMark(0, 1, T0, T0 + 100)], records))
    summary = summary_json(analysis)
    assert json.loads(json.dumps(summary, allow_nan=False)) == summary  # no NaN, no numpy, no tuples
    (step,) = summary["steps"]
    requests = analysis.run.requests
    assert step["requests_ok"] == int((requests["steady"] & requests["ok"]).sum()) == 93
    assert requests["step_index"].tolist() == [0] * 100
    assert set(step["ttft_s"]) == {"n", "mean", "min", "max", "p50", "p90", "p95", "p99", "ci95"}
    assert "ci95" not in step["tpot_s"]
    assert summary["knee"] is None and summary["knee_reason"] == "need at least 2 valid steps, have 1"
