"""The comment-patrol prompt, deterministic request batches, and a prompt-token estimate."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from llmload.datasets.schema import CommentRow
from llmload.errors import UsageError

DEFAULT_BATCH_SIZE = 100  # the whole checked-in set in one request, as in the seed scenario
NO_PLATES_REPLY = "无"

SYSTEM_PROMPT = (
    "你是评论巡查机器人，负责检查社交媒体上的评论。"
    "任务：找出评论里出现的每一个中国车牌号（含新能源车牌），每行写一个，去掉中间的空格和圆点，不要解释；"
    f"没有任何车牌号时只回复“{NO_PLATES_REPLY}”。"
)
USER_HEADER = "评论如下，每行一条："
# how the task reaches the server: a system and a user message, or one user message holding both
# (what `vllm bench serve`'s custom dataset sends; some servers serve the two forms at different speeds)
PROMPT_FORMS = ("system-user", "single-user")
DEFAULT_PROMPT_FORM = PROMPT_FORMS[0]


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


def in_prompt_form(messages: list[dict[str, str]], form: str) -> list[dict[str, str]]:
    """``messages`` (system + user) as ``form`` (one of PROMPT_FORMS) sends them."""
    if form == "system-user":
        return messages
    if form == "single-user":
        return [{"role": "user", "content": "\n".join(m["content"] for m in messages)}]
    raise UsageError(f"--prompt-form: {form!r} is not one of {', '.join(PROMPT_FORMS)}")


@dataclass(frozen=True, slots=True)
class Batch:
    """One request's comments: ``rows`` start at dataset position ``first_row`` and wrap around."""

    index: int
    first_row: int
    rows: tuple[CommentRow, ...]
    expected_plates: frozenset[str]

    @property
    def messages(self) -> list[dict[str, str]]:
        return build_messages(self.rows)


def _check_batch_size(rows: Sequence[CommentRow], batch_size: int) -> None:
    if not rows:
        raise UsageError("dataset has no rows to batch")
    if not 1 <= batch_size <= len(rows):
        raise UsageError(f"batch size must be between 1 and the dataset's {len(rows)} rows, got {batch_size}")


def batch_at(rows: Sequence[CommentRow], batch_size: int, index: int, start: int = 0) -> Batch:
    """The ``index``-th batch: rows from ``start + index * batch_size`` on, wrapping around the dataset."""
    _check_batch_size(rows, batch_size)
    first = (start + index * batch_size) % len(rows)
    picked = tuple(rows[(first + offset) % len(rows)] for offset in range(batch_size))
    plates = frozenset(plate for row in picked for plate in row.plates)
    return Batch(index=index, first_row=first, rows=picked, expected_plates=plates)


def batches(
    rows: Sequence[CommentRow], batch_size: int = DEFAULT_BATCH_SIZE, start: int = 0
) -> Iterator[Batch]:
    """Endless batches of ``batch_size`` consecutive rows; batch k is ``batch_at(rows, batch_size, k, start)``."""
    _check_batch_size(rows, batch_size)
    index = 0
    while True:
        yield batch_at(rows, batch_size, index, start)
        index += 1


# Token-estimate constants for a Qwen2/Qwen3-style byte-level BPE tokenizer with its chat template.
# TOKENS_PER_CJK_CHAR was calibrated so the default batch (100 comments, unnumbered) of
# datasets/plate_comments.jsonl estimates 1342 prompt tokens, the seed's measured prompt_tokens for its
# 100-comment request; the comment text alone is ~1976 CJK chars, 128 other ASCII chars, 46 digits.
TOKENS_PER_CJK_CHAR = 0.6  # any non-ASCII char (hanzi, full-width punctuation); common words merge
TOKENS_PER_ASCII_CHAR = 0.3  # ASCII letters, spaces and punctuation (about 3-4 chars per token)
TOKENS_PER_DIGIT = 1.0  # Qwen tokenizers split numbers into single digits
TOKENS_PER_MESSAGE = 5  # <|im_start|>role\n ... <|im_end|>\n
TOKENS_REPLY_PRIMER = 3  # <|im_start|>assistant\n


def estimate_text_tokens(
    text: str,
    tokens_per_cjk_char: float = TOKENS_PER_CJK_CHAR,
    tokens_per_ascii_char: float = TOKENS_PER_ASCII_CHAR,
    tokens_per_digit: float = TOKENS_PER_DIGIT,
) -> float:
    digits = sum(ch.isascii() and ch.isdigit() for ch in text)
    ascii_other = sum(ch.isascii() for ch in text) - digits
    cjk = len(text) - digits - ascii_other
    return cjk * tokens_per_cjk_char + ascii_other * tokens_per_ascii_char + digits * tokens_per_digit


def estimate_prompt_tokens(
    messages: Sequence[dict[str, str]],
    tokens_per_cjk_char: float = TOKENS_PER_CJK_CHAR,
    tokens_per_ascii_char: float = TOKENS_PER_ASCII_CHAR,
    tokens_per_digit: float = TOKENS_PER_DIGIT,
    tokens_per_message: int = TOKENS_PER_MESSAGE,
    tokens_reply_primer: int = TOKENS_REPLY_PRIMER,
) -> int:
    """Rough prompt_tokens for chat ``messages`` without loading a tokenizer (±10% for Chinese text)."""
    total = float(tokens_reply_primer)
    for message in messages:
        total += tokens_per_message + estimate_text_tokens(
            message["content"], tokens_per_cjk_char, tokens_per_ascii_char, tokens_per_digit
        )
    return round(total)
