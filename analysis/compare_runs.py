"""Two runs side by side as a pandas DataFrame: each level's throughput and p95 latencies, and the change.

    .venv/bin/python analysis/compare_runs.py reports/BASE reports/NEW
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from step_table import step_table

COLUMNS = ["rps", "output_tokens_per_s", "ttft_p95_s", "e2e_p95_s"]


def compare_runs(base: str | Path, new: str | Path) -> pd.DataFrame:
    """One row per user level measured in both runs: base, new and relative change of each column."""
    a, b = step_table(base)[COLUMNS], step_table(new)[COLUMNS]
    both = pd.merge(a, b, left_index=True, right_index=True, suffixes=("_base", "_new"))
    for column in COLUMNS:
        both[f"{column}_change"] = both[f"{column}_new"] / both[f"{column}_base"] - 1
    return both


if __name__ == "__main__":
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(compare_runs(sys.argv[1], sys.argv[2]).round(3))
