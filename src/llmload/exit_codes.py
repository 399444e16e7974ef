"""The exit status of every llmload command (README "Nightly runs and CI gates")."""

from __future__ import annotations

import signal
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # an SLO clause or a regression gate failed; `compare`: regressed; `plan`: infeasible; `probe`: failed
    USAGE = 2  # bad input: one line on stderr naming the problem and where
    UNREACHABLE = 3  # the target could not be reached before any load, or was lost mid-run
    GENERATOR = 4  # the load generator (Locust) or the server it was to start (`serve`, the vLLM demo) failed


def interrupted(sig: signal.Signals) -> int:
    """128 + N: the command was stopped by signal N (Ctrl-C: 130, SIGTERM: 143)."""
    return 128 + int(sig)
