"""Sessions by turn (summary.json "sessions"; None for a run without session turns): for each turn position,
TTFT and E2E of its successful requests over the whole run (a session spans steps), their prompt tokens, and
how the server's count of the history compares with what the history implies (llmload.scenarios.datasets.
session_growth: the previous prompt + the previous answer's generated tokens + the new messages):

  retokenized  turns whose implied count is known; `equal`: the server counted exactly that; `diff_*`: prompt
               tokens - implied (the answer text the server tokenised again came to more, or fewer, tokens
               than it generated: the KV of those tokens cannot be reused from the previous turn)

beside the server's prefix-cache hit rate over the run (vLLM's /metrics: hits / queries, in tokens).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from llmload.analysis.frame import RunData
from llmload.analysis.server_evidence import server_window
from llmload.analysis.step_stats import distribution


def session_summary(run: RunData) -> dict[str, Any] | None:
    req = run.requests
    turns = req[req["turn"].notna()]
    if not len(turns):
        return None
    by_turn = [_turn_row(int(rows["turn"].iloc[0]), rows) for _, rows in turns.groupby("turn", sort=True)]
    return {
        "sessions_started": int((turns["turn"] == 1).sum()),
        "turn_requests": int(len(turns)),
        "by_turn": by_turn,
        "retokenized": _retokenized(turns[turns["ok"]]),
        "prefix_cache_hit_rate": _run_hit_rate(run),
    }


def _turn_row(turn: int, rows: pd.DataFrame) -> dict[str, Any]:
    ok = rows[rows["ok"]]
    return {
        "turn": turn,
        "requests": int(len(rows)),
        "failed": int((~rows["ok"]).sum()),
        "ttft_s": distribution(ok["ttft_s"]),
        "e2e_s": distribution(ok["e2e_s"]),
        "prompt_tokens_mean": _mean(ok["prompt_tokens"]),
        "output_tokens_mean": _mean(ok["output_tokens"]),
        "retokenized": _retokenized(ok),
    }


def _retokenized(ok: pd.DataFrame) -> dict[str, Any]:
    implied = ok["prompt_tokens_implied"].to_numpy(dtype=float)
    counted = ok["prompt_tokens"].to_numpy(dtype=float)
    known = ~np.isnan(implied) & ~np.isnan(counted)
    diff = counted[known] - implied[known]
    return {
        "checked": int(known.sum()),
        "equal": int((diff == 0).sum()),
        "diff_mean": float(diff.mean()) if diff.size else None,
        "diff_min": float(diff.min()) if diff.size else None,
        "diff_max": float(diff.max()) if diff.size else None,
    }


def _run_hit_rate(run: RunData) -> float | None:
    """The server's prefix-cache hit rate over every step (None without vLLM's counters)."""
    if not len(run.server) or not run.windows:
        return None
    start, end = run.windows[0].start_s, run.windows[-1].end_s
    rate = server_window(run.server, start, end, run.time_scale)["prefix_cache_hit_rate"]
    return None if rate is None else float(rate)


def _mean(series: pd.Series) -> float | None:
    values = series.dropna()
    return float(values.mean()) if len(values) else None
