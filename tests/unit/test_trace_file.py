"""Traces read line by line: Mooncake JSONL and CSV, what they ask for (facts), and every bad line a one-line
usage error naming file and line, before any load; the checked-in trace is its generator's output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmload.cli import main
from llmload.load.run_options import parse_run_values
from llmload.load.settings import settings_from
from llmload.scenarios.datasets.trace_file import load_trace, trace_facts
from trace_synth import TRACE, trace_lines

HOST = "http://127.0.0.1:9"  # never reached: every case fails in validation first


def mooncake(*rows: object) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def row(ts: object = 0, inp: object = 600, out: object = 8, ids: object = (1, 2)) -> dict[str, object]:
    return {"timestamp": ts, "input_length": inp, "output_length": out,
            "hash_ids": list(ids) if isinstance(ids, tuple) else ids}  # fmt: skip


def test_a_mooncake_trace_reads_arrivals_from_its_first_request_and_counts_its_repeated_blocks(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(mooncake(row(1000, 600, 8, (1, 2)), row(1500, 1100, 4, (1, 3, 4)), row(3000, 512, 2, (5,)),
                             {"timestamp": 3000, "input_length": 100, "output_length": 1}))  # fmt: skip
    trace = load_trace(path)
    assert [r.at_s for r in trace] == [0.0, 0.5, 2.0, 2.0]
    assert [r.line for r in trace] == [1, 2, 3, 4] and trace[3].hash_ids is None
    facts = trace_facts(path, trace)
    assert (facts.requests, facts.span_s, facts.rate_rps) == (4, 2.0, 2.0)
    assert (facts.blocks, facts.blocks_seen_before) == (2 + 3 + 1 + 1, 1)  # block 1 again in line 2
    assert (facts.longest_tokens, facts.longest_line) == (1104, 2)


def test_a_csv_trace_has_seconds_and_any_other_columns(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("user,timestamp,input_tokens,output_tokens\nu1,100.5,30,5\nu2,101,40,6\n")
    trace = load_trace(path)
    assert [(r.at_s, r.input_tokens, r.output_tokens, r.line) for r in trace] == [(0.0, 30, 5, 2), (0.5, 40, 6, 3)]


BAD: dict[str, tuple[str, str, str]] = {
    "unsorted": ("t.jsonl", mooncake(row(0), row(2000), row(1000)),
                 ":3: timestamp 1000 is before the previous line's 2000"),
    "negative input": ("t.jsonl", mooncake(row(0), row(10, -5, 8, [])),
                       ":2: 'input_length' must be a positive integer (tokens), got -5"),
    "negative output": ("t.jsonl", mooncake(row(0, 600, -1)), ":1: 'output_length' must be a positive integer"),
    "missing key": ("t.jsonl", mooncake({"timestamp": 0, "input_length": 9}), ":1: no 'output_length'"),
    "hash ids not a list": ("t.jsonl", mooncake(row(0, 600, 8, "1,2")), ":1: 'hash_ids' must be a list of block ids, got str"),
    "hash ids too few": ("t.jsonl", mooncake(row(0, 1100, 8, (1, 2))), ":1: 'hash_ids' has 2 blocks but input_length 1100 needs 3"),
    "not json": ("t.jsonl", mooncake(row(0)) + "{oops\n", ":2: not JSON"),
    "negative timestamp": ("t.jsonl", mooncake(row(-1)), ":1: 'timestamp' must be 0 or more"),
    "csv missing column": ("t.csv", "timestamp,input_tokens\n0,5\n", ":1: no 'output_tokens' column"),
    "csv unsorted": ("t.csv", "timestamp,input_tokens,output_tokens\n5,1,1\n4,1,1\n", ":3: timestamp 4 is before"),
    "csv negative": ("t.csv", "timestamp,input_tokens,output_tokens\n0,-3,1\n", ":2: 'input_tokens' must be a positive"),
    "csv empty cell": ("t.csv", "timestamp,input_tokens,output_tokens\n0,,1\n", ":2: 'input_tokens' is empty"),
    "empty": ("t.jsonl", "\n", ": the trace is empty"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_traces_exit_2_naming_file_and_line(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name, text, needle = BAD[case]
    path = tmp_path / name
    path.write_text(text)
    code = main(["run", "--host", HOST, "--trace", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and str(path) + needle in err, err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--trace", str(TRACE), "--rate", "1"], "--trace: the trace says when requests leave: give no --rate"),
        (["--trace", str(TRACE), "--dataset", "synthetic:prompt_tokens=8,output_tokens=2"], "give no --dataset"),
        (["--trace-speed", "2"], "--trace-speed: speeds of a trace: give --trace PATH"),
        (["--trace", str(TRACE), "--trace-speed", "0"], "--trace-speed: rates in '0' must be greater than zero"),
        (["--trace", "no-such.jsonl"], "--trace: no-such.jsonl: no such file"),
        (["--trace", str(TRACE), "--step-duration", "auto"],
         "--step-duration auto: open-loop steps (--trace) need a fixed duration"),
        (["--trace", str(TRACE), "--locustfile", "locustfiles/chat_and_long_context.py"],
         "--trace: not used with --locustfile"),
        (["--sessions", "--locustfile", "locustfiles/chat_and_long_context.py"],
         "--sessions: not used with --locustfile"),
    ],
)
def test_trace_options_that_do_not_go_together(args: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--host", HOST, *args]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and needle in err, err


def test_a_trace_run_with_users_auto_still_steps_by_the_default_duration() -> None:
    """--users auto with --trace is no adaptive plan: the trace's steps keep a fixed length (60 s by default)."""
    parsed = parse_run_values({"host": HOST, "trace": str(TRACE), "users": "auto", "trace_speed": "1,2"})
    settings = settings_from(parsed, Path("."))
    assert parsed["step_duration"] == 60.0 and not settings.adaptive and settings.step_count == 2
    assert settings.trace_until_s == 120.0


def test_the_checked_in_trace_is_the_generators_and_reads(tmp_path: Path) -> None:
    assert [json.loads(line) for line in TRACE.read_text().splitlines()] == trace_lines()
    trace = load_trace(TRACE)
    facts = trace_facts(TRACE, trace)
    assert facts.requests == 60 and 14 < facts.span_s < 15 and facts.longest_tokens < 4096
    assert 0.4 < facts.blocks_seen_before / facts.blocks < 0.6  # Mooncake's traces: up to 50% of blocks reused
