"""steps.csv (one row per step, the step table's main figures) and requests.csv (one row per request with its
derived metrics), written from the run's analysis."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pandas as pd

from llmload.analysis.frame import RunData
from llmload.analysis.step_windows import step_users
from llmload.report.csv_text import write_csv

STEP_CSV_COLUMNS = [
    "users",
    "requests_ok",
    "requests_failed",
    "error_rate",
    "rps",
    "output_tokens_per_s",
    "ttft_p50_s",
    "ttft_p95_s",
    "ttft_p99_s",
    "e2e_mean_s",
    "e2e_p50_s",
    "e2e_p90_s",
    "e2e_p95_s",
    "e2e_p99_s",
    "tpot_p50_s",
    "tpot_p95_s",
    "itl_p50_s",
    "itl_p99_s",
]
_STEP_CSV_PATHS = [
    ("users",),
    ("requests_ok",),
    ("requests_failed",),
    ("error_rate",),
    ("rps",),
    ("output_tokens_per_s",),
    ("ttft_s", "p50"),
    ("ttft_s", "p95"),
    ("ttft_s", "p99"),
    ("e2e_s", "mean"),
    ("e2e_s", "p50"),
    ("e2e_s", "p90"),
    ("e2e_s", "p95"),
    ("e2e_s", "p99"),
    ("tpot_s", "p50"),
    ("tpot_s", "p95"),
    ("itl_s", "p50"),
    ("itl_s", "p99"),
]


def _get(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def write_steps_csv(summary: dict[str, Any], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(STEP_CSV_COLUMNS)
        for s in summary["steps"]:
            writer.writerow([_get(s, p) for p in _STEP_CSV_PATHS])


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
