"""Chinese licence plate matching and scoring for the plate-detection scenario.

Plate rules encoded here (GA 36-2018, motor vehicle number plates):

* Every plate starts with a province abbreviation (one of ``PROVINCES``) and the
  issuing-office letter A-Z (I and O are never used).
* Ordinary plates (blue / yellow): 5 serial characters, digits or letters without
  I and O, at most 2 of them letters (the "few letters" rule). 7 characters.
* New-energy plates: 6 serial characters, 8 characters in all.
  - small vehicles (green): D or F first (D = pure electric, F = not pure electric),
    then a letter or digit, then 4 digits, e.g. ``粤BD12345``, ``沪AF8K123``;
  - large vehicles (yellow-green): 5 digits, then D or F, e.g. ``苏E12345D``.
* Written text often puts a space or a middle dot after the office letter
  (``京A·88888``, ``京A 88888``, ``京A•88888``); the matcher accepts one such
  separator and returns the bare form ``京A88888``.
* Only upper-case ASCII letters are accepted, and a plate must not sit inside a
  longer ASCII letter/digit run (``AB京A12345C9`` holds no plate).

Special-purpose suffixes (学, 警, 挂, 港, 澳, 使, 领) are not matched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # A-Z without I and O
SEPARATORS = " ·•"
MAX_ORDINARY_LETTERS = 2

_L = "A-HJ-NP-Z"
_SERIAL = (
    rf"(?P<small>[DF][{_L}0-9][0-9]{{4}})"  # small new-energy
    rf"|(?P<large>[0-9]{{5}}[DF])"  # large new-energy
    rf"|(?P<ordinary>[{_L}0-9]{{5}})"  # ordinary
)
_PLATE_RE = re.compile(
    rf"(?<![A-Za-z0-9])(?P<prov>[{PROVINCES}])(?P<office>[{_L}])[{SEPARATORS}]?(?:{_SERIAL})(?![A-Za-z0-9])"
)
_BARE_RE = re.compile(rf"[{PROVINCES}][{_L}](?:{_SERIAL})")

_THINK_BLOCK_RE = re.compile(r"<think>.*?</think>", re.DOTALL)
_THINK_OPEN = "<think>"
_THINK_CLOSE = "</think>"


def _serial_ok(match: re.Match[str]) -> bool:
    ordinary: str | None = match.group("ordinary")
    if ordinary is None:
        return True
    return sum(ch.isalpha() for ch in ordinary) <= MAX_ORDINARY_LETTERS


def extract_plates(text: str) -> list[str]:
    """Plates in ``text``, normalised to the bare form, unique, in order of first appearance."""
    found: dict[str, None] = {}
    for match in _PLATE_RE.finditer(text):
        if not _serial_ok(match):
            continue
        serial = match.group("small") or match.group("large") or match.group("ordinary")
        found.setdefault(match.group("prov") + match.group("office") + serial, None)
    return list(found)


def is_valid_plate(plate: str) -> bool:
    """True when ``plate`` is exactly one plate in the bare normalised form (no separator)."""
    match = _BARE_RE.fullmatch(plate)
    return match is not None and _serial_ok(match)


def strip_reasoning(text: str) -> str:
    """Remove reasoning so that it is not scored.

    Drops every ``<think>...</think>`` block, an unterminated ``<think>`` up to the
    end of the text, and, when a ``</think>`` remains without its opening tag (chat
    templates that put ``<think>`` into the prompt), everything up to and including it.
    """
    text = _THINK_BLOCK_RE.sub("", text)
    open_at = text.find(_THINK_OPEN)
    if open_at >= 0:
        text = text[:open_at]
    close_at = text.rfind(_THINK_CLOSE)
    if close_at >= 0:
        text = text[close_at + len(_THINK_CLOSE) :]
    return text


def plates_in_reply(reply: str) -> set[str]:
    """The plates a model reported: those in the reply once reasoning is stripped."""
    return set(extract_plates(strip_reasoning(reply)))


@dataclass(frozen=True, slots=True)
class PlateScore:
    """Counts for one or many requests; add them to aggregate (micro-average).

    Zero-division conventions:
    * precision = tp / (tp + fp), and 1.0 when nothing was reported (no false claims);
    * recall = tp / (tp + fn), and 1.0 when nothing was expected (nothing missed);
    * f1 = harmonic mean of the two, and 0.0 when both are 0.
    So nothing expected and nothing found scores 1.0 / 1.0 / 1.0; missing every
    expected plate while reporting none scores precision 1.0, recall 0.0, f1 0.0.
    """

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: PlateScore) -> PlateScore:
        return PlateScore(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        claimed = self.tp + self.fp
        return 1.0 if claimed == 0 else self.tp / claimed

    @property
    def recall(self) -> float:
        expected = self.tp + self.fn
        return 1.0 if expected == 0 else self.tp / expected

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)

    @property
    def exact(self) -> bool:
        """True when the reply listed exactly the expected plates."""
        return self.fp == 0 and self.fn == 0


def score(expected: set[str] | frozenset[str], found: set[str] | frozenset[str]) -> PlateScore:
    """Compare the expected plates of one request with those the model reported."""
    return PlateScore(tp=len(expected & found), fp=len(found - expected), fn=len(expected - found))


def sum_scores(scores: Iterable[PlateScore]) -> PlateScore:
    """Sum counts over many requests (micro-averaged precision/recall/f1 follow)."""
    total = PlateScore()
    for item in scores:
        total = total + item
    return total
