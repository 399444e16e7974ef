"""The analysis/ scripts answer their questions on a real run (the golden demo run: knee 28, limit 32)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from golden import unpack

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "analysis"))

from compare_runs import compare_runs  # noqa: E402
from knee_evidence import knee_evidence  # noqa: E402
from step_table import step_table  # noqa: E402


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return unpack("demo", tmp_path_factory.mktemp("golden"))


def test_step_table_has_a_row_per_step(demo: Path) -> None:
    table = step_table(demo)
    assert list(table.index) == [1, 4, 8, 12, 16, 20, 24, 26, 28, 30, 32, 34, 36, 40]
    assert table.loc[28, "rps"] == pytest.approx(0.6822, abs=1e-4)
    assert (table["e2e_p95_s"] >= table["e2e_p50_s"]).all()


def test_knee_evidence_names_the_rule_and_its_signals(demo: Path) -> None:
    evidence = knee_evidence(demo)
    assert (evidence["knee"], evidence["limit"]) == (28, 32)
    assert evidence["signals"]["plateau"][:2] == (True, 28)


def test_a_run_compared_with_itself_changes_nothing(demo: Path) -> None:
    both = compare_runs(demo, demo)
    assert len(both) == 14
    assert (both.filter(like="_change").abs() < 1e-12).all().all()
