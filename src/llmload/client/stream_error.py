"""A request that failed in the client's read: its record category (Record.error_kind) and message."""

from __future__ import annotations


class StreamError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
