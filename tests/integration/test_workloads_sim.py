"""Each workload format and mode through `llmload run` against the simulator: what was sent is what the
simulator accepted (every request ok), the records carry the request's name and its scenario part, the
streamed and non-streamed paths keep the timing contract (TTFT 100 ms and ITL 20 ms where they exist, null
where they do not), and the synthetic prompts have the asked lengths by the simulator's own /tokenize."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from simulator import llmload, simulator, summary

ITL_S, TTFT_S = 0.02, 0.1  # the fixed-100ms-20ms profile


@pytest.fixture(scope="module")
def sim_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with simulator("fixed-100ms-20ms", tmp_path_factory.mktemp("sim")) as url:
        yield url


def run(url: str, run_dir: Path, *args: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    result = llmload("run", "--host", url, "--users", "2", "--step-duration", "3s", "--warmup", "0.5",
                     "--metrics-interval", "0", "--out", str(run_dir), *args)  # fmt: skip
    assert result.returncode == 0, result.stdout[-1500:] + result.stderr[-1500:]
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    assert records and all(r["ok"] for r in records), {r["error"] for r in records}
    return summary(run_dir), records


def test_chat_jsonl_runs_with_its_names_and_scores_expected_answers(sim_url: str, tmp_path: Path) -> None:
    lines = [
        {"messages": [{"role": "user", "content": "车牌：京A12345"}], "max_tokens": 40, "name": "plates", "expected": "京A12345"},
        {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}], "max_tokens": 24,
         "name": "small", "expected": "re:^never$"},
    ]  # fmt: skip
    data = tmp_path / "chat.jsonl"
    data.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    s, records = run(sim_url, tmp_path / "run", "--dataset", str(data))
    assert {r["name"] for r in records} == {"plates", "small"}
    for r in records:
        assert r["scenario"]["kind"] == "chat" and r["output_tokens"] == (40 if r["name"] == "plates" else 24)
        assert r["scenario"]["matched"] is (r["name"] == "plates")  # the simulator names the plates it read
    assert "answer" in next(r["scenario"] for r in records if r["name"] == "small")
    expected = s["expected"]
    assert expected["scored"] == len(records) and expected["matched"] == sum(r["name"] == "plates" for r in records)
    assert all(step["expected"]["scored"] > 0 for step in s["steps"])
    assert s["accuracy"]["precision"] is None  # no plates were scored
    assert abs(s["steps"][0]["ttft_s"]["p50"] - TTFT_S) < 0.02


def test_csv_prompts_through_the_completions_endpoint_stream_text_chunks(sim_url: str, tmp_path: Path) -> None:
    data = tmp_path / "prompts.csv"
    data.write_text("prompt,name,expected\nSay hello,hello,\nName a plate: 粤B12345,plate,粤B12345\n", encoding="utf-8")
    s, records = run(sim_url, tmp_path / "run", "--dataset", str(data), "--endpoint", "completions",
                     "--max-tokens", "30", "--ignore-eos")  # fmt: skip
    assert {r["name"] for r in records} == {"hello", "plate"}
    assert all(r["output_tokens"] == 30 and len(r["chunk_s"]) == 30 for r in records)
    assert all(r["scenario"].get("matched", True) for r in records)
    meta = json.loads((tmp_path / "run" / "meta.json").read_text())
    assert meta["options"]["endpoint"] == "completions" and meta["dataset"]["format"] == "csv"
    step = s["steps"][0]
    assert abs(step["ttft_s"]["p50"] - TTFT_S) < 0.02 and abs(step["itl_s"]["p50"] - ITL_S) < 0.005


def test_sharegpt_without_streaming_replays_recorded_lengths_and_has_no_ttft(sim_url: str, tmp_path: Path) -> None:
    entries = [{"conversations": [{"from": "human", "value": f"question {i}"},
                                  {"from": "gpt", "value": "answer words " * (i + 3)}]} for i in range(4)]  # fmt: skip
    data = tmp_path / "sg.json"
    data.write_text(json.dumps(entries), encoding="utf-8")
    s, records = run(sim_url, tmp_path / "run", "--dataset", str(data), "--no-stream", "--recorded-output-len",
                     "--ignore-eos", "--max-tokens", "500")  # fmt: skip
    for r in records:
        assert r["first_token_s"] is None and r["chunk_s"] == [] and r["last_token_s"] is not None
        assert r["output_tokens"] == r["scenario"]["recorded_output_tokens"] > 1  # ignore_eos: exactly that
    step = s["steps"][0]
    assert step["ttft_s"]["n"] == 0 and step["ttft_s"]["p50"] is None and step["tpot_s"]["p50"] is None
    assert step["e2e_s"]["n"] > 0 and step["e2e_s"]["min"] > TTFT_S
    assert json.loads((tmp_path / "run" / "meta.json").read_text())["dataset"]["tokenizer"].startswith("the server's")


def test_synthetic_prompts_have_the_asked_lengths_by_the_servers_tokenizer(sim_url: str, tmp_path: Path) -> None:
    spec = "synthetic:prompt_tokens=400,output_tokens=20,prompt_tokens_stdev=40,prompts=50"
    s, records = run(sim_url, tmp_path / "run", "--dataset", spec)
    for r in records:
        asked = r["scenario"]["prompt_tokens"]
        assert abs(r["prompt_tokens"] - asked) <= 0.02 * asked  # the simulator's tokens are 0.3 per letter
        assert r["output_tokens"] == r["scenario"]["output_tokens"] == 20
    assert len({r["scenario"]["prompt_tokens"] for r in records}) > 3
    assert s["steps"][0]["prompt_tokens_mean"] is not None


def test_prompt_jsonl_to_completions_without_streaming(sim_url: str, tmp_path: Path) -> None:
    data = tmp_path / "p.jsonl"
    data.write_text('{"prompt": "hello world", "max_tokens": 16}\n', encoding="utf-8")
    s, records = run(sim_url, tmp_path / "run", "--dataset", str(data), "--endpoint", "completions", "--no-stream")
    assert all(r["first_token_s"] is None and r["output_tokens"] == 16 and r["name"] == "prompt" for r in records)
    assert s["steps"][0]["ttft_s"]["p50"] is None and s["steps"][0]["rps"] > 0
