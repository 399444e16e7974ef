"""The server's own tokenizer: vLLM's `POST /tokenize` (chat messages with the chat template and the reply
primer, as /v1/chat/completions counts them; a prompt with special tokens, as /v1/completions does). Blocking,
one kept-alive connection, before the run only (never on the measuring hot path)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit


class TokenizeUnavailable(Exception):
    """The server has no usable /tokenize (not vLLM, or it refused)."""


class ServerTokenizer:
    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout_s: float = 30.0) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._conn = cls(parts.hostname or "", parts.port, timeout=timeout_s)
        self._path = parts.path + "/tokenize"
        self._model = model
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self.label = f"the server's /tokenize ({base_url})"

    @classmethod
    def probe(cls, base_url: str, model: str, api_key: str | None = None) -> ServerTokenizer | None:
        """A tokenizer for the server when its /tokenize answers with a count, else None."""
        tokenizer = cls(base_url, model, api_key)
        try:
            tokenizer.count_text("hello")
        except (TokenizeUnavailable, OSError, http.client.HTTPException):
            tokenizer.close()
            return None
        return tokenizer

    def count(self, messages: Sequence[Mapping[str, Any]] | None, prompt: str | None) -> int:
        if messages is not None:
            return self._post({"messages": list(messages), "add_generation_prompt": True})
        return self._post({"prompt": prompt or "", "add_special_tokens": True})

    def count_text(self, text: str) -> int:
        return self._post({"prompt": text, "add_special_tokens": False})

    def close(self) -> None:
        self._conn.close()

    def _post(self, body: dict[str, Any]) -> int:
        payload = json.dumps({"model": self._model, **body}, ensure_ascii=False).encode()
        try:
            self._conn.request("POST", self._path, payload, self._headers)
            response = self._conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self._conn.close()  # one retry on a fresh connection (the server closed the kept-alive one)
            self._conn.request("POST", self._path, payload, self._headers)
            response = self._conn.getresponse()
            data = response.read()
        try:
            count = json.loads(data).get("count") if response.status == 200 else None
        except (ValueError, AttributeError):
            count = None
        if not isinstance(count, int):
            raise TokenizeUnavailable(f"POST {self._path}: HTTP {response.status}")
        return count
