"""The scale-out benchmarks' own arithmetic (benchmarks/scale_out.py, master_load.py, record_feeder.py,
cluster_sampling.py): core plans, the feeders' schedule, and how sent/written/CPU become rates."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from cluster_sampling import LineCounter, Sample, at  # noqa: E402
from master_load import Plateau, fit, measure_plateaus, sent_at  # noqa: E402
from scale_out import client_cores_for, plan_cores, steady_window  # noqa: E402
from synthetic_records import due_at, length_s, parse_schedule, synthetic_record  # noqa: E402

from llmload.records import Record  # noqa: E402


def test_sixteen_cores_twelve_workers_leave_three_to_the_server_in_every_row() -> None:
    server, llmload, shared = plan_cores(list(range(16)), max_workers=12)
    assert (server, llmload, shared) == ([0, 1, 2], list(range(3, 16)), False)
    assert client_cores_for(llmload, 1, shared) == [3, 4]  # one worker and its master
    assert client_cores_for(llmload, 12, shared) == list(range(3, 16))


def test_two_cores_give_the_server_one_and_llmload_the_other_shared() -> None:
    server, llmload, shared = plan_cores([0, 1], max_workers=2)
    assert (server, llmload, shared) == ([0], [1], True)
    assert client_cores_for(llmload, 2, shared) == [1]


def test_feed_schedule_integrates_its_rates_then_ends() -> None:
    schedule = parse_schedule("100:10, 400:5")
    assert schedule == [(100.0, 10.0), (400.0, 5.0)] and length_s(schedule) == 15.0
    assert [due_at(schedule, t) for t in (-1.0, 0.0, 5.0, 10.0, 10.5, 15.0, 99.0)] == [
        0.0, 0.0, 500.0, 1000.0, 1200.0, 3000.0, 3000.0]


def test_a_synthetic_record_is_a_real_record_of_the_asked_shape() -> None:
    record = synthetic_record("feed1-7", "feed1", end_s=1000.0, tokens=64, batch=100)
    back = Record.from_dict(json.loads(record.to_json()))
    assert back == record and len(back.chunk_s) == 64 and len((back.scenario or {})["batch_ids"]) == 100
    assert back.send_s < back.first_token_s == back.chunk_s[0] < back.chunk_s[-1] <= back.end_s == 1000.0


def test_records_sent_rise_linearly_between_a_feeders_messages() -> None:
    logs = [[(10.0, 0), (10.5, 50), (11.0, 100)], [(10.0, 0), (11.0, 200)]]
    assert sent_at(logs, 10.25) == pytest.approx(25 + 50)
    assert sent_at(logs, 11.0) == 300
    assert sent_at(logs, 20.0) == 300  # after the last message: all of it


def test_plateaus_read_master_cpu_per_record_and_whether_it_kept_up() -> None:
    # one feeder at 1,000/s from t=0; the master writes 1 s behind in the second plateau
    logs = [[(0.0, 0)] + [(t / 2, 500 * t) for t in range(1, 41)]]
    samples = [Sample(t / 5, master_cpu_s=0.05 * t / 5 if t <= 50 else 0.1 * t / 5, worker_cpu_s=0.0,
                      records=int(1000 * t / 5) if t <= 50 else int(1000 * (t / 5 - 1))) for t in range(101)]
    first, second = measure_plateaus([1000, 1000], 10.0, 0.0, samples, logs)
    assert first.sent_rps == pytest.approx(1000, rel=0.01) and first.master_cpu == pytest.approx(0.05)
    assert first.kept_up and first.lag_s == pytest.approx(0.0, abs=0.05)
    assert not second.kept_up and second.lag_s == pytest.approx(1.0, abs=0.05)


def test_fit_gives_idle_cost_and_cost_per_record_from_the_plateaus_kept_up() -> None:
    plateaus = [Plateau(r, 0, 1, sent_rps=r, written_rps=r, master_cpu=0.02 + 3e-5 * r) for r in (500, 1000, 2000)]
    plateaus.append(Plateau(8000, 0, 1, sent_rps=8000, written_rps=4000, master_cpu=1.0, backlog_end=16000))
    idle, per_record_s = fit(plateaus)  # type: ignore[misc]
    assert idle == pytest.approx(0.02) and per_record_s == pytest.approx(3e-5)
    assert fit(plateaus[:1]) is None


def test_line_counter_counts_whole_lines_only(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    counter = LineCounter(path)
    assert counter.read() == 0  # not there yet
    path.write_text('{"a":1}\n{"b":')
    assert counter.read() == 1
    with path.open("a") as f:
        f.write('2}\n{"c":3}\n')
    assert counter.read() == 3


def test_steady_window_starts_a_second_after_every_stream_runs() -> None:
    samples = [Sample(t / 5, 0.0, 0.0, 0, {"active": min(t * 20, 100), "tokens": t}) for t in range(60)]
    window = steady_window(samples, streams=100, window_s=5.0)
    assert window is not None
    assert window[0].t_s == pytest.approx(2.0) and window[1].t_s == pytest.approx(7.0)  # all 100 from t=1.0
    assert steady_window(samples, streams=101, window_s=5.0) is None
    assert at(samples, 0.5).t_s == pytest.approx(0.4)
