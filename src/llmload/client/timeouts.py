"""How long a request may take, per phase (`--connect-timeout`, `--first-token-timeout`, `--request-timeout`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds. Documented defaults: connect 10 s, first token 600 s, whole request 1800 s."""

    connect_s: float = 10.0
    first_token_s: float = 600.0
    total_s: float = 1800.0
