"""Validity checks: a planted generator stall is flagged and excluded; Little's law is checked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers import T0, closed_loop, rec, write_run
from llmload.analysis.frame import load_run
from llmload.analysis.metrics import step_rows
from llmload.analysis.stats import bootstrap_percentile_ci, intervals_overlap
from llmload.analysis.summary import build_summary
from llmload.records import StepMark


def _health(path: Path, samples: list[tuple[float, float, float]]) -> None:
    path.write_text(
        "".join(
            json.dumps(
                {
                    "t_s": T0 + t,
                    "worker": "w",
                    "cpu_percent": cpu,
                    "loop_lag_max_s": lag,
                    "loop_lag_mean_s": lag / 2,
                }
            )
            + "\n"
            for t, cpu, lag in samples
        )
    )


def test_planted_generator_stall_is_flagged_and_excluded_from_the_knee(tmp_path: Path) -> None:
    levels = list(range(1, 13))
    e2e = {u: 10.0 if u <= 8 else 10.0 * u / 8 for u in levels}
    steps, records = closed_loop(levels, step_s=400.0, e2e_for=e2e)
    run_dir = write_run(tmp_path, steps, records)
    healthy = [(t, 20.0, 0.002) for t in range(0, 4800, 10)]
    stall_at = 5 * 400 + 200  # in the middle of the 6-user step
    _health(run_dir / "generator.jsonl", healthy + [(stall_at, 99.0, 0.400)])
    rows = step_rows(load_run(run_dir))
    flagged = [r["users"] for r in rows if r["excluded"]]
    assert flagged == [6]
    reasons = rows[5]["excluded_reasons"]
    assert any("CPU reached 99%" in r for r in reasons) and any("400 ms late" in r for r in reasons)
    summary = build_summary(load_run(run_dir))
    assert summary["knee"]["users"] == 8


def test_a_busy_generator_gets_a_caution_before_it_is_excluded(tmp_path: Path) -> None:
    steps, records = closed_loop([2, 4, 6], step_s=400.0, e2e_for={2: 10.0, 4: 10.0, 6: 10.0})
    run_dir = write_run(tmp_path, steps, records)
    cpu = {0: 40.0, 1: 74.0, 2: 60.0}  # by step; the 6-user step peaks at 95% once but averages 60%
    samples = [(t, cpu[t // 400], 0.002) for t in range(0, 1200, 10)] + [(1000.0, 95.0, 0.002)]
    _health(run_dir / "generator.jsonl", samples)
    rows = step_rows(load_run(run_dir))
    assert [bool(r["validity"]["generator"]["cautions"]) for r in rows] == [False, True, False]
    assert "averaged 74%" in rows[1]["validity"]["generator"]["cautions"][0]
    assert [r["excluded"] for r in rows] == [False, False, True]  # a caution does not exclude; 95% does
    assert rows[2]["validity"]["generator"]["cautions"] == []  # an excluded step needs no caution too


def test_healthy_closed_loop_obeys_littles_law(tmp_path: Path) -> None:
    steps, records = closed_loop([4], step_s=1000.0, e2e_for={4: 10.0})
    (row,) = step_rows(load_run(write_run(tmp_path, steps, records)))
    law = row["validity"]["littles_law"]
    assert law["implied_users"] == pytest.approx(4.0, rel=0.03)
    assert law["ok"]


def test_half_idle_users_break_littles_law(tmp_path: Path) -> None:
    # the plan says 8 users but only 4 ever send: the implied concurrency is 4
    steps, records = closed_loop([4], step_s=1000.0, e2e_for={4: 10.0})
    steps = [StepMark(0, 8, steps[0].start_s, steps[0].end_s)]
    (row,) = step_rows(load_run(write_run(tmp_path, steps, records)))
    assert row["validity"]["littles_law"]["deviation"] == pytest.approx(0.5, abs=0.03)
    assert not row["validity"]["littles_law"]["ok"]


def test_scheduling_gap_of_a_slow_generator_is_measured(tmp_path: Path) -> None:
    # one user whose next request leaves 0.5 s after the previous one ended
    records = [rec(i, send=i * 2.5, e2e=2.0) for i in range(100)]
    run = load_run(write_run(tmp_path, [StepMark(0, 1, T0, T0 + 250)], records))
    (row,) = step_rows(run)
    assert row["validity"]["scheduling_lag_wall"]["p50_s"] == pytest.approx(0.499, abs=0.002)


def test_bootstrap_interval_contains_the_percentile_and_narrows_with_n() -> None:
    rng = np.random.default_rng(1)
    small = rng.exponential(1.0, 100)
    large = rng.exponential(1.0, 4000)
    ci_small = bootstrap_percentile_ci(small)["p50"]
    ci_large = bootstrap_percentile_ci(large)["p50"]
    assert ci_small is not None and ci_large is not None
    assert ci_small[0] <= np.percentile(small, 50) <= ci_small[1]
    assert (ci_large[1] - ci_large[0]) < (ci_small[1] - ci_small[0]) / 3
    assert intervals_overlap(ci_small, ci_large)
    assert intervals_overlap([1.0, 2.0], [2.5, 3.0]) is False
