from __future__ import annotations

from pathlib import Path

import pytest

from llmload.errors import UsageError
from llmload.scenarios.chat import in_prompt_form
from llmload.scenarios.plates.comment_dataset import CommentRow, load_dataset
from llmload.scenarios.plates.plate_prompt import DEFAULT_BATCH_SIZE, SYSTEM_PROMPT, build_messages
from llmload.scenarios.plates.plate_scenario import PlateScenario
from llmload.scenarios.prompt_tokens import estimate_prompt_tokens, estimate_text_tokens

CHECKED_IN = Path(__file__).parents[2] / "datasets" / "plate_comments.jsonl"


def _rows(n: int) -> list[CommentRow]:
    return [
        CommentRow(
            f"c{i}",
            f"评论{i}" + ("京A1234" + str(i) if i % 3 == 0 else ""),
            ("京A1234" + str(i),) if i % 3 == 0 else (),
            "x",
            "y",
        )
        for i in range(n)
    ]


def test_build_messages_one_comment_per_line() -> None:
    rows = _rows(3)
    messages = build_messages(rows)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == SYSTEM_PROMPT
    assert messages[1]["content"].splitlines()[1:] == ["评论0京A12340", "评论1", "评论2"]
    numbered = build_messages(rows, numbered=True)[1]["content"].splitlines()[1:]
    assert numbered == ["1. 评论0京A12340", "2. 评论1", "3. 评论2"]


def test_each_user_walks_the_dataset_from_its_own_offset_and_wraps_around() -> None:
    scenario = PlateScenario(_rows(5), 2)
    got = [scenario.request(0, iteration).facts["batch_ids"] for iteration in range(4)]
    assert got == [["c0", "c1"], ["c2", "c3"], ["c4", "c0"], ["c1", "c2"]]
    assert scenario.request(1, 0).facts["batch_ids"] == ["c2", "c3"]  # user 1 starts one batch later
    assert scenario.request(0, 1).facts["plates_expected"] == ["京A12343"]
    assert scenario.request(0, 2).facts["plates_expected"] == ["京A12340"]


def test_a_batch_larger_than_the_dataset_repeats_rows() -> None:
    assert PlateScenario(_rows(2), 3).request(0, 0).facts["batch_ids"] == ["c0", "c1", "c0"]
    with pytest.raises(ValueError, match="no rows"):
        PlateScenario([], 3)


def test_default_batch_is_whole_checked_in_set() -> None:
    rows = load_dataset(CHECKED_IN)
    request = PlateScenario(rows, DEFAULT_BATCH_SIZE).request(0, 0)
    assert DEFAULT_BATCH_SIZE == 100
    assert request.facts["batch_ids"] == [row.id for row in rows]
    assert len(request.facts["plates_expected"]) == 10
    assert request.name == "plates" and request.facts["kind"] == "plates"


def test_prompt_token_estimate_matches_seed_measurement() -> None:
    messages = PlateScenario(load_dataset(CHECKED_IN), DEFAULT_BATCH_SIZE).request(0, 0).messages or []
    assert abs(estimate_prompt_tokens([m["content"] for m in messages]) - 1342) <= 0.05 * 1342


def test_estimate_text_tokens_arithmetic() -> None:
    assert estimate_text_tokens("京A12345，好") == pytest.approx(3 * 0.6 + 0.3 + 5 * 1.0)
    assert estimate_prompt_tokens(["abcdefghij"]) == round(3 + 5 + 10 * 0.3)


def test_single_user_form_folds_the_system_prompt_into_one_user_message() -> None:
    messages = build_messages(_rows(3))
    assert in_prompt_form(messages, "system-user") == messages
    (single,) = in_prompt_form(messages, "single-user")
    assert single == {"role": "user", "content": SYSTEM_PROMPT + "\n" + messages[1]["content"]}
    with pytest.raises(UsageError, match="--prompt-form"):
        in_prompt_form(messages, "assistant-first")


def test_scenario_sends_the_chosen_prompt_form() -> None:
    rows = _rows(6)
    plain = PlateScenario(rows, 3).request(1, 0)
    single = PlateScenario(rows, 3, "single-user").request(1, 0)
    assert plain.messages is not None and single.messages is not None
    assert [m["role"] for m in plain.messages] == ["system", "user"]
    assert [m["role"] for m in single.messages] == ["user"]
    assert single.messages[0]["content"].endswith(plain.messages[1]["content"])
    assert single.facts["batch_ids"] == plain.facts["batch_ids"] == ["c3", "c4", "c5"]


def test_each_distinct_batch_is_built_once_before_the_run() -> None:
    scenario = PlateScenario(_rows(6), 4)  # batches start at 0, 4, 2 (mod 6): multiples of gcd(4, 6) = 2
    assert len(scenario.specs) == 3
    assert scenario.request(0, 1) is scenario.specs[2] and scenario.request(1, 0) is scenario.request(0, 1)
    assert scenario.score(scenario.specs[0], "<think>京A99999</think>找到：京A12340") == {"plates_found": ["京A12340"]}
