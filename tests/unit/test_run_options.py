"""Each run option is declared once (load.run_options.RUN_OPTIONS) and means the same everywhere: on
`llmload run` and `llmload ui`, on Locust's own parser, on the Locust command line `llmload run` starts, and
in the one check of a run's values."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llmload.cli import build_parser
from llmload.config import subparser
from llmload.errors import UsageError
from llmload.load.locust_command import headless_argv, ui_argv
from llmload.load.run_command import parse_run_args
from llmload.load.run_options import RUN_OPTIONS, locust_option_argv, parse_run_values
from llmload.load.settings import settings_from

GIVEN = [
    "--host", "http://127.0.0.1:8000/", "--model", "m", "--users", "auto", "--step-duration", "2m",
    "--rate", "0.5,1", "--arrival", "poisson", "--max-users", "64", "--out", "reports/x", "--batch-size", "7",
    "--prompt-form", "single-user", "--max-tokens", "32", "--ignore-eos", "--temperature", "0.5",
    "--api-key", "sk-secret", "--warmup", "3s", "--connect-timeout", "2s", "--first-token-timeout", "30s",
    "--request-timeout", "90s", "--slo", "ttft_p95<=2s", "--no-score", "--metrics-interval", "0", "--cpus", "0",
]  # fmt: skip


# Locust's own parser with llmload's options, as `locust -f plate_detection.py` builds it (a name Locust already
# has would raise); in a child process, since importing Locust monkey-patches the standard library
LOCUST_PARSE = """
import json, sys
from locust.argument_parser import get_empty_argument_parser, setup_parser_arguments
from llmload.load.run_options import add_locust_options, locust_values
parser = get_empty_argument_parser(default_config_files=[])
setup_parser_arguments(parser)
add_locust_options(parser)
flags = sorted(flag for action in parser._actions for flag in action.option_strings)
parsed = [locust_values(options, options.host) for options in map(parser.parse_args, json.loads(sys.argv[1]))]
print(json.dumps({"flags": flags, "values": parsed}))
"""


def locust_parses(*argvs: list[str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", LOCUST_PARSE, json.dumps(argvs)], capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def flags(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings}


def test_every_option_reaches_run_ui_and_locust_with_its_value(tmp_path: Path) -> None:
    cli = build_parser()
    for command in ("run", "ui"):
        sub = subparser(cli, command)
        assert sub is not None and {o.flag for o in RUN_OPTIONS} <= flags(sub), command
    args = parse_run_args(GIVEN)
    argv = headless_argv(vars(args), tmp_path / "run")
    assert "sk-secret" not in " ".join(argv) and "--cpus" not in argv
    locust = locust_parses(argv[argv.index("--headless") :], ["--host", "http://h:1"])
    on_locust = {o.locust_flag for o in RUN_OPTIONS if o.locust is not None}
    assert on_locust <= set(locust["flags"]) and "--cpus" not in locust["flags"]  # --cpus pins llmload itself
    assert {"--step-users", "--step-rates", "--llm-model", "--run-dir", "--host"} <= on_locust
    ours = parse_run_values(vars(args))
    theirs = parse_run_values(locust["values"][0], on_locust=True)
    assert {k: v for k, v in theirs.items() if k not in ("out", "api_key", "cpus")} == {
        k: v for k, v in ours.items() if k not in ("out", "api_key", "cpus")
    }
    assert theirs["out"] == str(tmp_path / "run") and ours["cpus"] == [0] and theirs["cpus"] is None
    settings = settings_from(ours, Path("unused"))
    assert (settings.host, settings.levels, settings.rates, settings.step_duration_s) == (
        "http://127.0.0.1:8000",
        (),
        (0.5, 1.0),
        120.0,
    )
    assert settings.run_dir == Path("reports/x") and settings.api_key == "sk-secret" and not settings.score

    defaults = parse_run_values(locust["values"][1], on_locust=True)  # Locust's defaults are ours
    assert defaults == parse_run_values({"host": "http://h:1"})


def test_defaults_are_left_to_locusts_parser_and_the_ui_keeps_its_run_dirs() -> None:
    args = parse_run_args(["--host", "http://h:1", "--out", "reports/y"])
    assert locust_option_argv(vars(args)) == ["--host", "http://h:1", "--run-dir", "reports/y"]
    argv = ui_argv(vars(args), "127.0.0.1", 8089)
    assert "--run-dir" not in argv and "--headless" not in argv  # each run from the form: reports/<run-id>


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"users": "1,0"}, "--step-users: 0 in '1,0' must be between 1"),
        ({"arrival": "burst"}, "--arrival: 'burst' is not one of constant, poisson"),
        ({"batch_size": 0}, "--batch-size: 0 must be at least 1"),
        ({"ignore_eos": True}, "--ignore-eos needs --max-tokens"),
        ({"host": "127.0.0.1:8000"}, "--host: '127.0.0.1:8000' is not an http(s) URL"),
    ],
)
def test_values_from_the_web_form_get_the_same_check(values: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_run_values({"host": "http://h:1", **values}, on_locust=True)
