"""What any chat scenario shares: how its messages reach the server, and its reply without the reasoning."""

from __future__ import annotations

import re

from llmload.errors import UsageError

# how the task reaches the server: a system and a user message, or one user message holding both
# (what `vllm bench serve`'s custom dataset sends; some servers serve the two forms at different speeds)
PROMPT_FORMS = ("system-user", "single-user")
DEFAULT_PROMPT_FORM = PROMPT_FORMS[0]

_THINK_BLOCK_RE = re.compile(r"<think>.*?</think>", re.DOTALL)
_THINK_OPEN = "<think>"
_THINK_CLOSE = "</think>"


def in_prompt_form(messages: list[dict[str, str]], form: str) -> list[dict[str, str]]:
    """``messages`` (system + user) as ``form`` (one of PROMPT_FORMS) sends them."""
    if form == "system-user":
        return messages
    if form == "single-user":
        return [{"role": "user", "content": "\n".join(m["content"] for m in messages)}]
    raise UsageError(f"--prompt-form: {form!r} is not one of {', '.join(PROMPT_FORMS)}")


def strip_reasoning(text: str) -> str:
    """Remove reasoning so that it is not scored.

    Drops every ``<think>...</think>`` block, an unterminated ``<think>`` up to the
    end of the text, and, when a ``</think>`` remains without its opening tag (chat
    templates that put ``<think>`` into the prompt), everything up to and including it.
    """
    text = _THINK_BLOCK_RE.sub("", text)
    open_at = text.find(_THINK_OPEN)
    if open_at >= 0:
        text = text[:open_at]
    close_at = text.rfind(_THINK_CLOSE)
    if close_at >= 0:
        text = text[close_at + len(_THINK_CLOSE) :]
    return text
