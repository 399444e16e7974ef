"""Report-only figures computed from a run beside its summary: APDEX and error tables (added to
summary.json by the report), and requests.csv (one row per request with its derived metrics)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from llmload.analysis.apdex import apdex, apdex_per_step, rating
from llmload.analysis.csv_text import write_csv
from llmload.analysis.errors import errors_table, top_errors_per_step
from llmload.analysis.frame import QUALITY_EXAMPLES, RunData
from llmload.analysis.record_arrow import batch_ids_of_rows
from llmload.records import iter_record_dicts


def report_extras(run: RunData, summary: dict[str, Any], limits: dict[str, Any]) -> dict[str, Any]:
    """The summary keys `apdex` and `errors`."""
    per_step = apdex_per_step(run.requests, summary["steps"], limits)
    overall = apdex(run.requests["e2e_s"], run.requests["ok"], limits["t_s"], limits["f_s"])
    return {
        "apdex": {**limits, "overall": {**overall, "rating": rating(overall["score"])}, "per_step": per_step},
        "errors": {
            "by_type": errors_table(run.requests),
            "top_per_step": top_errors_per_step(run.requests, summary["steps"]),
        },
        "quality_examples": run_quality_examples(run),
    }


EXAMPLES = QUALITY_EXAMPLES


def run_quality_examples(run: RunData) -> dict[str, list[dict[str, Any]]]:
    """quality_examples from what load_run already counted (one look-up of a few batch_ids), else a pass."""
    path = run.run_dir / "records.jsonl"
    if run.plate_errors is None:
        return quality_examples(path)
    rows = [row for found in run.plate_errors.values() for _, _, row in found]
    batches = batch_ids_of_rows(path, rows)
    return {
        key: [
            {"plate": plate, "count": count, "batch_ids": batches.get(row, [])[:5]}
            for plate, count, row in run.plate_errors[kind]
        ]
        for key, kind in (("false_positives", "fp"), ("misses", "fn"))
    }


def quality_examples(records_path: Path, most: int = EXAMPLES) -> dict[str, list[dict[str, Any]]]:
    """The plates most often reported wrongly (false positives) and missed, with the first batch each was
    seen in. Model answers and dataset ids: text the report escapes."""
    wrong: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    first_batch: dict[tuple[str, str], list[str]] = {}
    for d in iter_record_dicts(records_path):
        if not d.get("ok"):
            continue
        expected, found = set(d.get("plates_expected") or []), set(d.get("plates_found") or [])
        for kind, plates, counter in (("fp", found - expected, wrong), ("fn", expected - found, missed)):
            for plate in plates:
                counter[str(plate)] += 1
                first_batch.setdefault((kind, str(plate)), [str(b) for b in (d.get("batch_ids") or [])][:5])
    return {
        "false_positives": [
            {"plate": p, "count": n, "batch_ids": first_batch[("fp", p)]} for p, n in wrong.most_common(most)
        ],
        "misses": [
            {"plate": p, "count": n, "batch_ids": first_batch[("fn", p)]} for p, n in missed.most_common(most)
        ],
    }


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


def requests_table(run: RunData, summary: dict[str, Any]) -> pd.DataFrame:
    req = run.requests
    step_index = pd.Series(pd.NA, index=req.index, dtype="Int64")
    users = pd.Series(pd.NA, index=req.index, dtype="Int64")
    steady = pd.Series(False, index=req.index)
    for step in summary["steps"]:
        sent = (req["send_s"] >= step["start_s"]) & (req["send_s"] < step["end_s"])
        step_index[sent], users[sent] = step["index"], step["users"]
        steady |= (
            sent & (req["send_s"] >= step["start_s"] + step["warmup_s"]) & (req["end_s"] <= step["end_s"])
        )
    table = req.assign(
        step_index=step_index,
        users=users,
        steady=steady,
        itl_mean_s=run.itl_s.per_row("mean"),
        itl_max_s=run.itl_s.per_row("max"),
        error=req["error"].map(_defuse),
        plates_tp=req["tp"],
        plates_fp=req["fp"],
        plates_fn=req["fn"],
    )
    return table[REQUEST_COLUMNS]


def write_requests_csv(run: RunData, summary: dict[str, Any], path: Path) -> None:
    """As `to_csv(path, index=False, float_format="%.6f")` would write it (analysis.csv_text: faster)."""
    write_csv(requests_table(run, summary), path)
