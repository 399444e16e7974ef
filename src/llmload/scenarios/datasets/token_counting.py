"""How a workload counts tokens before the run (synthetic prompt lengths, ShareGPT's recorded answers): the
server's own tokenizer (vLLM's /tokenize: llmload.client.tokenize_endpoint), a local tokenizer the user names
(local_tokenizer), or a stated estimate (this module's EstimateCounter, about +-10% for Qwen-style tokenizers)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from llmload.scenarios.prompt_tokens import estimate_prompt_tokens, estimate_text_tokens

Messages = Sequence[Mapping[str, Any]]


class TokenCounter(Protocol):
    label: str  # for meta.json and the run's first lines: which tokenizer counted

    def count(self, messages: Messages | None, prompt: str | None) -> int:
        """Prompt tokens of a request as the server counts them: chat messages with the chat template
        and its reply primer, or a completion prompt with the tokenizer's special tokens."""
        ...

    def count_text(self, text: str) -> int:
        """Tokens of plain text (an answer), no special tokens."""
        ...


def message_texts(messages: Messages) -> list[str]:
    """Each message's text (a list of content parts joined)."""
    texts = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
        texts.append(content if isinstance(content, str) else "")
    return texts


class EstimateCounter:
    label = "estimate (no /tokenize on the server and no --tokenizer: lengths about +-10%)"

    def count(self, messages: Messages | None, prompt: str | None) -> int:
        if messages is not None:
            return estimate_prompt_tokens(message_texts(messages))
        return self.count_text(prompt or "")

    def count_text(self, text: str) -> int:
        return max(1, round(estimate_text_tokens(text)))
