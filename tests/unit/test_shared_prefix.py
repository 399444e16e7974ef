"""The shared-prefix workload: G prefixes of P tokens, every request one of them plus a suffix of its own, each
prompt P + S tokens by the tokenizer's count; with groups = requests nothing is shared."""

from __future__ import annotations

import os

import pytest

from llmload.cli import main
from llmload.scenarios.datasets.fitted_words import LEAD
from llmload.scenarios.datasets.shared_prefix import build_shared_prefix, parse_shared_prefix
from llmload.scenarios.datasets.workload_source import detect_format
from token_counters import WordCounter

HOST = "http://127.0.0.1:9"


def text_of(spec: object) -> str:
    messages = getattr(spec, "messages", None)
    return str(messages[0]["content"]) if messages else str(getattr(spec, "prompt", ""))


@pytest.mark.parametrize("chat", [True, False])
def test_requests_of_a_group_share_its_prefix_and_have_the_asked_length(chat: bool) -> None:
    spec = parse_shared_prefix("shared-prefix:groups=3,prefix_tokens=200,suffix_tokens=30,output_tokens=16,prompts=12")
    counter = WordCounter()
    specs = build_shared_prefix(spec, counter, chat)
    assert len(specs) == 12 and [s.facts["group"] for s in specs[:6]] == [0, 1, 2, 0, 1, 2]
    for request in specs:
        assert counter.count(request.messages, None if chat else request.prompt) == 230
        assert request.max_tokens == 16 and request.ignore_eos and request.name == "shared-prefix"
        assert request.facts == {"kind": "shared-prefix", "group": request.facts["group"], "prompt_tokens": 230,
                                 "prefix_tokens": 200, "output_tokens": 16}  # fmt: skip
    texts = [text_of(s).removeprefix(LEAD).split() for s in specs]
    prefix_tokens = counter.count_text(" ".join(os.path.commonprefix([texts[0], texts[3]])))
    framing = counter.count([{"role": "user", "content": LEAD}], None) if chat else counter.count(None, LEAD)
    assert prefix_tokens >= 200 - framing  # the prefix text alone: the prompt of the prefix less its framing
    assert counter.count_text(" ".join(os.path.commonprefix([texts[0], texts[1]]))) < 3  # another group
    assert len({" ".join(t) for t in texts}) == 12


def test_groups_as_many_as_requests_share_nothing_beyond_the_lead() -> None:
    spec = parse_shared_prefix("shared-prefix:groups=20,prefix_tokens=64,suffix_tokens=8,output_tokens=4")
    assert spec.prompts == 1000  # the default, at least the groups
    specs = build_shared_prefix(parse_shared_prefix("shared-prefix:groups=20,prefix_tokens=64,suffix_tokens=8,"
                                                    "output_tokens=4,prompts=20"), WordCounter(), True)  # fmt: skip
    texts = [text_of(s).removeprefix(LEAD).split() for s in specs]
    longest = max(len(os.path.commonprefix([a, b])) for i, a in enumerate(texts) for b in texts[i + 1 :])
    assert longest < 3 and detect_format("shared-prefix:groups=1") == "shared-prefix"


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("shared-prefix:groups=8,prefix_tokens=100,output_tokens=8", "shared-prefix: suffix_tokens is required"),
        ("shared-prefix:groups=0,prefix_tokens=1,suffix_tokens=1,output_tokens=1", "groups=0 must be >= 1"),
        ("shared-prefix:groups=8,prefix_tokens=1,suffix_tokens=1,output_tokens=1,prompts=4", "prompts=4 is below groups=8"),
        ("shared-prefix:groups=8,prefix=1", "unknown key 'prefix'"),
    ],
)
def test_bad_shared_prefix_specs(spec: str, needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--host", HOST, "--dataset", spec]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and needle in err, err
