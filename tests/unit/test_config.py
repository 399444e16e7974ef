"""`llmload run --config run.toml`: values, command-line precedence, and errors naming file, line, key."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmload.cli import build_parser, main
from llmload.config import apply_config
from llmload.errors import UsageError

NIGHTLY = """\
# nightly
host = "http://127.0.0.1:4444"
users = [1, 2, 4, 8]
step_duration = 120
batch_size = 50
ignore_eos = true
max_tokens = 512
temperature = 0
arrival = "poisson"
slo = "ttft_p95<=2s,e2e_p95<=60s"
baseline = "reports/base/summary.json"
max-regression = "5%"
"""


def parse(tmp_path: Path, text: str, *flags: str) -> object:
    path = tmp_path / "run.toml"
    path.write_text(text, encoding="utf-8")
    parser = build_parser()
    argv = ["run", "--config", str(path), *flags]
    apply_config(parser, argv)
    return parser.parse_args(argv)


def test_every_kind_of_value(tmp_path: Path) -> None:
    got = vars(parse(tmp_path, NIGHTLY))
    assert got["host"] == "http://127.0.0.1:4444"
    assert got["users"] == "1,2,4,8"
    assert got["step_duration"] == "120"
    assert (got["batch_size"], got["max_tokens"], got["ignore_eos"]) == (50, 512, True)
    assert got["temperature"] == 0.0 and isinstance(got["temperature"], float)
    assert got["arrival"] == "poisson"
    assert got["baseline"] == "reports/base/summary.json" and got["max_regression"] == "5%"


def test_command_line_overrides_the_file(tmp_path: Path) -> None:
    got = vars(
        parse(tmp_path, NIGHTLY, "--users", "auto", "--batch-size", "100", "--host", "http://127.0.0.1:8000")
    )
    assert (got["users"], got["batch_size"], got["host"]) == ("auto", 100, "http://127.0.0.1:8000")
    assert got["step_duration"] == "120"  # not given: from the file


def test_other_commands_ignore_config(tmp_path: Path) -> None:
    parser = build_parser()
    apply_config(parser, ["report", str(tmp_path)])  # no effect, no error
    assert parser.parse_args(["report", str(tmp_path)]).run_dir == str(tmp_path)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            'stepduration = "2m"',
            "run.toml:2: unknown option 'stepduration' (`llmload run` has no --stepduration)",
        ),
        ('batch_size = "ten"', "run.toml:2: batch_size: --batch-size needs a whole number, not 'ten'"),
        ("ignore_eos = 1", "run.toml:2: ignore_eos: --ignore-eos is a flag: write true or false, not 1"),
        ('arrival = "burst"', "run.toml:2: arrival: --arrival must be one of constant, poisson, not 'burst'"),
        ("[run]\nusers = 4", "run.toml:2: [run] is a table; run options are top-level keys (key = value)"),
        ("temperature = true", "run.toml:2: temperature: --temperature takes a value, not True"),
    ],
)
def test_bad_files_name_file_line_and_key(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(UsageError) as err:
        parse(tmp_path, f'host = "http://127.0.0.1:4444"\n{line}\n')
    assert str(err.value).endswith(message)
    assert str(tmp_path / "run.toml") in str(err.value)


def test_cli_exit_code_and_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "run.toml"
    path.write_text('host = "http://127.0.0.1:9"\nusres = "1:4:1"\n')
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2: unknown option 'usres'" in err
    path.write_text("host = \n")
    assert main(["run", "--config", str(path)]) == 2
    assert "not valid TOML" in capsys.readouterr().err
    assert main(["run", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "missing.toml" in capsys.readouterr().err
