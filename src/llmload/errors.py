"""Errors shared across llmload."""

from __future__ import annotations

import argparse
from typing import NoReturn


class UsageError(Exception):
    """Bad input from the user (file, flag, dataset): one line naming the problem and where.

    The CLI prints the message and exits with status 2.
    """


class UsageErrorParser(argparse.ArgumentParser):
    """An argparse parser whose errors are UsageErrors (one line, exit 2) instead of argparse's own exit."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")
