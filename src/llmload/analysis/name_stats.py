"""Statistics per request name: where a run carries more than one name (the record's `name`, the requests
frame's `label`: a class of traffic, Locust's request name), each step's figures for each name's requests
alone, by the step's own definitions (analysis.step_stats: latency over the steady successes, throughput as
the work in the steady window, failures of the requests that ended by the step's end). A run of one name
gains nothing: its totals are that name's figures.

The run-wide table per name (JMeter's Statistics, over the whole run) is analysis.label_stats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import pandas as pd

from llmload.analysis.frame import RunData
from llmload.analysis.model import NameStats, StepStats
from llmload.analysis.step_stats import distribution, failures, step_requests, throughput
from llmload.analysis.step_windows import StepWindow


def request_names(requests: pd.DataFrame) -> list[str]:
    """The run's request names, in name order (label_stats' order)."""
    return sorted(str(name) for name in requests["label"].unique())


def with_name_stats(run: RunData, steps: Sequence[StepStats]) -> list[StepStats]:
    """The steps with `by_name` where the run has more than one name; else as they are."""
    if len(request_names(run.requests)) < 2:
        return list(steps)
    groups = {str(name): group for name, group in run.requests.groupby("label", sort=True)}
    return [
        replace(step, by_name=step_by_name(groups, window))
        for step, window in zip(steps, run.windows, strict=True)
    ]


def step_by_name(groups: Mapping[str, pd.DataFrame], window: StepWindow) -> dict[str, NameStats]:
    return {name: name_stats(requests, window) for name, requests in groups.items()}


def name_stats(requests: pd.DataFrame, window: StepWindow) -> NameStats:
    """One name's figures in one step (`requests`: that name's rows of the requests frame)."""
    _, _, steady_ok, ended = step_requests(requests, window)
    failed, error_rate = failures(ended)
    rps, tokens_per_s = throughput(requests, window)
    return NameStats(
        requests_ok=int(len(steady_ok)),
        requests_failed=failed,
        error_rate=error_rate,
        rps=rps,
        output_tokens_per_s=tokens_per_s,
        ttft_s=distribution(steady_ok["ttft_s"]),
        e2e_s=distribution(steady_ok["e2e_s"]),
        tpot_s=distribution(steady_ok["tpot_s"]),
    )
