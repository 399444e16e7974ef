from __future__ import annotations

import random
import statistics
from pathlib import Path

import pytest

from llmload.errors import UsageError
from llmload.scenarios.plates.comment_dataset import write_jsonl
from llmload.scenarios.plates.comment_generator import generate_comments, random_plate
from llmload.scenarios.plates.phrases import ENDS, INDUSTRIES, PLATE_TEMPLATES, SLOTS, TAILS
from llmload.scenarios.plates.plate_format import extract_plates, is_valid_plate

CHECKED_IN = Path(__file__).parents[2] / "datasets" / "plate_comments.jsonl"


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_jsonl(generate_comments(7, 100), first)
    write_jsonl(generate_comments(7, 100), second)
    assert first.read_bytes() == second.read_bytes()
    write_jsonl(generate_comments(8, 100), second)
    assert first.read_bytes() != second.read_bytes()


def test_checked_in_dataset_is_the_seeded_output(tmp_path: Path) -> None:
    out = tmp_path / "regen.jsonl"
    write_jsonl(generate_comments(20260114, 100), out)
    assert out.read_bytes() == CHECKED_IN.read_bytes()


@pytest.mark.parametrize("seed", [20260114, 1, 2, 3])
def test_statistics_of_100_rows(seed: int) -> None:
    rows = generate_comments(seed, 100)
    lengths = [len(r.text) for r in rows]
    plate_rows = [r for r in rows if r.plates]
    assert 8 <= len(plate_rows) <= 12
    assert all(len(r.plates) == 1 for r in plate_rows)
    assert 17 <= statistics.mean(lengths) <= 23
    assert min(lengths) >= 6 and max(lengths) <= 45
    assert len({r.industry for r in rows}) >= 12
    assert len({r.text for r in rows}) == 100
    assert [r.id for r in rows[:3]] == ["c001", "c002", "c003"]
    assert all(extract_plates(r.text) == list(r.plates) for r in rows)


def test_plate_mix_covers_kinds_and_provinces() -> None:
    rng = random.Random(5)
    plates = [random_plate(rng) for _ in range(400)]
    assert all(is_valid_plate(p) for p in plates)
    eight = [p for p in plates if len(p) == 8]
    assert 0.3 <= len(eight) / len(plates) <= 0.5  # 40% new-energy by design
    assert any(p[2] in "DF" for p in eight) and any(p[-1] in "DF" for p in eight)
    assert len({p[0] for p in plates}) >= 20


def test_count_must_be_positive() -> None:
    with pytest.raises(UsageError, match="--count must be at least 1, got 0"):
        generate_comments(1, 0)


def test_large_count_ids_widen() -> None:
    rows = generate_comments(3, 1200)
    assert rows[0].id == "c0001" and rows[-1].id == "c1200"
    assert sum(1 for r in rows if r.plates) == 120


def test_phrase_tables_hold_no_plate_outside_the_plate_templates() -> None:
    texts = [*ENDS, *TAILS, *(w for words in SLOTS.values() for w in words)]
    texts += [t for scenes in INDUSTRIES.values() for s in scenes.values() for t in (*s.cores, *s.extras)]
    assert len(texts) > 300 and not [t for t in texts if extract_plates(t)]
    assert all("{plate}" in template for _, _, template in PLATE_TEMPLATES)
