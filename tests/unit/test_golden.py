"""Refactor safety net: `llmload report` rebuilds the same summary.json, steps.csv and requests.csv from
real runs' raw files (tests/golden.py says how the fixtures are kept and regenerated): the simulator demo, real
vLLM (CPU), a faulty partial run, and real vLLM with its per-request phase histograms (the time split)."""

from __future__ import annotations

from pathlib import Path

import pytest

from golden import check, names


@pytest.mark.parametrize("name", names())
def test_report_rebuilds_the_golden_outputs(name: str, tmp_path: Path) -> None:
    problems = check(name, tmp_path)
    assert not problems, f"{len(problems)} differences, first: " + "\n".join(problems[:20])


def test_the_kinds_of_run_are_kept() -> None:
    assert {"demo", "vllm-cpu", "faulty-partial", "vllm-cpu-split"} <= set(names())
