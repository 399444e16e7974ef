"""steps.csv (one row per step, the step table's main figures) and requests.csv (one row per request with its
derived metrics), written from the run's analysis."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from llmload.analysis.frame import RunData
from llmload.analysis.model import StepStats
from llmload.analysis.step_windows import step_users
from llmload.report.csv_text import write_csv

STEP_FIGURES = ("users", "requests_ok", "requests_failed", "error_rate", "rps", "output_tokens_per_s")
STEP_DISTRIBUTIONS = (  # column METRIC_STAT_s: the statistic of the step's distribution METRIC_s
    ("ttft", ("p50", "p95", "p99")),
    ("e2e", ("mean", "p50", "p90", "p95", "p99")),
    ("tpot", ("p50", "p95")),
    ("itl", ("p50", "p99")),
)
STEP_CSV_COLUMNS = [*STEP_FIGURES, *(f"{m}_{stat}_s" for m, stats in STEP_DISTRIBUTIONS for stat in stats)]


def step_csv_row(step: StepStats) -> list[Any]:
    figures = [getattr(step, name) for name in STEP_FIGURES]
    return figures + [getattr(getattr(step, f"{m}_s"), stat) for m, stats in STEP_DISTRIBUTIONS for stat in stats]


def write_steps_csv(steps: Sequence[StepStats], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(STEP_CSV_COLUMNS)
        writer.writerows(step_csv_row(step) for step in steps)


REQUEST_COLUMNS = [
    "request_id",
    "step_index",
    "users",
    "steady",
    "user_id",
    "worker",
    "ok",
    "error_kind",
    "http_status",
    "error",
    "send_s",
    "end_s",
    "queue_s",
    "ttft_s",
    "ttfa_s",
    "e2e_s",
    "tpot_s",
    "itl_mean_s",
    "itl_max_s",
    "prompt_tokens",
    "output_tokens",
    "reasoning_tokens",
    "token_source",
    "finish_reason",
    "plates_tp",
    "plates_fp",
    "plates_fn",
]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _defuse(text: Any) -> Any:
    """Spreadsheet formula injection: free text starting like a formula gets a leading apostrophe."""
    if isinstance(text, str) and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def requests_table(run: RunData) -> pd.DataFrame:
    """One row per request: the frame's metrics with the step it was sent in and whether it was steady
    (analysis.step_windows)."""
    req = run.requests
    table = req.assign(
        users=step_users(req, run.windows),
        itl_mean_s=run.itl_s.per_row("mean"),
        itl_max_s=run.itl_s.per_row("max"),
        error=req["error"].map(_defuse),
        plates_tp=req["tp"],
        plates_fp=req["fp"],
        plates_fn=req["fn"],
    )
    return table[REQUEST_COLUMNS]


def write_requests_csv(run: RunData, path: Path) -> None:
    """As `to_csv(path, index=False, float_format="%.6f")` would write it (report.csv_text: faster)."""
    write_csv(requests_table(run), path)
