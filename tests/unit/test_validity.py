"""Validity checks: a planted generator stall is flagged and excluded; Little's law is checked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers import T0, closed_loop, rec, write_run
from llmload.analysis.frame import load_run
from llmload.analysis.model import LittlesLaw, StepStats
from llmload.analysis.pipeline import analyze_run
from llmload.analysis.stats import bootstrap_percentile_ci, intervals_overlap
from llmload.analysis.step_stats import measure_steps
from llmload.records import StepMark


def _health(
    path: Path, samples: list[tuple[float, float, float]], system_cpu: float | None = None, wait: float | None = None
) -> None:
    path.write_text(
        "".join(
            json.dumps(
                {
                    "t_s": T0 + t,
                    "worker": "w",
                    "cpu_percent": cpu,
                    "system_cpu_percent": system_cpu,
                    "runqueue_wait_percent": wait,
                    "loop_lag_max_s": lag,
                    "loop_lag_mean_s": lag / 2,
                }
            )
            + "\n"
            for t, cpu, lag in samples
        )
    )


STAMPED = {"read_lag_max_s": 0.0004}  # records whose token times came from kernel receive stamps


def _stall_run(tmp_path: Path, **record_fields: float) -> list[StepStats]:
    levels = list(range(1, 13))
    e2e = {u: 10.0 if u <= 8 else 10.0 * u / 8 for u in levels}
    steps, records = closed_loop(levels, step_s=400.0, e2e_for=e2e, **record_fields)
    run_dir = write_run(tmp_path, steps, records)
    healthy = [(t, 20.0, 0.002) for t in range(0, 4800, 10)]
    stall_at = 5 * 400 + 200  # in the middle of the 6-user step
    _health(run_dir / "generator.jsonl", healthy + [(stall_at, 99.0, 0.400)])
    return measure_steps(load_run(run_dir))


def test_a_stall_without_kernel_stamps_is_damage_and_excluded_from_the_knee(tmp_path: Path) -> None:
    rows = _stall_run(tmp_path)  # no stamps: the 400 ms stall may sit in every token time (TTFT 0.1 s)
    assert [r.users for r in rows if r.excluded] == [6]
    (reason,) = rows[5].excluded_reasons
    assert reason.startswith("generator saturated") and "400 ms" in reason and "--workers" in reason
    assert rows[5].validity.generator.damage.latency_error_share == pytest.approx(4.0, rel=0.01)
    knee = analyze_run(tmp_path).knee.knee
    assert knee is not None and knee.users == 8


def test_the_same_stall_with_kernel_stamps_and_sends_on_time_is_kept_with_a_caution(tmp_path: Path) -> None:
    rows = _stall_run(tmp_path, **STAMPED)
    assert not any(r.excluded for r in rows)
    (caution,) = rows[5].validity.generator.cautions
    assert "woke 400 ms late (its own CPU); kept" in caution


def test_a_busy_generator_gets_a_caution_and_a_cpu_peak_alone_excludes_nothing(tmp_path: Path) -> None:
    steps, records = closed_loop([2, 4, 6], step_s=400.0, e2e_for={2: 10.0, 4: 10.0, 6: 10.0})
    run_dir = write_run(tmp_path, steps, records)
    cpu = {0: 40.0, 1: 74.0, 2: 60.0}  # by step; the 6-user step peaks at 95% once but averages 60%
    samples = [(t, cpu[t // 400], 0.002) for t in range(0, 1200, 10)] + [(1000.0, 95.0, 0.002)]
    _health(run_dir / "generator.jsonl", samples)
    rows = measure_steps(load_run(run_dir))
    assert [bool(r.validity.generator.cautions) for r in rows] == [False, True, False]
    assert "averaged 74%" in rows[1].validity.generator.cautions[0]
    assert [r.excluded for r in rows] == [False, False, False]  # sends on time, loop lag 2 ms: no damage


def _idle_run(tmp_path: Path, gap_s: float, cpu: float, wait: float | None = None) -> StepStats:
    # 4 users, 10 s requests; each next request leaves gap_s after the previous one's last bytes arrived
    steps, records = closed_loop([4], step_s=1000.0, e2e_for={4: 10.0}, gap_s=gap_s, **STAMPED)
    for r in records:
        r.last_byte_s = r.end_s
    run_dir = write_run(tmp_path, steps, records)
    _health(run_dir / "generator.jsonl", [(t, cpu, 0.3) for t in range(0, 1000, 5)], system_cpu=100.0, wait=wait)
    (row,) = measure_steps(load_run(run_dir))
    return row


@pytest.mark.parametrize(
    ("gap_s", "cpu", "cause"),
    [(0.05, 5.0, None), (0.3, 5.0, "machine contended"), (0.3, 95.0, "generator saturated")],
)
def test_users_left_idle_by_a_late_generator_exclude_the_step_above_one_percent(
    tmp_path: Path, gap_s: float, cpu: float, cause: str | None
) -> None:
    row = _idle_run(tmp_path, gap_s, cpu)
    generator = row.validity.generator
    # idle share = (gap - 1 ms the response took to end) / (e2e + gap): 0.05 s -> 0.5% (kept), 0.3 s -> 2.9%
    assert generator.damage.idle_share == pytest.approx((gap_s - 0.001) / (10.0 + gap_s), rel=0.001)
    assert generator.cause == cause and row.excluded is (cause is not None)
    if cause:
        assert generator.reasons[0].startswith(cause) and "stood idle 2.9%" in generator.reasons[0]
    if cause == "machine contended":
        assert "the generator used 5% of a core, the machine 100% busy" in generator.reasons[0]
        assert "--cpus" in generator.reasons[0]


@pytest.mark.parametrize(("cpu", "wait", "cause"), [(45.0, 50.0, "generator saturated"), (5.0, 20.0, "machine contended")])
def test_cpu_used_plus_cpu_waited_for_is_the_generators_own_demand(
    tmp_path: Path, cpu: float, wait: float, cause: str
) -> None:
    # a generator that wanted a whole core but shared it with a busy neighbour is saturated all the same;
    # one that wanted little and waited for it was held back by others
    generator = _idle_run(tmp_path, 0.3, cpu, wait).validity.generator
    assert generator.cause == cause
    assert f"waited {wait:.0f}% of the time for one" in generator.reasons[0]
    assert generator.runqueue_wait_percent_mean == pytest.approx(wait)


def test_open_loop_lateness_counts_only_when_a_user_was_free(tmp_path: Path) -> None:
    # rate 1/s, 5 s requests, the first two on time, the rest 0.5 s late. --max-users 2: from the third
    # arrival on every user is busy, so the wait is the client queue; with 10 users free, it is the generator's
    def run(max_users: int, sub: str) -> StepStats:
        records = [
            rec(i, send=i + (0.5 if i >= 2 else 0.0), e2e=5.0, intended_send_s=T0 + i, **STAMPED)
            for i in range(100)
        ]
        steps = [StepMark(0, max_users, T0, T0 + 120, rate_rps=1.0)]
        (row,) = measure_steps(load_run(write_run(tmp_path / sub, steps, records)))
        return row

    busy = run(2, "busy")
    free = run(10, "free")
    assert busy.validity.generator.damage.open_loop_late_p95_wall_s == 0.0  # the two on time
    assert not busy.excluded
    assert free.validity.generator.damage.open_loop_late_p95_wall_s == pytest.approx(0.5)
    assert free.excluded and "requests left late by up to 500 ms" in free.excluded_reasons[0]


def test_healthy_closed_loop_obeys_littles_law(tmp_path: Path) -> None:
    steps, records = closed_loop([4], step_s=1000.0, e2e_for={4: 10.0})
    (row,) = measure_steps(load_run(write_run(tmp_path, steps, records)))
    law = row.validity.littles_law
    assert isinstance(law, LittlesLaw)
    assert law.implied_users == pytest.approx(4.0, rel=0.03)
    assert law.ok


def test_half_idle_users_break_littles_law(tmp_path: Path) -> None:
    # the plan says 8 users but only 4 ever send: the implied concurrency is 4
    steps, records = closed_loop([4], step_s=1000.0, e2e_for={4: 10.0})
    steps = [StepMark(0, 8, steps[0].start_s, steps[0].end_s)]
    (row,) = measure_steps(load_run(write_run(tmp_path, steps, records)))
    law = row.validity.littles_law
    assert isinstance(law, LittlesLaw)
    assert law.deviation == pytest.approx(0.5, abs=0.03)
    assert not law.ok


def test_scheduling_gap_of_a_slow_generator_is_measured(tmp_path: Path) -> None:
    # one user whose next request leaves 0.5 s after the previous one ended
    records = [rec(i, send=i * 2.5, e2e=2.0) for i in range(100)]
    run = load_run(write_run(tmp_path, [StepMark(0, 1, T0, T0 + 250)], records))
    (row,) = measure_steps(run)
    assert row.validity.scheduling_lag_wall.p50_s == pytest.approx(0.499, abs=0.002)
    assert row.validity.generator.damage.idle_share == pytest.approx(0.5 / 2.5, abs=0.001)


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
