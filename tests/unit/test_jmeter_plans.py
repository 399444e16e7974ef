"""`llmload import jmx`: the three example plans (tests/fixtures/jmeter: plain, Stepping and Concurrency
thread groups) become run.toml files that the config reader accepts, with the bodies as a chat dataset
(tests/integration/test_jmeter_plan_runs.py runs them against the simulator); what cannot be mapped is listed; keys never
leave the plan."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from llmload.cli import build_parser, main
from llmload.config import config_defaults, subparser

PLANS = Path(__file__).resolve().parents[1] / "fixtures" / "jmeter"
SECRETS = ("sk-jmeter-SECRET-do-not-copy-4242", "gw-SECRET-key-777")
SYSTEM = "你是一个评论巡查机器人，负责巡查对应的评论信息。目标：找出评论信息中涉及车牌号的信息。"


def convert(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], list[Any], str]:
    out = tmp_path / "cfg" / f"{name}.toml"
    assert main(["import", "jmx", str(PLANS / f"{name}.jmx"), "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.with_name(f"{name}.chat.jsonl").read_text("utf-8").splitlines()]
    return tomllib.loads(out.read_text("utf-8")), rows, capsys.readouterr().out


def accepted_by_run(config: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """The run options as `llmload run --config` reads them."""
    path = tmp_path / "check.toml"
    lines = [f"{k} = {json.dumps(v)}" for k, v in config.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = subparser(build_parser(), "run")
    assert run is not None
    return config_defaults(run, path)


def test_plain_thread_group(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, rows, stdout = convert("thread-group", tmp_path, capsys)
    assert config == {
        "host": "http://10.0.0.8:8000", "model": "Qwen3-32B-AWQ", "temperature": 0.6, "max_tokens": 2048,
        "users": [29], "step_duration": "600s", "dataset": str(tmp_path / "cfg" / "thread-group.chat.jsonl"),
        "dataset_format": "chat",
    }  # fmt: skip
    accepted = accepted_by_run(config, tmp_path)
    assert accepted["users"] == "29" and accepted["dataset_format"] == "chat"
    assert [r["messages"][1]["content"][7:14] for r in rows] == ["今天天气真不错", "这家店的服务态", "加班到现在，感"]
    assert len(rows) == 3 and all(r["messages"][0] == {"role": "system", "content": SYSTEM} for r in rows)
    assert rows[1]["messages"][1]["content"] == "评论信息如下：这家店的服务态度太差了，避雷！沪C12345 的车主，你的车灯没关。他说\"快去\""
    assert rows[0]["max_tokens"] == 2048


def test_stepping_thread_group(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, rows, _ = convert("stepping", tmp_path, capsys)
    assert config["users"] == list(range(1, 41)) and config["step_duration"] == "300s"
    assert config["host"] == "https://gpu-box.example:4444"  # from HTTP Request Defaults
    assert config["ignore_eos"] is False and "max_tokens" not in config
    assert accepted_by_run(config, tmp_path)["users"] == ",".join(str(u) for u in range(1, 41))
    assert rows == [{"messages": [{"role": "user", "content": "找出评论信息中涉及车牌号的信息。评论信息如下：刚刚在路口看到一辆车，车牌是 京A88888，太牛了吧。"}]}]


def test_concurrency_thread_group(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, rows, _ = convert("concurrency", tmp_path, capsys)
    assert config["users"] == [4, 8, 12, 16, 20, 24, 28, 32, 36, 40]
    assert config["step_duration"] == "240s"  # RampUp 40 minutes in 10 steps
    assert config["host"] == "https://llm-gw.example/qwen"  # ${__P(gateway,default)}; the path's prefix kept
    assert config["model"] == "Qwen3-32B-AWQ" and config["temperature"] == 0.0
    assert accepted_by_run(config, tmp_path)["step_duration"] == "240s"
    assert rows == [  # CSV names from its first line; a quote in a value escaped; max_tokens outside a string
        {"messages": [{"role": "user", "content": 'Which plates are in: "京A88888 is parked here"?'}], "max_tokens": 256},
        {"messages": [{"role": "user", "content": "List the plates in: 沪C12345 and 粤B6T789"}], "max_tokens": 512},
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("thread-group", ["ramp-up of 30 s", "header Authorization: not copied", "body key 'top_p'",
                          "ResponseAssertion 'Response Assertion': assertions are not run",
                          "JSONPostProcessor 'JSON Extractor'", "ConstantTimer 'Think time': timers",
                          "DebugSampler 'Debug Sampler': disabled", "ResultCollector 'Summary Report': listeners"]),
        ("stepping", ["ramp-down", "header X-Tenant", "CookieManager", "TransactionController 'Ask'",
                      "VariableThroughputTimer 'jp@gc - Throughput Shaping Timer': disabled", "GraphsGeneratorListener"]),
        ("concurrency", ["hold (300 s after the ramp)", "header X-Api-Key: not copied", "DurationAssertion",
                         "max_tokens differs between rows"]),
    ],
)  # fmt: skip
def test_what_cannot_be_mapped_is_listed(
    name: str, expected: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, stdout = convert(name, tmp_path, capsys)
    comments = (tmp_path / "cfg" / f"{name}.toml").read_text("utf-8")
    for fragment in expected:
        assert fragment in stdout and fragment in comments, fragment


@pytest.mark.parametrize("name", ["thread-group", "concurrency"])
def test_a_key_in_a_header_is_never_written(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, _, stdout = convert(name, tmp_path, capsys)
    written = stdout + "".join(p.read_text("utf-8") for p in (tmp_path / "cfg").iterdir())
    assert any(s in (PLANS / f"{name}.jmx").read_text("utf-8") for s in SECRETS)
    assert not any(s in written for s in SECRETS)


def test_bad_plans_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = (PLANS / "stepping.jmx").read_text("utf-8")
    cases = {
        "truncated.jmx": (plan[:500], "not valid XML"),
        "no-sampler.jmx": (plan.replace('testclass="HTTPSamplerProxy"', 'testclass="JSR223Sampler"'), "no enabled HTTP Request"),
        "not-json.jmx": (plan.replace("&quot;stream&quot;: true,", "stream: yes,"), "body is not JSON"),
        "form.jmx": (plan.replace('"HTTPSampler.postBodyRaw">true', '"HTTPSampler.postBodyRaw">false'), "no raw body"),
    }  # fmt: skip
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        assert main(["import", "jmx", str(tmp_path / name), "--out", str(tmp_path / "run.toml")]) == 2
        err = capsys.readouterr().err
        assert f"{tmp_path / name}" in err and message in err and len(err.strip().splitlines()) == 1, (name, err)
    shutil.copy(PLANS / "thread-group.jmx", tmp_path / "lonely.jmx")  # its CSV file is not beside it
    assert main(["import", "jmx", str(tmp_path / "lonely.jmx"), "--out", str(tmp_path / "run.toml")]) == 2
    assert "comments.tsv: no such file" in capsys.readouterr().err
