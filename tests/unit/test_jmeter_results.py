"""`llmload import jtl`: JMeter results (CSV with and without header, XML) -> a run directory whose report
finds the seed's knee from throughput and E2E alone, with what JMeter does not measure missing, not zero."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import jmeter_synth as synth
from helpers import T0, rec, write_run
from llmload.analysis.pipeline import analyze_run
from llmload.analysis.summary_json import summary_json
from llmload.cli import main
from llmload.jmeter.jtl_import import import_jtl
from llmload.jmeter.jtl_records import user_ids
from llmload.records import Record, StepMark, iter_record_dicts, read_steps

HEADER = ",".join(synth.DEFAULT_COLUMNS)
URL = "http://10.0.0.8:8000/v1/chat/completions"
ROWS = [  # hand-made: an answer on a new connection, one on a reused one, a 504, a refused connection
    f"1767862911000,41993,chat/completions,200,OK,Thread Group 1-1,text,true,,23456,9100,1,1,{URL},52,0,3",
    f"1767862953000,40000,chat/completions,200,OK,Thread Group 1-1,text,true,,22000,9100,2,2,{URL},60,0,0",
    f'1767862960000,120,chat/completions,504,Gateway Time-out,Thread Group 1-2,text,false,"Test failed: code expected to contain /200/, got 504",160,9100,2,2,{URL},118,0,0',
    f"1767862961000,2,chat/completions,Non HTTP response code: java.net.ConnectException,Non HTTP response message: Connection refused,Thread Group 1-2,text,false,,0,0,2,2,{URL},0,0,2",
]


def read_records(path: Path) -> list[Record]:
    return [Record.from_dict(d) for d in iter_record_dicts(path)]


def write(path: Path, *lines: str, end: str = "\n") -> Path:
    path.write_text("\n".join(lines) + end, encoding="utf-8")
    return path


def test_each_sample_becomes_a_record_with_jmeter_meanings(tmp_path: Path) -> None:
    result = import_jtl(write(tmp_path / "r.jtl", HEADER, *ROWS), tmp_path / "run")
    first, reused, http_504, refused = read_records(tmp_path / "run" / "records.jsonl")
    assert result.records == 4
    assert (first.send_s, first.end_s) == (1767862911.0, pytest.approx(1767862952.993))
    assert first.headers_s == pytest.approx(1767862911.052)  # Latency: time to headers, not first token
    assert first.connect_s == pytest.approx(1767862911.003) and reused.connect_s is None  # kept alive
    assert (first.ok, first.http_status, first.error_kind, first.name) == (True, 200, None, "chat/completions")
    assert (first.user_id, first.worker, first.response_bytes) == (1, "jmeter", 23456)
    assert first.first_token_s is None and first.output_tokens is None and first.chunk_s == []
    assert (http_504.ok, http_504.http_status, http_504.error_kind) == (False, 504, "http_status")
    assert http_504.error == "Test failed: code expected to contain /200/, got 504"
    assert (refused.http_status, refused.error_kind, refused.headers_s) == (None, "connect", None)
    assert refused.error == "Non HTTP response message: Connection refused"
    meta = json.loads((tmp_path / "run" / "meta.json").read_text())
    assert meta["source"]["tool"] == "jmeter" and meta["source"]["samples"] == 4
    assert meta["target"]["host"] == "http://10.0.0.8:8000" and meta["options"]["warmup"] == "auto"
    assert meta["ended_s"] == pytest.approx(1767862952.993)


def test_csv_without_header_and_xml_give_the_same_records(tmp_path: Path) -> None:
    rows = synth.samples(seed=3, levels=6)
    runs = []
    for name, path in (
        ("header", synth.write_csv(tmp_path / "a.jtl", rows)),
        ("bare", synth.write_csv(tmp_path / "b.jtl", rows, header=False)),
        ("xml", synth.write_xml(tmp_path / "c.xml", rows)),
    ):
        import_jtl(path, tmp_path / name)
        runs.append((read_records(tmp_path / name / "records.jsonl"), read_steps(tmp_path / name / "steps.jsonl")))
    assert len(runs[0][0]) == len(rows) > 100
    assert runs[0] == runs[1] == runs[2]
    assert sum(1 for r in runs[0][0] if not r.ok) == sum(1 for r in rows if r["success"] == "false")


def test_steps_follow_all_threads_and_start_when_the_new_thread_sends(tmp_path: Path) -> None:
    import_jtl(synth.write_csv(tmp_path / "r.jtl", synth.samples(levels=8)), tmp_path / "run")
    steps = read_steps(tmp_path / "run" / "steps.jsonl")
    t0 = synth.T0_MS / 1000
    assert [s.users for s in steps] == list(range(1, 9))
    assert [round(s.start_s - t0, 3) for s in steps] == [k * synth.STEP_S for k in range(8)]
    assert [s.end_s for s in steps[:-1]] == [s.start_s for s in steps[1:]]


def test_users_and_step_duration_lay_steps_from_the_first_sample(tmp_path: Path) -> None:
    path = synth.write_csv(tmp_path / "r.jtl", synth.samples(levels=8))
    assert main(["import", "jtl", str(path), "--out", str(tmp_path / "run"), "--users", "2,4,6", "--step-duration", "10m"]) == 0
    t0 = synth.T0_MS / 1000
    assert read_steps(tmp_path / "run" / "steps.jsonl") == [
        StepMark(0, 2, t0, t0 + 600), StepMark(1, 4, t0 + 600, t0 + 1200), StepMark(2, 6, t0 + 1200, t0 + 1800)
    ]


def test_the_report_finds_the_seed_knee_from_throughput_and_e2e(tmp_path: Path) -> None:
    import_jtl(synth.write_csv(tmp_path / "r.jtl", synth.samples()), tmp_path / "run")
    summary = summary_json(analyze_run(tmp_path / "run"))
    assert abs(summary["knee"]["users"] - synth.CAPACITY) <= 1
    assert 31 <= summary["limit"]["users"] <= 34  # E2E 1.5x the knee's: 32-33 users in the model
    knee_step = next(s for s in summary["steps"] if s["users"] == summary["knee"]["users"])
    assert knee_step["e2e_s"]["p50"] == pytest.approx(synth.response_s(knee_step["users"]), rel=0.05)
    assert knee_step["ttft_s"]["p50"] is None and knee_step["tpot_s"]["p50"] is None  # missing, not zero
    assert knee_step["output_tokens_per_s"] is None and summary["knee"]["output_tokens_per_s"] is None
    assert summary["accuracy"]["precision"] is None  # nothing scored: not a perfect 1.0
    assert summary["requests"]["failed"] == sum(1 for r in synth.samples() if r["success"] == "false") > 0


def llmload_run(run_dir: Path) -> Path:
    """A small llmload run with tokens and TTFT: 1 then 2 users, 19 s answers."""
    steps, records = [], []
    for index, users in enumerate((1, 2)):
        start = 300.0 * index
        steps.append(StepMark(index, users, T0 + start, T0 + start + 300.0))
        records += [rec(len(records) + 14 * u + k, start + 20.0 * k + u, 19.0, user=u) for u in range(users) for k in range(14)]
    return write_run(run_dir, steps, records)


def test_report_and_compare_run_on_an_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jtl = synth.write_csv(tmp_path / "r.jtl", synth.samples(levels=4))
    assert main(["import", "jtl", str(jtl), "--out", str(tmp_path / "jmeter")]) == 0
    assert main(["report", str(tmp_path / "jmeter")]) == 0
    verdict = capsys.readouterr().out
    assert "model – on http://10.0.0.8:8000" in verdict and "precision – recall –" in verdict
    html = (tmp_path / "jmeter" / "report.html").read_text(encoding="utf-8")
    assert "No data for this chart: Output tokens per second over the run." in html
    ours = llmload_run(tmp_path / "llmload")
    (ours / "summary.json").write_text(json.dumps(summary_json(analyze_run(ours))), encoding="utf-8")
    main(["compare", str(tmp_path / "jmeter"), str(ours), "--out", str(tmp_path)])
    steps = json.loads((tmp_path / "compare.json").read_text())["steps"]
    assert [s["level"] for s in steps] == [1, 2]
    cells = steps[0]["metrics"]
    assert cells["ttft_p95_s"]["base"] is None and cells["ttft_p95_s"]["new"] == pytest.approx(0.1, abs=0.01)
    assert cells["output_tokens_per_s"]["base"] is None and cells["output_tokens_per_s"]["delta"] is None
    assert cells["e2e_p95_s"]["base"] == pytest.approx(synth.response_s(1), rel=0.15)
    assert "– -> " in capsys.readouterr().out  # printed as missing, not 0


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ((HEADER.replace("Latency", "Lag"), ROWS[0]), ":1: unknown column(s) 'Lag'"),
        ((HEADER, ROWS[0], ROWS[1].replace(",40000,", ",40s,")), ":3: elapsed '40s' is not a whole number"),
        ((HEADER, ROWS[0].replace("1767862911000", "2026/01/08 09:01:51"), ROWS[1]), ":2: timeStamp '2026/01/08 09:01:51' is not epoch milliseconds"),
        ((HEADER, ROWS[0][:60], ROWS[1]), ":2: 6 fields, expected 17: timeStamp,elapsed"),
        ((ROWS[0], ROWS[1][:60], ROWS[2]), ":2: 6 fields, expected 17 (no header row: JMeter's default columns"),
        ((HEADER, ROWS[0].replace(",true,", ",yes,")), ":2: success 'yes' is not true or false"),
    ],
)
def test_a_bad_csv_is_one_line_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: tuple[str, ...], message: str
) -> None:
    path = write(tmp_path / "bad.jtl", *lines)
    assert main(["import", "jtl", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert f"{path}{message}" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run" / "records.jsonl").exists()


def test_a_tab_separated_header_with_saved_variables(tmp_path: Path) -> None:
    header = "\t".join(["timeStamp", "elapsed", "label", "success", "allThreads", '"batch"'])
    path = write(tmp_path / "tab.jtl", header, "1767862911000\t41993\tchat\ttrue\t3\tb0001")
    import_jtl(path, tmp_path / "run")
    (record,) = read_records(tmp_path / "run" / "records.jsonl")
    assert (record.name, record.end_s - record.send_s, record.ok) == ("chat", pytest.approx(41.993), True)
    assert read_steps(tmp_path / "run" / "steps.jsonl")[0].users == 3


def test_a_truncated_last_line_is_skipped_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "cut.jtl", HEADER, ROWS[0], ROWS[1], ROWS[2][:70], end="")
    assert main(["import", "jtl", str(path), "--out", str(tmp_path / "run")]) == 0
    assert f"{path}:4: truncated last line skipped" in capsys.readouterr().err
    assert len(read_records(tmp_path / "run" / "records.jsonl")) == 2
    assert json.loads((tmp_path / "run" / "meta.json").read_text())["source"]["skipped"] == 1


def test_xml_cut_inside_a_sample_keeps_the_complete_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = synth.samples(levels=2)
    text = synth.write_xml(tmp_path / "full.xml", rows, close=False).read_text()
    cut = write(tmp_path / "cut.xml", text + synth.xml_sample(rows[0])[:90], end="")
    assert main(["import", "jtl", str(cut), "--out", str(tmp_path / "run")]) == 0
    assert "truncated last sample skipped" in capsys.readouterr().err
    assert len(read_records(tmp_path / "run" / "records.jsonl")) == len(rows)


def test_xml_errors_name_the_line_and_nested_samples_stay_in_their_parent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    row = synth.samples(levels=1)[0]
    child = synth.xml_sample({**row, "label": "chat/completions-0"})
    lines = ['<?xml version="1.0"?>', "<testResults>", synth.xml_sample(row, child).strip(), "</testResults>"]
    assert main(["import", "jtl", str(write(tmp_path / "nested.xml", *lines)), "--out", str(tmp_path / "run")]) == 0
    assert "1 samples" in capsys.readouterr().out and len(read_records(tmp_path / "run" / "records.jsonl")) == 1
    bad = write(tmp_path / "bad.xml", lines[0], lines[1], synth.xml_sample({**row, "elapsed": "x"}).strip(), *lines[1:])
    assert main(["import", "jtl", str(bad), "--out", str(tmp_path / "run2")]) == 2
    assert f"{bad}:3: elapsed 'x' is not a whole number" in capsys.readouterr().err


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "r.jtl", HEADER, *ROWS)
    assert main(["import", "jtl", str(path), "--out", str(tmp_path / "run"), "--users", "1,2"]) == 2
    assert "--users and --step-duration together" in capsys.readouterr().err
    no_threads = write(tmp_path / "n.jtl", "timeStamp,elapsed,label,success", "1767862911000,1000,a,true")
    assert main(["import", "jtl", str(no_threads), "--out", str(tmp_path / "run")]) == 2
    assert "without allThreads" in capsys.readouterr().err
    assert main(["import", "jtl", str(path), "--out", str(tmp_path / "run")]) == 0
    assert main(["import", "jtl", str(path), "--out", str(tmp_path / "run")]) == 2
    assert "already holds records.jsonl" in capsys.readouterr().err


def test_user_ids_keep_thread_numbers_and_separate_thread_groups() -> None:
    ids = user_ids(["Thread Group 1-2", "Thread Group 1-1", "Other 2-1", "Thread Group 1-3", "Other 2-2", "main"])
    assert ids == {"Thread Group 1-1": 1, "Thread Group 1-2": 2, "Thread Group 1-3": 3,
                   "Other 2-1": 4, "Other 2-2": 5, "main": 6}  # fmt: skip
