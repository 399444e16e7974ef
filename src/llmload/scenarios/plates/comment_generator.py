"""Deterministic synthetic social-media comments, about 10% carrying one licence plate.

``generate_comments(seed, count)`` depends only on its arguments (``random.Random(seed)``,
fixed iteration order), so the same seed gives byte-identical JSONL from ``write_jsonl``.
"""

from __future__ import annotations

import random

from llmload.errors import UsageError
from llmload.scenarios.plates.comment_dataset import CommentRow, check_rows
from llmload.scenarios.plates.phrases import ENDS, INDUSTRIES, PLATE_TEMPLATES, SLOTS, TAILS
from llmload.scenarios.plates.plate_format import MAX_ORDINARY_LETTERS, PLATE_LETTERS, PROVINCES

PLATE_SHARE = 0.10  # share of rows with exactly one plate
MIN_CHARS = 6
MAX_CHARS = 45
P_EXTRA = 0.8  # a follow-up clause after the core
P_SECOND_EXTRA = 0.25  # a second follow-up, given a first
P_TAIL = 0.45  # an interjection after the end mark
P_SEPARATOR = 0.3  # plate written as 京A·88888 / 京A 88888 instead of 京A88888
_DIGITS = "0123456789"
MAX_ATTEMPTS = 50  # redraws per row to avoid a repeated text


def _fill(template: str, rng: random.Random) -> str:
    for slot, words in SLOTS.items():
        key = "{" + slot + "}"
        if key in template:
            template = template.replace(key, rng.choice(words))
    return template


def _ordinary_serial(rng: random.Random) -> str:
    letters = rng.choices((0, 1, MAX_ORDINARY_LETTERS), weights=(6, 3, 1))[0]
    serial = [rng.choice(_DIGITS) for _ in range(5)]
    for pos in rng.sample(range(5), letters):
        serial[pos] = rng.choice(PLATE_LETTERS)
    return "".join(serial)


def random_plate(rng: random.Random) -> str:
    """A plate in bare form: 60% ordinary, 25% small new-energy, 15% large new-energy."""
    head = rng.choice(PROVINCES) + rng.choice(PLATE_LETTERS)
    kind = rng.choices(("ordinary", "small", "large"), weights=(60, 25, 15))[0]
    if kind == "ordinary":
        return head + _ordinary_serial(rng)
    digits = "".join(rng.choice(_DIGITS) for _ in range(4))
    if kind == "small":
        second = rng.choice(_DIGITS) if rng.random() < 0.7 else rng.choice(PLATE_LETTERS)
        return head + rng.choice("DF") + second + digits
    return head + digits + rng.choice(_DIGITS) + rng.choice("DF")


def _written_plate(plate: str, rng: random.Random) -> str:
    if rng.random() >= P_SEPARATOR:
        return plate
    return plate[:2] + rng.choice("· ") + plate[2:]


def _plain_comment(rng: random.Random) -> tuple[str, str, str]:
    industry = rng.choice(sorted(INDUSTRIES))
    scenes = INDUSTRIES[industry]
    scene = rng.choice(sorted(scenes))
    spec = scenes[scene]
    parts = [_fill(rng.choice(spec.cores), rng)]
    if rng.random() < P_EXTRA:
        extras = rng.sample(spec.extras, 2)
        parts.append(extras[0])
        if rng.random() < P_SECOND_EXTRA:
            parts.append(extras[1])
    end = rng.choice(ENDS)
    text = "，".join(parts) + end
    if rng.random() < P_TAIL:
        text += ("，" if end == "" else "") + rng.choice(TAILS)
    return text, industry, scene


def _plate_comment(rng: random.Random, plate: str) -> tuple[str, str, str]:
    industry, scene, template = rng.choice(PLATE_TEMPLATES)
    filled = _fill(template, rng).replace("{plate}", _written_plate(plate, rng))
    return filled + rng.choice(("。", "！", "")), industry, scene


def _unique_plate(rng: random.Random, used: set[str]) -> str:
    plate = random_plate(rng)
    while plate in used:
        plate = random_plate(rng)
    used.add(plate)
    return plate


def generate_comments(seed: int, count: int) -> list[CommentRow]:
    """``count`` comments; round(count * 10%) of them carry exactly one plate, at seeded positions."""
    if count < 1:
        raise UsageError(f"--count must be at least 1, got {count}")
    rng = random.Random(seed)
    plate_rows = set(rng.sample(range(count), round(count * PLATE_SHARE)))
    width = max(3, len(str(count)))
    rows: list[CommentRow] = []
    seen_texts: set[str] = set()
    used_plates: set[str] = set()
    for index in range(count):
        plates: tuple[str, ...] = ()
        for attempt in range(MAX_ATTEMPTS):
            if index in plate_rows:
                plate = _unique_plate(rng, used_plates)
                text, industry, scene = _plate_comment(rng, plate)
                plates = (plate,)
            else:
                text, industry, scene = _plain_comment(rng)
            fresh = text not in seen_texts or attempt == MAX_ATTEMPTS - 1  # huge counts may repeat
            if MIN_CHARS <= len(text) <= MAX_CHARS and fresh:
                break
        seen_texts.add(text)
        rows.append(CommentRow(f"c{index + 1:0{width}d}", text, plates, industry, scene))
    check_rows(rows)
    return rows
