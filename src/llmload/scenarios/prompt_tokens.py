"""A prompt-token estimate without a tokenizer (about ±10% for Chinese text).

The constants fit a Qwen2/Qwen3-style byte-level BPE tokenizer with its chat template. TOKENS_PER_CJK_CHAR
was calibrated so the plate scenario's default batch (100 comments, unnumbered) of
datasets/plate_comments.jsonl estimates 1342 prompt tokens, the seed's measured prompt_tokens for its
100-comment request; the comment text alone is ~1976 CJK chars, 128 other ASCII chars, 46 digits.
"""

from __future__ import annotations

from collections.abc import Sequence

TOKENS_PER_CJK_CHAR = 0.6  # any non-ASCII char (hanzi, full-width punctuation); common words merge
TOKENS_PER_ASCII_CHAR = 0.3  # ASCII letters, spaces and punctuation (about 3-4 chars per token)
TOKENS_PER_DIGIT = 1.0  # Qwen tokenizers split numbers into single digits
TOKENS_PER_MESSAGE = 5  # <|im_start|>role\n ... <|im_end|>\n
TOKENS_REPLY_PRIMER = 3  # <|im_start|>assistant\n


def estimate_text_tokens(text: str, tokens_per_cjk_char: float = TOKENS_PER_CJK_CHAR) -> float:
    digits = sum(ch.isascii() and ch.isdigit() for ch in text)
    ascii_other = sum(ch.isascii() for ch in text) - digits
    cjk = len(text) - digits - ascii_other
    return cjk * tokens_per_cjk_char + ascii_other * TOKENS_PER_ASCII_CHAR + digits * TOKENS_PER_DIGIT


def estimate_prompt_tokens(
    message_texts: Sequence[str],
    tokens_per_cjk_char: float = TOKENS_PER_CJK_CHAR,
    tokens_per_message: int = TOKENS_PER_MESSAGE,
) -> int:
    """Prompt tokens of chat messages with these contents: their text, each message's framing and the
    reply primer; at least 1."""
    body = sum(estimate_text_tokens(text, tokens_per_cjk_char) for text in message_texts)
    return max(1, round(body + tokens_per_message * len(message_texts) + TOKENS_REPLY_PRIMER))
