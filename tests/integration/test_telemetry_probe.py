"""`llmload probe` against the simulator, and against nothing (exit 3)."""

from __future__ import annotations

import re
from pathlib import Path

from simulator import llmload, simulator

from llmload.processes import free_port


def test_probe_reports_every_check_of_the_simulator(tmp_path: Path) -> None:
    with simulator("max-seqs-8", tmp_path) as url:
        result = llmload("probe", "--host", url, "--max-tokens", "12")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {line.split("  ")[0]: line for line in result.stdout.splitlines()}
    assert re.search(r"^models\s+ok .*sim/max-seqs-8", rows["models"])
    assert "completion 12 tokens (usage yes)" in rows["chat (stream)"]
    ttft_ms = float(re.search(r"TTFT (\d+) ms", rows["chat (stream)"]).group(1))  # type: ignore[union-attr]
    assert 0 < ttft_ms < 2000
    assert re.search(r"^metrics\s+ok .* \d+ vllm: series", rows["metrics"])
    assert " ok " in rows["tokenize"] and " ok " in rows["version"]
    assert result.stdout.rstrip().endswith("5/5 checks passed")


def test_probe_of_an_unreachable_target_exits_3() -> None:
    result = llmload("probe", "--host", f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 3
    assert "target unreachable" in result.stderr
