from __future__ import annotations

from itertools import islice
from pathlib import Path

import pytest

from llmload.datasets.prompt import (
    DEFAULT_BATCH_SIZE,
    SYSTEM_PROMPT,
    batch_at,
    batches,
    build_messages,
    estimate_prompt_tokens,
    estimate_text_tokens,
    in_prompt_form,
)
from llmload.datasets.schema import CommentRow, load_dataset
from llmload.errors import UsageError

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


def test_batches_wrap_around_deterministically() -> None:
    rows = _rows(5)
    got = [[r.id for r in b.rows] for b in islice(batches(rows, batch_size=2, start=3), 4)]
    assert got == [["c3", "c4"], ["c0", "c1"], ["c2", "c3"], ["c4", "c0"]]
    third = batch_at(rows, 2, 2, start=3)
    assert third.first_row == 2 and third.index == 2
    assert third.expected_plates == frozenset({"京A12343"})
    assert batch_at(rows, 2, 3, start=3).expected_plates == frozenset({"京A12340"})


def test_batch_size_is_checked() -> None:
    with pytest.raises(UsageError, match="between 1 and the dataset's 5 rows, got 6"):
        next(batches(_rows(5), batch_size=6))
    with pytest.raises(UsageError, match="got 0"):
        batch_at(_rows(5), 0, 0)


def test_default_batch_is_whole_checked_in_set() -> None:
    rows = load_dataset(CHECKED_IN)
    batch = next(batches(rows))
    assert DEFAULT_BATCH_SIZE == 100
    assert batch.rows == tuple(rows)
    assert len(batch.expected_plates) == 10


def test_prompt_token_estimate_matches_seed_measurement() -> None:
    messages = next(batches(load_dataset(CHECKED_IN))).messages
    assert abs(estimate_prompt_tokens(messages) - 1342) <= 0.05 * 1342


def test_estimate_text_tokens_arithmetic() -> None:
    assert estimate_text_tokens("京A12345，好") == pytest.approx(3 * 0.6 + 0.3 + 5 * 1.0)
    messages = [{"role": "user", "content": "abcdefghij"}]
    assert estimate_prompt_tokens(messages) == round(3 + 5 + 10 * 0.3)


def test_single_user_form_folds_the_system_prompt_into_one_user_message() -> None:
    messages = build_messages(_rows(3))
    assert in_prompt_form(messages, "system-user") == messages
    (single,) = in_prompt_form(messages, "single-user")
    assert single == {"role": "user", "content": SYSTEM_PROMPT + "\n" + messages[1]["content"]}
    with pytest.raises(UsageError, match="--prompt-form"):
        in_prompt_form(messages, "assistant-first")


def test_scenario_sends_the_chosen_prompt_form() -> None:
    from llmload.load.scenario import PlateScenario

    rows = _rows(6)
    plain = PlateScenario(rows, 3).request(1, 0)
    single = PlateScenario(rows, 3, "single-user").request(1, 0)
    assert [m["role"] for m in plain.messages] == ["system", "user"]
    assert [m["role"] for m in single.messages] == ["user"]
    assert single.messages[0]["content"].endswith(plain.messages[1]["content"])
    assert single.batch_ids == plain.batch_ids == ["c3", "c4", "c5"]
