"""Per-step latency and throughput of a run as a pandas DataFrame (one row per step).

    .venv/bin/python analysis/step_table.py reports/RUN_DIR          # prints the table
    from step_table import step_table; df = step_table("reports/RUN_DIR")   # in a notebook

Columns: users, requests_ok, rps, output_tokens_per_s, ttft/e2e/tpot p50/p95/p99 (seconds), excluded.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from llmload.analysis.pipeline import analyze_run


def step_table(run_dir: str | Path) -> pd.DataFrame:
    rows = []
    for step in analyze_run(Path(run_dir)).steps:
        row = {"users": step.users, "requests_ok": step.requests_ok, "rps": step.rps,
               "output_tokens_per_s": step.output_tokens_per_s}
        for metric in ("ttft_s", "e2e_s", "tpot_s"):
            dist = getattr(step, metric)
            row.update({f"{metric[:-2]}_p{q}_s": getattr(dist, f"p{q}") for q in (50, 95, 99)})
        rows.append({**row, "excluded": step.excluded})
    return pd.DataFrame(rows).set_index("users")


if __name__ == "__main__":
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(step_table(sys.argv[1]).round(3))
