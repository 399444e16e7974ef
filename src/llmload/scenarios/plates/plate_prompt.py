"""The comment-patrol task as chat messages: the system prompt and one comment per line."""

from __future__ import annotations

from collections.abc import Sequence

from llmload.scenarios.plates.comment_dataset import CommentRow

DEFAULT_BATCH_SIZE = 100  # the whole checked-in set in one request, as in the seed scenario
NO_PLATES_REPLY = "无"

SYSTEM_PROMPT = (
    "你是评论巡查机器人，负责检查社交媒体上的评论。"
    "任务：找出评论里出现的每一个中国车牌号（含新能源车牌），每行写一个，去掉中间的空格和圆点，不要解释；"
    f"没有任何车牌号时只回复“{NO_PLATES_REPLY}”。"
)
USER_HEADER = "评论如下，每行一条："


def build_messages(rows: Sequence[CommentRow], numbered: bool = False) -> list[dict[str, str]]:
    """A system message with the task and a user message with one comment per line.

    ``numbered=True`` prefixes "1. ", "2. ", ...; it costs about 3 prompt tokens per
    comment on Qwen tokenizers (digits are single tokens), so the default is unnumbered,
    which keeps the 100-comment batch at the seed's measured size (≈1342 tokens).
    """
    if numbered:
        lines = [f"{number}. {row.text}" for number, row in enumerate(rows, start=1)]
    else:
        lines = [row.text for row in rows]
    user = USER_HEADER + "\n" + "\n".join(lines)
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]
