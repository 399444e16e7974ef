"""README stays true: every command and every option of `llmload` is documented there."""

from __future__ import annotations

import argparse
from pathlib import Path

from llmload.cli import build_parser

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices) if actions else {}


def test_every_command_appears_in_readme() -> None:
    missing = []
    for name, sub in _subcommands(build_parser()).items():
        nested = _subcommands(sub)
        for full in [f"llmload {name} {n}" for n in nested] or [f"llmload {name}"]:
            if full not in README:
                missing.append(full)
    assert not missing, f"undocumented in README.md: {missing}"


def test_every_option_appears_in_readme() -> None:
    missing = set()
    for name, sub in _subcommands(build_parser()).items():
        for parser in [sub, *_subcommands(sub).values()]:
            for action in parser._actions:
                for flag in action.option_strings:
                    if flag.startswith("--") and flag != "--help" and flag not in README:
                        missing.add(f"{name} {flag}")
    assert not missing, f"options undocumented in README.md: {sorted(missing)}"
