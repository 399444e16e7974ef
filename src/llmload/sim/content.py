"""Plausible answer text for the plate scenario, as a list of token pieces (one piece = one token).

The answer is a ``<think>`` section of filler, then the plates found in the user message. Filler pads the
think section so the piece count equals the requested token count exactly; shorter counts truncate.
"""

from __future__ import annotations

from itertools import cycle, islice

from llmload.scenarios.plates.plate_format import extract_plates  # the project's one plate matcher

FILLER = ("嗯", "，", "我", "来", "逐", "条", "看", "这些", "评论", "，", "找出", "其中", "提到", "的", "车牌",
          "号码", "。", "注意", "格式", "：", "省份", "简称", "加", "字母", "和", "数字", "。", "\n")


def answer_pieces(plates: list[str]) -> list[str]:
    if not plates:
        return ["未", "找到", "车牌", "。"]
    pieces = ["找到", "的", "车牌", "：", "\n"]
    for number, plate in enumerate(plates, start=1):
        pieces += [f"{number}", ". ", plate[:2], plate[2:], "\n"]
    return pieces


def completion_pieces(user_text: str, n_tokens: int) -> list[str]:
    """Exactly ``n_tokens`` pieces: <think> filler </think> answer (truncated when n_tokens is small)."""
    answer = answer_pieces(extract_plates(user_text))
    head, tail = ["<think>", "\n"], ["\n", "</think>", "\n\n"]
    filler_n = max(0, n_tokens - len(head) - len(tail) - len(answer))
    pieces = head + list(islice(cycle(FILLER), filler_n)) + tail + answer
    return pieces[:n_tokens]
