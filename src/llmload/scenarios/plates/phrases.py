"""The generator's word lists and sentence pieces (phrases.toml beside this module), read once at import.

Each industry has scenes; each scene has core clauses and follow-up clauses that fit all of its cores.
``{dish}``, ``{city}`` and ``{item}`` are filled from the slot lists. Nothing in the tables may contain a
licence plate: plates only enter through PLATE_TEMPLATES. TOML keeps the file's order, which the seeded
generator relies on.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any


@dataclass(frozen=True, slots=True)
class Scene:
    cores: tuple[str, ...]  # the comment's main clause
    extras: tuple[str, ...]  # follow-up clauses that fit every core of the scene


def _tables() -> dict[str, Any]:
    text = resources.files("llmload.scenarios.plates").joinpath("phrases.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


_TABLES = _tables()
SLOTS: dict[str, tuple[str, ...]] = {slot: tuple(words) for slot, words in _TABLES["slots"].items()}
INDUSTRIES: dict[str, dict[str, Scene]] = {
    industry: {name: Scene(tuple(scene["cores"]), tuple(scene["extras"])) for name, scene in scenes.items()}
    for industry, scenes in _TABLES["industries"].items()
}
ENDS: tuple[str, ...] = tuple(_TABLES["ends"])  # ends of a comment
TAILS: tuple[str, ...] = tuple(_TABLES["tails"])  # optional interjections after the end
# (industry, scene, template) for comments carrying one plate; {plate} is the plate as written
PLATE_TEMPLATES: tuple[tuple[str, str, str], ...] = tuple(
    (industry, scene, template) for industry, scene, template in _TABLES["plate_templates"]
)
