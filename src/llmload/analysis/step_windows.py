"""Each step's steady window, and the two columns that place every request in the steps (llmload.steady's
rule, docs/measurement.md, Steady window). load_run attaches them once to the requests frame; every per-step selection of
requests (statistics, APDEX, SLO goodput, errors per step, charts, requests.csv) reads them:

  step_index  the step the request was SENT in (<NA> when sent outside every step)
  steady      sent inside its step's steady window [start + warm-up, end) and ended by the step's end, whatever
              its outcome (requests.csv's column); a step's latency statistics take its steady successes

Throughput counts work in the window instead (work_in_window: each successful request's share of its time
inside it, llmload.steady.share_in_window), so it also counts requests sent before the window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from llmload.records import StepMark
from llmload.steady import auto_warmup_s, share_in_window, steady_mask
from llmload.step_stop import INFLIGHT, inflight_warmup_end_s


@dataclass(frozen=True)
class StepWindow:
    """One step as it happened (target time base, seconds from the run's time zero) and its warm-up."""

    index: int
    users: int
    start_s: float
    end_s: float
    warmup_s: float
    rate_rps: float | None  # open-loop steps: the arrival rate
    stop: Mapping[str, Any] | None = None  # auto steps: why the step ended (llmload.step_stop.StopDecision)

    @property
    def steady_start_s(self) -> float:
        return self.start_s + self.warmup_s

    @property
    def length_s(self) -> float:
        """The steady window's length."""
        return max(0.0, self.end_s - self.steady_start_s)


def place_requests(
    requests: pd.DataFrame, steps: list[StepMark], warmup: str | float
) -> tuple[pd.DataFrame, list[StepWindow]]:
    """The frame with `step_index` and `steady` (module doc), and each step's window. warmup: "auto" (each
    step's own, from the median E2E of the successful requests sent in it: auto_warmup_s), INFLIGHT (until
    the requests in flight at its start ended: llmload.step_stop) or seconds."""
    send = requests["send_s"].to_numpy(dtype=float)
    end = requests["end_s"].to_numpy(dtype=float)
    step_index = pd.Series(pd.NA, index=requests.index, dtype="Int64")
    steady = np.zeros(len(requests), dtype=bool)
    windows = []
    for step in steps:
        end_s = float(step.end_s if step.end_s is not None else step.start_s)
        sent = (send >= step.start_s) & (send < end_s)
        if warmup == INFLIGHT:
            warmup_s = min(inflight_warmup_end_s(step.start_s, send, end, step.join_spread_s), end_s) - step.start_s
        else:
            warmup_s = _warmup_s(requests, sent, end_s - step.start_s, warmup)
        window = StepWindow(step.index, step.users, step.start_s, end_s, warmup_s, step.rate_rps, step.stop)
        step_index[sent] = step.index
        steady |= sent & steady_mask(True, send, end, window.steady_start_s, window.end_s)  # whatever the outcome
        windows.append(window)
    return requests.assign(step_index=step_index, steady=steady), windows


def _warmup_s(requests: pd.DataFrame, sent: np.ndarray, length_s: float, warmup: str | float) -> float:
    if warmup != "auto":
        return float(warmup)
    ok = requests.loc[sent & requests["ok"].to_numpy(dtype=bool), "e2e_s"]
    return auto_warmup_s(length_s, float(ok.median()) if len(ok) else 0.0)


def sent_in(requests: pd.DataFrame, window: StepWindow) -> np.ndarray:
    """Per request: sent in the step."""
    mask: np.ndarray = (requests["step_index"] == window.index).to_numpy(dtype=bool, na_value=False)
    return mask


def steady_ok_in(requests: pd.DataFrame, window: StepWindow) -> np.ndarray:
    """Per request: in the step's latency statistics (a steady success)."""
    mask: np.ndarray = sent_in(requests, window) & requests["steady"].to_numpy() & requests["ok"].to_numpy(dtype=bool)
    return mask


def step_users(requests: pd.DataFrame, windows: list[StepWindow]) -> pd.Series:
    """Per request: the user level of the step it was sent in (<NA> outside every step)."""
    users: pd.Series = requests["step_index"].map({w.index: w.users for w in windows}).astype("Int64")
    return users


def work_in_window(requests: pd.DataFrame, window: StepWindow) -> pd.DataFrame:
    """The successful requests that ran inside the steady window, with `window_share`: the share of each one's
    send-to-end time inside it (what throughput counts)."""
    start, end = window.steady_start_s, window.end_s
    ok, send, ended = requests["ok"], requests["send_s"], requests["end_s"]  # one mask each: no copy of all ok rows
    working = requests[ok & (ended > start) & (send < end)]
    return working.assign(window_share=share_in_window(working["send_s"], working["end_s"], start, end))
