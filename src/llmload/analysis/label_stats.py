"""JMeter's Statistics and APDEX tables: one row per label (the record's name; llmload's own runs have one,
records.CHAT_REQUEST_NAME) and a Total row, each over the whole run as JMeter takes them.

  samples, failed, error_rate  every request of the label: JMeter's #Samples, FAIL, Error %
  e2e_s                        E2E of its successes (JMeter's Average ... 99th pct take failures in too;
                               llmload's latency statistics never do)
  rps                          samples / (last end - first send): JMeter's Transactions/s
  received_bytes_per_s         response body bytes over the same span (None where no record counts them)
  output_tokens_per_s          output tokens over the same span (None where no record counts them)
  apdex                        analysis.apdex of the label with the run's T and F, failures frustrated
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from llmload.analysis.apdex import apdex, rating
from llmload.analysis.model import LabelStatistics, LabelStats
from llmload.analysis.step_stats import distribution

TOTAL = "Total"


def label_statistics(requests: pd.DataFrame, limits: Mapping[str, Any]) -> LabelStatistics:
    """Every label, in name order, and the Total row; `limits`: the APDEX thresholds (t_s, f_s)."""
    rows = tuple(label_row(str(label), group, limits) for label, group in requests.groupby("label", sort=True))
    return LabelStatistics(per_label=rows, total=label_row(TOTAL, requests, limits))


def label_row(label: str, requests: pd.DataFrame, limits: Mapping[str, Any]) -> LabelStats:
    ok = requests["ok"].to_numpy(dtype=bool)
    samples = int(len(requests))
    span_s = float(requests["end_s"].max() - requests["send_s"].min()) if samples else 0.0
    score = apdex(requests["e2e_s"], ok, limits["t_s"], limits["f_s"])
    return LabelStats(
        label=label,
        samples=samples,
        failed=int(samples - ok.sum()),
        error_rate=float(1.0 - ok.mean()) if samples else None,
        e2e_s=distribution(requests.loc[ok, "e2e_s"]),
        rps=samples / span_s if span_s > 0 else None,
        received_bytes_per_s=_per_s(requests["response_bytes"], span_s),
        output_tokens_per_s=_per_s(requests["output_tokens"], span_s),
        apdex={**score, "rating": rating(score["score"])},
    )


def _per_s(counts: pd.Series, span_s: float) -> float | None:
    """A count column's sum over the span; None when no request has the count (not measured, not zero)."""
    if span_s <= 0 or not counts.notna().any():
        return None
    return float(counts.sum()) / span_s
