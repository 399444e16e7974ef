from __future__ import annotations

import pytest

from llmload.scenarios.chat import strip_reasoning
from llmload.scenarios.plates.plate_format import extract_plates, is_valid_plate
from llmload.scenarios.plates.plate_scoring import PlateScore, plates_in_reply, score, sum_scores


@pytest.mark.parametrize(
    ("text", "plates"),
    [
        ("车牌是京A88888，太牛了", ["京A88888"]),  # ordinary, digits only
        ("粤B6T789实线变道", ["粤B6T789"]),  # ordinary, one letter
        ("闽K2B45C乱停", ["闽K2B45C"]),  # ordinary, two letters
        ("绿牌粤BD12345真安静", ["粤BD12345"]),  # small new-energy, D + digit
        ("沪AFK1234开过去了", ["沪AFK1234"]),  # small new-energy, F + letter
        ("大巴苏E12345D进站", ["苏E12345D"]),  # large new-energy
        ("看到京A·88888了", ["京A88888"]),  # middle dot
        ("看到京A•88888了", ["京A88888"]),  # bullet
        ("看到京A 88888了", ["京A88888"]),  # space
        ("渝C·D12345和川AF12345", ["渝CD12345", "川AF12345"]),
        ("渝C·D1234F", []),  # 6-char serial fits no rule
        ("京A12345", ["京A12345"]),  # whole text
        ("(京A12345)", ["京A12345"]),
        ("第一行\n京A12345", ["京A12345"]),  # a line break before it
        ("9京A12345 京B12345", ["京B12345"]),  # the first sits after a digit
    ],
)
def test_extract_plates_positive(text: str, plates: list[str]) -> None:
    assert extract_plates(text) == plates


@pytest.mark.parametrize(
    "text",
    [
        "京I12345",  # office letter I
        "京O12345",  # office letter O
        "京A1234O",  # O in the serial
        "京AI2345",  # I in the serial
        "港A12345",  # not a province abbreviation
        "京A1234",  # 6 characters
        "AB京A12345C9",  # inside a longer code
        "x京A12345",  # ASCII letter before
        "9京A12345",  # ASCII digit before
        "京A123456",  # 8 chars, not new-energy
        "京A12345X",  # 8 chars, wrong suffix
        "京ABCD12",  # 3 letters in an ordinary serial
        "京a12345",  # lower case
        "京A··12345",  # two separators
        "京AD1234567",  # too long
    ],
)
def test_extract_plates_negative(text: str) -> None:
    assert extract_plates(text) == []


def test_extract_plates_unique_in_order() -> None:
    text = "沪C12345先走，京A88888后到，又见沪C 12345"
    assert extract_plates(text) == ["沪C12345", "京A88888"]


def test_eight_char_plate_is_not_read_as_seven() -> None:
    assert extract_plates("粤BD12345") == ["粤BD12345"]
    assert extract_plates("粤BD1234") == ["粤BD1234"]  # a valid ordinary plate with one letter


def test_is_valid_plate_needs_bare_form() -> None:
    assert is_valid_plate("京A88888")
    assert is_valid_plate("苏E12345D")
    assert not is_valid_plate("京A·88888")
    assert not is_valid_plate("京A88888 ")
    assert not is_valid_plate("京ABCD12")


def test_strip_reasoning_closed_and_unterminated() -> None:
    assert strip_reasoning("<think>京A11111</think>\n京A22222") == "\n京A22222"
    assert strip_reasoning("答：京A22222<think>京A11111 还在想") == "答：京A22222"
    assert strip_reasoning("<think>a</think>x<think>b</think>y") == "xy"
    assert strip_reasoning("先想想京A11111</think>京A22222") == "京A22222"  # opening tag in the prompt
    assert strip_reasoning("没有思考") == "没有思考"


def test_plates_in_reply_ignores_thinking() -> None:
    reply = "<think>沪C12345 像车牌吗</think>\n京A88888\n粤BD12345"
    assert plates_in_reply(reply) == {"京A88888", "粤BD12345"}


def test_score_counts() -> None:
    s = score({"京A88888", "沪C12345", "粤BD12345"}, {"京A88888", "沪C12345", "川A52013", "云A99999"})
    assert (s.tp, s.fp, s.fn) == (2, 2, 1)
    assert s.precision == pytest.approx(0.5)
    assert s.recall == pytest.approx(2 / 3)
    assert s.f1 == pytest.approx(4 / 7)
    assert not s.exact


def test_score_zero_division_conventions() -> None:
    empty = score(set(), set())
    assert (empty.precision, empty.recall, empty.f1, empty.exact) == (1.0, 1.0, 1.0, True)
    missed = score({"京A88888"}, set())
    assert (missed.precision, missed.recall, missed.f1) == (1.0, 0.0, 0.0)
    invented = score(set(), {"京A88888"})
    assert (invented.precision, invented.recall, invented.f1) == (0.0, 1.0, 0.0)


def test_sum_scores_micro_average() -> None:
    total = sum_scores([PlateScore(3, 1, 0), PlateScore(1, 0, 3), PlateScore(0, 0, 0)])
    assert total == PlateScore(4, 1, 3)
    assert total.precision == pytest.approx(0.8)
    assert total.recall == pytest.approx(4 / 7)
    assert sum_scores([]) == PlateScore(0, 0, 0)
