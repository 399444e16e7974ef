"""Errors shared across llmload."""


class UsageError(Exception):
    """Bad input from the user (file, flag, dataset): one line naming the problem and where.

    The CLI prints the message and exits with status 2.
    """
