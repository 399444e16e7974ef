"""A local tokenizer the user names (`--tokenizer PATH`: a tokenizer.json, or a Hugging Face model folder
holding one), loaded with the `tokenizers` package. Chat messages are rendered with the folder's chat
template (chat_template.jinja or tokenizer_config.json's `chat_template`, Jinja, as transformers renders
it); without one, the messages' framing is the Qwen-style estimate (llmload.scenarios.prompt_tokens)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2.sandbox import ImmutableSandboxedEnvironment

from llmload.errors import UsageError
from llmload.scenarios.datasets.token_counting import Messages, message_texts
from llmload.scenarios.prompt_tokens import TOKENS_PER_MESSAGE, TOKENS_REPLY_PRIMER


class LocalTokenizer:
    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer  # imported here: only a run that names a tokenizer loads it

        folder = path if path.is_dir() else path.parent
        file = path / "tokenizer.json" if path.is_dir() else path
        try:
            self.tokenizer = Tokenizer.from_file(str(file))
        except Exception as exc:  # noqa: BLE001 - the library raises its own exception types
            raise UsageError(f"--tokenizer: {file}: cannot load ({exc})") from None
        self.template = _chat_template(folder)
        self.label = f"local tokenizer {file}" + ("" if self.template else " (chat framing estimated)")

    def count(self, messages: Messages | None, prompt: str | None) -> int:
        if messages is None:
            return len(self.tokenizer.encode(prompt or "", add_special_tokens=True).ids)
        if self.template is None:
            body = sum(self.count_text(text) for text in message_texts(messages))
            return body + TOKENS_PER_MESSAGE * len(messages) + TOKENS_REPLY_PRIMER
        text = self.template.render(messages=list(messages), add_generation_prompt=True)
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def count_text(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)


def _chat_template(folder: Path) -> Any:
    """The folder's chat template, compiled; None where it has none."""
    source = None
    if (folder / "chat_template.jinja").is_file():
        source = (folder / "chat_template.jinja").read_text(encoding="utf-8")
    elif (folder / "tokenizer_config.json").is_file():
        found = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8")).get(
            "chat_template"
        )
        if isinstance(found, list):  # named templates: the default one
            found = next((t.get("template") for t in found if t.get("name") == "default"), None)
        source = found if isinstance(found, str) else None
    if source is None:
        return None
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
    )
    env.filters["tojson"] = lambda value, indent=None: json.dumps(value, ensure_ascii=False, indent=indent)
    env.globals["raise_exception"] = _raise
    return env.from_string(source)


def _raise(message: str) -> None:
    raise UsageError(f"--tokenizer: the chat template refused the messages: {message}")
