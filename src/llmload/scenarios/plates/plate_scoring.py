"""How a reply is scored: the plates it lists (reasoning stripped) against the plates its batch holds."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from llmload.scenarios.chat import strip_reasoning
from llmload.scenarios.plates.plate_format import extract_plates


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
