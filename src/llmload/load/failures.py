"""What the load side does when requests fail (pure; no Locust here).

- Backoff: a user whose request failed sends the next one at once (a single failure in a healthy run
  must not change the offered load), but from the second failure in a row it pauses 0.1 s, then 0.2,
  0.4, ... at most 2 s (wall) before each further request, and resets on the first success. A dead or
  broken server therefore costs at most one record per user every 2 s, never a hot loop.
- Target lost: when every request that ended during one connect timeout (``--connect-timeout``, default
  10 s) failed to connect (at least 3 of them), the target is gone: the run stops and is marked partial
  (``meta.json`` ``stopped_reason``, ``summary.json`` ``complete: false``).
"""

from __future__ import annotations

BACKOFF_FIRST_S = 0.1
BACKOFF_MAX_S = 2.0
LOST_MIN_FAILURES = 3
TARGET_LOST = "target lost"  # how a stop reason for a lost target begins (exit 3: llmload.exit_codes)


def failure_backoff_s(consecutive_failures: int) -> float:
    """Wall seconds to wait before the next request after ``consecutive_failures`` failures in a row."""
    if consecutive_failures < 2:
        return 0.0
    return min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2.0 ** min(consecutive_failures - 2, 30))


class TargetWatch:
    """Fed every finished request (in end order); says when the target must be considered lost."""

    def __init__(self, window_s: float, min_failures: int = LOST_MIN_FAILURES) -> None:
        self.window_s = window_s
        self.min_failures = min_failures
        self.since_s: float | None = None  # end of the first connect failure of the current streak
        self.failures = 0

    def observe(self, end_s: float, error_kind: str | None) -> bool:
        """True once the streak of connect failures spans the window (and stays True while it lasts)."""
        if error_kind != "connect":
            self.since_s, self.failures = None, 0
            return False
        if self.since_s is None:
            self.since_s = end_s
        self.failures += 1
        return self.failures >= self.min_failures and end_s - self.since_s >= self.window_s

    def reason(self) -> str:
        return (
            f"{TARGET_LOST}: {self.failures} requests in a row failed to connect over at least "
            f"{self.window_s:g} s (the connect timeout); the run was stopped early"
        )
