"""The docs stay true: every command and option of `llmload` is documented in README.md or in a docs/ page
that README.md links, every docs/ page is linked from README.md, and every relative link resolves."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from llmload.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
README_PATH = ROOT / "README.md"
DOCS_DIR = ROOT / "docs"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _links(page: Path) -> list[str]:
    return LINK.findall(page.read_text(encoding="utf-8"))


def _is_relative(target: str) -> bool:
    return not re.match(r"^[a-z]+:", target)


def _resolve(page: Path, target: str) -> tuple[Path, str]:
    path, _, anchor = target.partition("#")
    return ((page.parent / path).resolve() if path else page), anchor


def _linked_docs_pages() -> list[Path]:
    pages = [_resolve(README_PATH, t)[0] for t in _links(README_PATH) if _is_relative(t)]
    return sorted({p for p in pages if p.parent == DOCS_DIR and p.suffix == ".md" and p.is_file()})


def _documented_text() -> str:
    pages = [README_PATH, *_linked_docs_pages()]
    return "\n".join(p.read_text(encoding="utf-8") for p in pages)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices) if actions else {}


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {_anchor(m) for m in re.findall(r"^#+ (.+)$", text, flags=re.M)}


def test_every_command_is_documented() -> None:
    text = _documented_text()
    missing = []
    for name, sub in _subcommands(build_parser()).items():
        nested = _subcommands(sub)
        for full in [f"llmload {name} {n}" for n in nested] or [f"llmload {name}"]:
            if full not in text:
                missing.append(full)
    assert not missing, f"undocumented in README.md and the docs/ pages it links: {missing}"


def test_every_option_is_documented() -> None:
    text = _documented_text()
    missing = set()
    for name, sub in _subcommands(build_parser()).items():
        for parser in [sub, *_subcommands(sub).values()]:
            for action in parser._actions:
                for flag in action.option_strings:
                    if flag.startswith("--") and flag != "--help" and flag not in text:
                        missing.add(f"{name} {flag}")
    assert not missing, f"options undocumented in README.md and the docs/ pages it links: {sorted(missing)}"


def test_every_docs_page_is_linked_from_readme() -> None:
    pages = sorted(DOCS_DIR.glob("*.md"))
    assert pages, "docs/ holds no page"
    unlinked = [p.name for p in pages if p.resolve() not in _linked_docs_pages()]
    assert not unlinked, f"docs/ pages README.md does not link: {unlinked}"


def test_every_relative_link_resolves() -> None:
    broken = []
    for page in [README_PATH, *sorted(DOCS_DIR.glob("*.md"))]:
        for target in filter(_is_relative, _links(page)):
            path, anchor = _resolve(page, target)
            if not path.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
            elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, f"broken links: {broken}"
