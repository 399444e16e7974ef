"""Bad input through the real CLI (in-process `llmload.cli.main`): one line on stderr naming the problem
and where it is, exit code 2, never a traceback. Every case fails before any network traffic."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from llmload.cli import main

GOOD_ROW = {"id": "c1", "text": "今天天气不错", "plates": [], "industry": "traffic", "scene": "commute"}
HOST = "http://127.0.0.1:9"  # never reached: every case fails in validation first


def _jsonl(*rows: object) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows)


DATASETS: dict[str, tuple[bytes, str]] = {
    "invalid JSON": (_jsonl(GOOD_ROW) + b'{"id": "c2", "text": \n', ":2: invalid JSON"),
    "missing field": (_jsonl({k: v for k, v in GOOD_ROW.items() if k != "plates"}), ":1: missing field 'plates'"),
    "wrong type": (_jsonl({**GOOD_ROW, "plates": "京A12345"}), ":1: field 'plates' must be a list"),
    "text not a string": (_jsonl({**GOOD_ROW, "text": 42}), ":1: field 'text' must be a string"),
    "not an object": (_jsonl([1, 2, 3]), ":1: expected a JSON object"),
    "empty file": (b"", ": dataset is empty"),
    "only blank lines": (b"\n\n  \n", ": dataset is empty"),
    "huge line": (_jsonl({**GOOD_ROW, "text": "长" * 40000}), ":1: line is 120"),
    "non-UTF-8": (_jsonl(GOOD_ROW) + b'{"id": "\xff\xfe"}\n', ":2: not valid UTF-8"),
    "duplicate id": (_jsonl(GOOD_ROW, GOOD_ROW), ":2: duplicate id 'c1'"),
    "plate not in the bare form": (_jsonl({**GOOD_ROW, "plates": ["京A·12345"]}), ":1: plate '京A·12345' is not"),
}


@pytest.mark.parametrize("case", sorted(DATASETS))
def test_bad_datasets(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, needle = DATASETS[case]
    path = tmp_path / "bad.jsonl"
    path.write_bytes(data)
    for argv in (["dataset", "validate", str(path)], ["run", "--host", HOST, "--dataset", str(path)]):
        _assert_one_line_usage_error(argv, capsys, str(path) + needle if needle.startswith(":") else needle)


WORKLOADS: dict[str, tuple[str, bytes, list[str], str]] = {  # file name, its bytes, options, what stderr says
    "a line that is not JSON": ("c.jsonl", b'{"messages": [{"role": "user", "content": "hi"}]}\n{"messages": [\n', [],
                                ":2: not JSON"),
    "messages not a list": ("c.jsonl", b'{"messages": "hi"}\n', [], ":1: 'messages' must be a non-empty list"),
    "a message without a role": ("c.jsonl", b'{"messages": [{"content": "hi"}]}\n', [], ":1: messages[0]: 'role'"),
    "bad expected regex": ("p.jsonl", b'{"prompt": "hi", "expected": "re:("}\n', [], ":1: 'expected' is not a valid regex"),
    "max_tokens not a number": ("p.jsonl", b'{"prompt": "hi", "max_tokens": "lots"}\n', [], ":1: 'max_tokens' must be"),
    "no prompt column": ("p.csv", b"question\nhi\n", [], ":1: no 'prompt' column"),
    "sharegpt not a list": ("s.json", b'{"conversations": []}\n', [], ": a ShareGPT file is a JSON list"),
    "sharegpt turn without value": ("s.json", b'[\n{"conversations": [{"from": "human"}]}\n]\n', [],
                                    ":2: entry 0: conversations[0] must be"),
    "format given wrongly": ("c.jsonl", b'{"messages": [{"role": "user", "content": "hi"}]}\n',
                             ["--dataset-format", "prompt"], ":1: 'prompt' must be a non-empty string"),
    "format unknown": ("c.jsonl", b"{}\n", ["--dataset-format", "xml"], "invalid choice: 'xml'"),
    "format not detectable": ("c.jsonl", b'{"question": "hi"}\n', [], ":1: cannot tell the dataset's format (question)"),
}


@pytest.mark.parametrize("case", sorted(WORKLOADS))
def test_bad_workload_files(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name, data, options, needle = WORKLOADS[case]
    path = tmp_path / name
    path.write_bytes(data)
    argv = ["run", "--host", HOST, "--dataset", str(path), *options]
    _assert_one_line_usage_error(argv, capsys, str(path) + needle if needle.startswith(":") else needle)


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("synthetic:prompt_token=512,output_tokens=8", "--dataset: synthetic: unknown key 'prompt_token'"),
        ("synthetic:prompt_tokens=512", "--dataset: synthetic: output_tokens is required"),
        ("synthetic:prompt_tokens=lots,output_tokens=8", "synthetic: prompt_tokens='lots' is not an integer"),
        ("synthetic:prompt_tokens=0,output_tokens=8", "synthetic: prompt_tokens=0 must be >= 1"),
        ("synthetic:prompt_tokens=9,output_tokens=8,output_tokens_min=5,output_tokens_max=4", "output_tokens_max=4 is below"),
        ("synthetic:prompt_tokens", "synthetic: 'prompt_tokens' is not key=value"),
    ],
)
def test_bad_synthetic_specs(spec: str, needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    _assert_one_line_usage_error(["run", "--host", HOST, "--dataset", spec], capsys, needle)


def test_a_label_the_extractor_reads_otherwise_is_a_warning_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_bytes(_jsonl({"id": "a", "text": "好", "plates": []}, {"id": "b", "text": "车牌京A12345", "plates": []}))
    assert main(["dataset", "validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert err.strip() == f"warning: {path}:2: text contains plate '京A12345' missing from 'plates' (the label is kept as the truth)"


RUN_OPTIONS: dict[str, tuple[list[str], str]] = {
    "zero users": (["--users", "0"], "--users: 0 in '0' must be between 1"),
    "users going down": (["--users", "8:2"], "goes down"),
    "users not a number": (["--users", "1,x"], "'x' in '1,x' is not a whole number"),
    "negative duration": (["--step-duration=-5s"], "--step-duration: '-5s' is not a duration"),
    "zero duration": (["--step-duration", "0"], "--step-duration: '0' must be greater than zero"),
    "zero request timeout": (["--request-timeout", "0s"], "--request-timeout"),
    "bad first-token timeout": (["--first-token-timeout", "soon"], "--first-token-timeout: 'soon'"),
    "bad warmup": (["--warmup", "-1"], "--warmup"),
    "zero batch": (["--batch-size", "0"], "--batch-size: 0 must be at least 1"),
    "batch not a number": (["--batch-size", "many"], "invalid int value: 'many'"),
    "negative max tokens": (["--max-tokens", "-1"], "--max-tokens: -1"),
    "ignore-eos without max tokens": (["--ignore-eos"], "--ignore-eos needs --max-tokens"),
    "zero open-loop users": (["--rate", "1", "--max-users", "0"], "--max-users: 0"),
    "negative rate": (["--rate", "-2"], "--rate"),
    "unknown option": (["--bogus", "1"], "unrecognized arguments: --bogus 1"),
    "missing dataset": (["--dataset", "/nonexistent/x.jsonl"], "/nonexistent/x.jsonl: no such file"),
    "bad SLO operator": (["--slo", "ttft_p95<<2s"], "ttft_p95<<2s"),
    "unknown SLO metric": (["--slo", "speed_p95<=2s"], "speed_p95"),
}


@pytest.mark.parametrize("case", sorted(RUN_OPTIONS))
def test_bad_run_options(case: str, capsys: pytest.CaptureFixture[str]) -> None:
    args, needle = RUN_OPTIONS[case]
    _assert_one_line_usage_error(["run", "--host", HOST, *args], capsys, needle)


@pytest.mark.parametrize(
    ("host", "needle"),
    [("127.0.0.1:8000", "is not an http(s) URL"), ("http://h:99999", "--host"), ("ftp://h", "--host")],
)
def test_bad_hosts(host: str, needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    _assert_one_line_usage_error(["run", "--host", host], capsys, needle)


def test_run_config_file_with_an_unknown_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "nightly.toml"
    config.write_text(f'host = "{HOST}"\nusers = "1,2"\nstep_durration = "2m"\n')
    _assert_one_line_usage_error(["run", "--config", str(config)], capsys, f"{config}:3")
    config.write_text(f'host = "{HOST}"\nbatch_size = "ten"\n')
    _assert_one_line_usage_error(["run", "--config", str(config)], capsys, f"{config}:2")


SIM_PROFILES: dict[str, tuple[str, str]] = {
    "unknown key": ('model = "m"\nmax_num_seq = 8\n', ":2: unknown key 'max_num_seq'"),
    "missing model": ("max_num_seqs = 8\n", ":1: missing required key 'model'"),
    "negative value": ('model = "m"\nmax_num_seqs = -4\n', ":2: bad value for 'max_num_seqs'"),
    "wrong type": ('model = "m"\nstep_base_s = "fast"\n', ":2: bad value for 'step_base_s'"),
    "invalid TOML": ('model = "m"\nmax_num_seqs = \n', ": invalid TOML"),
    "unknown fault": ('model = "m"\n[faults]\nhttp_599 = 0.1\n', ":3: unknown fault 'http_599'"),
    "fault rate above 1": ('model = "m"\n[faults]\nhttp_500 = 2\n', ":3: fault http_500: rate '2'"),
}


@pytest.mark.parametrize("case", sorted(SIM_PROFILES))
def test_bad_sim_profiles(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text, needle = SIM_PROFILES[case]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    _assert_one_line_usage_error(["sim", "--profile", str(path), "--port", "0"], capsys, str(path) + needle)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--fault", "http_500=7"], "--fault http_500=7: fault http_500: rate '7' must be between 0 and 1"),
        (["--fault", "stall=0.1"], "needs RATE:DURATION"),
        (["--port", "70000"], "--port: 70000 must be between 0 and 65535"),
        (["--time-scale", "0"], "--time-scale must be > 0"),
        (["--profile", "no-such-profile"], "no-such-profile: no such sim profile"),
    ],
)
def test_bad_sim_options(args: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    _assert_one_line_usage_error(["sim", "--profile", "tiny", *args], capsys, needle)


SERVE_PROFILES: dict[str, tuple[str, str]] = {
    "unknown key": ('model = "/m"\nport = 8000\nmax_num_seq = 8\n', ":3: unknown key 'max_num_seq'"),
    "missing model": ("port = 8000\n", ":1: missing required key 'model'"),
    "bad port": ('model = "/m"\nport = 0\n', ":2: port must be 1..65535"),
    "wrong type": ('model = "/m"\nport = "eighty"\n', ":2: key 'port' must be int"),
}


@pytest.mark.parametrize("case", sorted(SERVE_PROFILES))
def test_bad_serve_profiles(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text, needle = SERVE_PROFILES[case]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    _assert_one_line_usage_error(["serve", "--profile", str(path), "--dry-run"], capsys, str(path) + needle)


def _assert_one_line_usage_error(
    argv: list[str], capsys: pytest.CaptureFixture[str], needle: str, run: Callable[[list[str]], int] = main
) -> None:
    code = run(argv)
    err = capsys.readouterr().err
    assert code == 2, (argv, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert needle in lines[0], (needle, lines[0])
