"""The message of a server's error answer (an OpenAI-style JSON error body, or the body's start)."""

from __future__ import annotations

import json
from typing import Any

MESSAGE_CHARS = 300


def error_message(body: bytes, max_chars: int = MESSAGE_CHARS) -> str:
    """`{"error": {"message": ...}}`, `{"message": ...}` or the raw body, on one line of at most `max_chars`."""
    text = body[:max_chars].decode("utf-8", "replace")
    try:
        obj: Any = json.loads(body)
    except ValueError:
        pass
    else:
        err = obj.get("error", obj.get("message", obj)) if isinstance(obj, dict) else obj
        text = str(err.get("message", err) if isinstance(err, dict) else err)
    return " ".join(text.split())[:max_chars]
