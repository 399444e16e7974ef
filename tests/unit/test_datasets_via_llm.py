from __future__ import annotations

import pytest

from llmload.errors import UsageError
from llmload.scenarios.plates.comments_via_llm import (
    _base_url,
    clean_line,
    collect_comments,
    parse_generated_text,
)

REPLY = """<think>
用户要评论，其中京A11111只是我在想。
</think>
以下是为你生成的评论：

1. 今天的火锅太辣了，嘴都麻了
2、 刚在高架上被沪C·12345别车，吓死
- 新买的耳机音质很好
* “周末去爬山，累并快乐着”
(5) 商场5.5折，买疯了
**粤BD12345** 充电桩又被占了
第7条：猫咪把键盘当床睡
好

---
"""


def test_parse_generated_text() -> None:
    assert parse_generated_text(REPLY) == [
        "今天的火锅太辣了，嘴都麻了",
        "刚在高架上被沪C·12345别车，吓死",
        "新买的耳机音质很好",
        "周末去爬山，累并快乐着",
        "商场5.5折，买疯了",
        "粤BD12345 充电桩又被占了",
        "猫咪把键盘当床睡",
    ]


def test_clean_line_keeps_leading_numbers_that_are_content() -> None:
    assert clean_line("3天没睡好了") == "3天没睡好了"
    assert clean_line("3:0赢了，爽") == "3:0赢了，爽"
    assert clean_line("12. 3:0赢了") == "3:0赢了"


def test_collect_comments_labels_dedupes_and_repeats() -> None:
    replies = [
        "早上被沪C·12345别车\n今天真热啊\n今天真热啊",
        "<think>想想</think>\n下雨了呢\n猫睡着了\n狗在叫呢",
    ]
    asked: list[tuple[int, int]] = []

    def ask(wanted: int, attempt: int) -> str:
        asked.append((wanted, attempt))
        return replies[attempt]

    rows = collect_comments(4, ask)
    assert asked == [(4, 0), (2, 1)]
    assert [(r.id, r.text, r.plates) for r in rows] == [
        ("g001", "早上被沪C·12345别车", ("沪C12345",)),
        ("g002", "今天真热啊", ()),
        ("g003", "下雨了呢", ()),
        ("g004", "猫睡着了", ()),
    ]


def test_collect_comments_gives_up_with_a_clear_message() -> None:
    with pytest.raises(UsageError, match="only 1 usable comments of 5 after 3 requests"):
        collect_comments(5, lambda wanted, attempt: "同一句话而已", max_requests=3)


def test_base_url() -> None:
    assert _base_url("http://127.0.0.1:4444") == "http://127.0.0.1:4444/v1"
    assert _base_url("127.0.0.1:8000/v1/") == "http://127.0.0.1:8000/v1"
