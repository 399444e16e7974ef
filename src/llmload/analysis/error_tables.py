"""JMeter's error tables: errors by type over the run, and the top 5 error types per step and per label
(JMeter's "Top 5 Errors by sampler": the sampler is its label).

An error's *type* is its category (records.ERROR_KINDS) with the HTTP status when there is one
("http_status 503"); the most frequent message of each type is kept as an example (it is text from the
server or the client and is escaped by the report like every other such text).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from llmload.analysis.step_windows import StepWindow, sent_in

TOP_N = 5
EXAMPLE_CHARS = 200


def error_type(kind: Any, status: Any) -> str:
    name = str(kind) if kind else "unknown"
    if status is not None and not pd.isna(status):
        return f"{name} {int(status)}"
    return name


def _typed(failed: pd.DataFrame) -> pd.DataFrame:
    types = [error_type(k, s) for k, s in zip(failed["error_kind"], failed["http_status"], strict=True)]
    return failed.assign(error_type=types)


def _example(messages: pd.Series) -> str:
    values = messages.dropna().astype(str)
    return values.value_counts().index[0][:EXAMPLE_CHARS] if len(values) else ""


def error_summary(requests: pd.DataFrame, windows: list[StepWindow]) -> dict[str, Any]:
    """summary.json's "errors": by type over the run, and the top types per step and per label."""
    return {
        "by_type": errors_table(requests),
        "top_per_step": top_errors_per_step(requests, windows),
        "top_per_label": top_errors_per_label(requests),
    }


def errors_table(requests: pd.DataFrame) -> list[dict[str, Any]]:
    """Every error type over the whole run, most frequent first."""
    failed = requests[~requests["ok"]]
    if not len(failed):
        return []
    typed = _typed(failed)
    rows = []
    for name, group in typed.groupby("error_type", sort=False):
        rows.append(
            {
                "type": str(name),
                "count": int(len(group)),
                "percent_of_errors": 100.0 * len(group) / len(failed),
                "percent_of_samples": 100.0 * len(group) / len(requests),
                "example": _example(group["error"]),
            }
        )
    return sorted(rows, key=lambda r: (-r["count"], r["type"]))


def top_errors_per_step(requests: pd.DataFrame, windows: list[StepWindow]) -> list[dict[str, Any]]:
    """The top 5 error types per step: requests sent in the step."""
    rows = []
    for window in windows:
        top = _top_errors(requests[sent_in(requests, window)])
        if top is not None:
            rows.append({"users": window.users, "index": window.index, **top})
    return rows


def top_errors_per_label(requests: pd.DataFrame) -> list[dict[str, Any]]:
    """JMeter's "Top 5 Errors by sampler": each label with errors, in name order."""
    rows = []
    for label, group in requests.groupby("label", sort=True):
        top = _top_errors(group)
        if top is not None:
            rows.append({"label": str(label), **top})
    return rows


def _top_errors(sent: pd.DataFrame) -> dict[str, Any] | None:
    """Samples, errors and the TOP_N commonest error types among `sent`; None without errors."""
    failed = sent[~sent["ok"]]
    if not len(failed):
        return None
    counts = _typed(failed)["error_type"].value_counts()
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_N]
    return {
        "samples": int(len(sent)),
        "errors": int(len(failed)),
        "top": [{"type": str(t), "count": int(c)} for t, c in top],
    }
