"""Workloads: every dataset format read into requests, the synthetic prompts' exact lengths, expected answers,
and the request bodies the run sends (llmload.scenarios.datasets, llmload.load.request_encoder)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from llmload.load.request_encoder import prepare, request_body
from llmload.load.run_options import parse_run_values
from llmload.load.settings import settings_from
from llmload.scenarios.datasets.dataset_scenario import DatasetScenario
from llmload.scenarios.datasets.local_tokenizer import LocalTokenizer
from llmload.scenarios.datasets.synthetic_prompts import LEAD, build_synthetic
from llmload.scenarios.datasets.synthetic_spec import parse_synthetic
from llmload.scenarios.datasets.workload_source import WorkloadOptions, detect_format, load_workload
from llmload.scenarios.expected import parse_expected
from llmload.scenarios.plates.plate_scenario import DEFAULT_DATASET, PlateScenario
from llmload.scenarios.workload_request import RequestSpec


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def specs_of(path: Path, fmt: str = "auto", **kw: Any) -> list[RequestSpec]:
    scenario, _ = load_workload(WorkloadOptions(str(path), fmt, **kw))
    return list(scenario.specs)


def test_each_format_is_detected(tmp_path: Path) -> None:
    assert detect_format("synthetic:prompt_tokens=8,output_tokens=2") == "synthetic"
    assert detect_format(DEFAULT_DATASET) == "plates"
    assert detect_format(str(write(tmp_path, "a.csv", "prompt\nx\n"))) == "csv"
    assert detect_format(str(write(tmp_path, "a.json", "[]"))) == "sharegpt"
    assert detect_format(str(write(tmp_path, "c.jsonl", '\n{"messages": []}\n'))) == "chat"
    assert detect_format(str(write(tmp_path, "p.jsonl", '{"prompt": "x"}\n'))) == "prompt"
    assert detect_format(str(write(tmp_path, "m.jsonl", '{"id": "1", "text": "x", "plates": []}\n'))) == "plates"
    assert detect_format("anything", "chat") == "chat"


def test_chat_lines_keep_their_messages_name_max_tokens_and_expected(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", "\n".join([
        json.dumps({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}],
                    "max_tokens": 64, "name": "rag", "expected": "re:^4\\d$", "id": "ignored"}),
        "",
        json.dumps({"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}),
    ]))  # fmt: skip
    first, second = specs_of(path)
    assert first.name == "rag" and first.max_tokens == 64 and first.messages is not None
    assert [m["role"] for m in first.messages] == ["system", "user"]
    assert first.facts == {"kind": "chat", "line": 1}
    assert second.name == "chat" and second.max_tokens is None and second.expected is None
    assert second.facts == {"kind": "chat", "line": 3}
    assert first.expected is not None and first.expected.matches("<think>12</think>42")
    assert not first.expected.matches("42 is it")


def test_prompt_jsonl_and_csv_rows_become_prompts(tmp_path: Path) -> None:
    (one,) = specs_of(write(tmp_path, "p.jsonl", '{"prompt": "Summarise: x", "max_tokens": 9}\n'))
    assert (one.name, one.prompt, one.max_tokens, one.messages) == ("prompt", "Summarise: x", 9, None)
    csv_text = 'prompt,name,max_tokens,expected\n"a, with comma",short,12,\n"multi\nline",,,Paris\n'
    first, second = specs_of(write(tmp_path, "p.csv", csv_text))
    assert (first.prompt, first.name, first.max_tokens, first.expected) == ("a, with comma", "short", 12, None)
    assert (second.prompt, second.name, second.max_tokens) == ("multi\nline", "prompt", None)
    assert second.expected is not None and second.expected.matches("It is Paris.")
    assert first.facts == {"kind": "csv", "line": 2} and second.facts == {"kind": "csv", "line": 4}


SHAREGPT = [
    {"id": "a", "conversations": [{"from": "human", "value": "Hi there"}, {"from": "gpt", "value": "one two three"}]},
    {"id": "b", "conversations": [{"from": "gpt", "value": "no question"}]},
    {"id": "c", "conversations": [{"from": "system", "value": "s"}, {"from": "human", "value": "Why?"}],
     "expected": "because", "name": "why"},
]  # fmt: skip


def test_sharegpt_takes_each_first_human_turn_and_can_replay_the_recorded_length(tmp_path: Path) -> None:
    path = write(tmp_path, "s.json", "[\n" + ",\n".join(json.dumps(entry) for entry in SHAREGPT) + "\n]\n")
    scenario, warnings = load_workload(WorkloadOptions(str(path)))
    assert warnings == [f"{path}: 1 entries without a human turn skipped"]
    first, second = scenario.specs
    assert first.messages == [{"role": "user", "content": "Hi there"}] and first.max_tokens is None
    assert first.facts == {"kind": "sharegpt", "entry": 0, "line": 2}
    assert second.name == "why" and second.facts["entry"] == 2 and second.facts["line"] == 4

    class Words:
        label = "words"

        def count(self, messages: Sequence[Mapping[str, Any]] | None, prompt: str | None) -> int:
            return 0

        def count_text(self, text: str) -> int:
            return len(text.split())

    replayed, _ = load_workload(WorkloadOptions(str(path), recorded_output_len=True), Words)
    assert replayed.specs[0].max_tokens == 3 and replayed.specs[0].facts["recorded_output_tokens"] == 3
    assert replayed.specs[1].max_tokens is None  # no recorded answer


def test_dataset_requests_go_out_in_order_whoever_sends_them_and_score_expected_answers() -> None:
    specs = [RequestSpec("a", prompt="1", expected=parse_expected("yes")), RequestSpec("b", prompt="2")]
    scenario = DatasetScenario(specs)
    assert [scenario.pick(user, 0) for user in (3, 0, 7)] == [0, 1, 0]
    assert scenario.reads_answers
    assert scenario.score(specs[0], "<think>no</think>yes") == {"matched": True}
    assert scenario.score(specs[0], "nope " * 100) == {"matched": False, "answer": ("nope " * 100)[:200]}
    assert scenario.score(specs[1], "anything") == {}
    assert not DatasetScenario([specs[1]]).reads_answers  # nothing to score: answers are not kept
    assert DatasetScenario(specs, start=7).pick(0, 0) == 1  # a distributed worker starts elsewhere


class CharCounter:
    """Counts like a tokenizer whose tokens are words of 4 letters or fewer and 2 for longer ones, plus a
    chat template of 5 tokens: not one token per word, so the fit must correct itself."""

    label = "test"

    def __init__(self) -> None:
        self.calls = 0

    def count(self, messages: Sequence[Mapping[str, Any]] | None, prompt: str | None) -> int:
        self.calls += 1
        text = str(messages[0]["content"]) if messages else prompt or ""
        return sum(1 if len(w) <= 4 else 2 for w in text.split()) + (5 if messages else 0)

    def count_text(self, text: str) -> int:
        return len(text.split())


@pytest.mark.parametrize("chat", [True, False])
def test_synthetic_prompts_have_the_asked_token_counts_and_no_shared_prefix(chat: bool) -> None:
    spec = parse_synthetic("synthetic:prompt_tokens=300,output_tokens=64,prompt_tokens_stdev=30,prompts=40,seed=3")
    counter = CharCounter()
    specs = build_synthetic(spec, counter, chat)
    lengths = {r.facts["prompt_tokens"] for r in specs}
    assert len(specs) == 40 and counter.calls <= len(lengths) * 14  # 8 fits, 4 swaps, 2 rotations checked
    for request in specs:
        assert counter.count(request.messages, request.prompt) == request.facts["prompt_tokens"]
        assert "prompt_tokens_built" not in request.facts
        assert request.max_tokens == request.facts["output_tokens"] == 64 and request.ignore_eos is True
        assert (request.messages is not None) == chat and request.name == "synthetic"
    texts = [r.messages[0]["content"] if r.messages else r.prompt or "" for r in specs]
    assert all(t.startswith(LEAD + " ") for t in texts)
    assert len({t.split()[1:4].__repr__() for t in texts}) > 35  # prompts differ right after the lead word
    assert len({r.facts["prompt_tokens"] for r in specs}) > 10  # lengths drawn with the stdev


def test_synthetic_lengths_respect_min_max_and_a_pool_of_one_repeats_on_purpose() -> None:
    spec = parse_synthetic("synthetic:prompt_tokens=50,output_tokens=100,output_tokens_stdev=80,"
                           "output_tokens_min=60,output_tokens_max=120,prompts=200,ignore_eos=0")  # fmt: skip
    outputs = [r.max_tokens for r in build_synthetic(spec, CharCounter(), True)]
    assert min(o for o in outputs if o) == 60 and max(o for o in outputs if o) == 120
    assert build_synthetic(spec, CharCounter(), True)[0].ignore_eos is None  # the run's --ignore-eos decides
    one = build_synthetic(replace(spec, prompts=1), CharCounter(), True)
    assert len(one) == 1


def _word_tokenizer(folder: Path, template: str | None) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["<unk>", "<s>", "Words:", "user", "hello", "world", "<|im_start|>", "<|im_end|>", "assistant"]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    folder.mkdir()
    tokenizer.save(str(folder / "tokenizer.json"))
    if template is not None:
        (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": template}))
    return folder


def test_a_local_tokenizer_counts_with_its_chat_template(tmp_path: Path) -> None:
    template = ("{% for m in messages %}<|im_start|> {{ m['role'] }} {{ m['content'] }} <|im_end|> {% endfor %}"
                "{% if add_generation_prompt %}<|im_start|> assistant{% endif %}")  # fmt: skip
    local = LocalTokenizer(_word_tokenizer(tmp_path / "m", template))
    assert local.count([{"role": "user", "content": "hello world"}], None) == 7
    assert local.count(None, "hello world hello") == 3 and local.count_text("hello") == 1
    plain = LocalTokenizer(_word_tokenizer(tmp_path / "n", None) / "tokenizer.json")
    assert plain.count([{"role": "user", "content": "hello world"}], None) == 2 + 5 + 3  # framing estimated
    assert "chat framing estimated" in plain.label


def _settings(**values: Any) -> Any:
    return replace(settings_from(parse_run_values({"host": "http://h:1", **values}), Path("r")), model="m")


def test_request_bodies_follow_the_endpoint_and_the_mode() -> None:
    spec = RequestSpec("x", messages=[{"role": "system", "content": "s"}, {"role": "user", "content": "q"}])
    chat = request_body(_settings(max_tokens=32), spec)
    assert chat == {"model": "m", "messages": list(spec.messages or []), "stream": True,
                    "stream_options": {"include_usage": True}, "temperature": 0.0, "max_tokens": 32}  # fmt: skip
    completions = request_body(_settings(endpoint="completions", no_stream=True), spec)
    assert completions == {"model": "m", "prompt": "s\nq", "stream": False, "temperature": 0.0}
    own = RequestSpec("y", prompt="p", max_tokens=7, ignore_eos=True)
    body = request_body(_settings(max_tokens=32, extra_body='{"top_k": 5}'), own)
    assert body["messages"] == [{"role": "user", "content": "p"}] and body["max_tokens"] == 7
    assert body["ignore_eos"] is True and body["top_k"] == 5
    prepared = prepare(_settings(endpoint="completions"), own)
    assert prepared.path == "/v1/completions" and json.loads(prepared.body)["prompt"] == "p"


def test_the_plate_scenario_is_a_scenario_with_its_own_record_part() -> None:
    scenario, _ = load_workload(WorkloadOptions(DEFAULT_DATASET, batch_size=10))
    assert isinstance(scenario, PlateScenario) and scenario.reads_answers
    spec = scenario.specs[scenario.pick(0, 0)]
    assert spec.name == "plates" and spec.facts["kind"] == "plates" and len(spec.facts["batch_ids"]) == 10


def test_lengths_are_counted_by_the_server_else_the_named_tokenizer_else_the_estimate(tmp_path: Path) -> None:
    from llmload.load.workload_setup import choose_counter
    from llmload.scenarios.datasets.token_counting import EstimateCounter

    folder = _word_tokenizer(tmp_path / "tok", None)
    no_server = _settings(host="http://127.0.0.1:9", tokenizer=str(folder))  # nothing listens on port 9
    assert isinstance(choose_counter(no_server), LocalTokenizer)
    assert isinstance(choose_counter(replace(no_server, tokenizer="")), EstimateCounter)
