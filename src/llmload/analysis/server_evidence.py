"""Server-side evidence per step, from the telemetry files a run holds.

``server_metrics.jsonl`` (vLLM /metrics samples) and ``gpu.jsonl`` (NVML samples) are loaded onto the
run's time axis (relative to t0, in the target's time base like every other timestamp) and reduced over
each step's steady window [start + warm-up, end):
  gauges   running/waiting requests summed over engines per scrape, then mean/max over the window;
           KV-cache usage (fraction 0..1) max over engines and the window
  counters delta = last value in the window - last value at or before the window start (first value in
           the window when there is none), summed over label sets: preemptions, tokens, prefix cache
  TTFT/E2E the server's own mean over the window: delta(_sum) / delta(_count) of its histograms
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llmload.analysis.step_windows import StepWindow
from llmload.records import iter_record_dicts

SERVER_COLUMNS = ["t_s", "name", "labels", "value"]
RUNNING = "vllm:num_requests_running"
WAITING = "vllm:num_requests_waiting"
KV_USAGE = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")
COUNTERS = {
    "preemptions": "vllm:num_preemptions",
    "prompt_tokens": "vllm:prompt_tokens",
    "generation_tokens": "vllm:generation_tokens",
    "prefix_cache_hits": "vllm:prefix_cache_hits",
    "prefix_cache_queries": "vllm:prefix_cache_queries",
}
HISTOGRAMS = {"ttft_mean_s": "vllm:time_to_first_token_seconds", "e2e_mean_s": "vllm:e2e_request_latency_seconds"}


def _rel(value: Any, t0_s: float, scale: float) -> float:
    return (float(value) - t0_s) * scale


def load_server_metrics(path: Path, t0_s: float, scale: float) -> pd.DataFrame:
    """server_metrics.jsonl -> frame (t_s relative to t0 in the target time base, name, labels as JSON)."""
    rows = []
    if Path(path).exists():
        for d in iter_record_dicts(Path(path)):
            labels = json.dumps(d.get("labels") or {}, sort_keys=True)
            rows.append((_rel(d["t_s"], t0_s, scale), str(d["name"]), labels, float(d["value"])))
    frame = pd.DataFrame.from_records(rows, columns=SERVER_COLUMNS)
    return frame.sort_values("t_s", kind="stable").reset_index(drop=True)


def load_gpu_samples(path: Path, t0_s: float, scale: float) -> pd.DataFrame:
    """gpu.jsonl -> frame with t_s relative to t0 (target time base); other columns as sampled."""
    rows = [dict(d) for d in iter_record_dicts(Path(path))] if Path(path).exists() else []
    frame = pd.DataFrame.from_records(rows)
    if len(frame):
        frame["t_s"] = (frame["t_s"].astype(float) - t0_s) * scale
    return frame


def _names(name: str) -> tuple[str, ...]:
    return (name, name + "_total")


def _gauge_per_scrape(frame: pd.DataFrame, names: tuple[str, ...], how: str) -> pd.Series:
    rows = frame[frame["name"].isin(names)]
    return rows.groupby("t_s")["value"].agg(how)


def counter_delta(frame: pd.DataFrame, names: tuple[str, ...], start_s: float, end_s: float) -> float | None:
    """Increase of a counter over [start_s, end_s), summed over its label sets; None when never sampled."""
    rows = frame[frame["name"].isin(names) & (frame["t_s"] < end_s)]
    if not len(rows):
        return None
    total, seen = 0.0, False
    for _, series in rows.groupby("labels"):
        before = series[series["t_s"] <= start_s]
        inside = series[series["t_s"] > start_s]
        if not len(inside):
            continue
        base = before["value"].iloc[-1] if len(before) else inside["value"].iloc[0]
        total += float(inside["value"].iloc[-1] - base)
        seen = True
    return total if seen else None


def _histogram_mean(frame: pd.DataFrame, family: str, start_s: float, end_s: float, scale: float) -> float | None:
    """The mean observation of a seconds histogram over the window, in the target's time base (a simulator
    publishes wall seconds: x its time scale)."""
    total = counter_delta(frame, (family + "_sum",), start_s, end_s)
    count = counter_delta(frame, (family + "_count",), start_s, end_s)
    return total / count * scale if total is not None and count else None


def _stat(series: pd.Series, how: str) -> float | None:
    return float(series.agg(how)) if len(series) else None


def server_window(frame: pd.DataFrame, start_s: float, end_s: float, scale: float = 1.0) -> dict[str, Any]:
    """Server evidence over one window: queue, batch, KV cache, counter deltas, server-side latency."""
    inside = frame[(frame["t_s"] >= start_s) & (frame["t_s"] < end_s)]
    waiting = _gauge_per_scrape(inside, (WAITING,), "sum")
    running = _gauge_per_scrape(inside, (RUNNING,), "sum")
    kv = _gauge_per_scrape(inside, KV_USAGE, "max")
    out: dict[str, Any] = {
        "scrapes": int(inside["t_s"].nunique()),
        "waiting_mean": _stat(waiting, "mean"),
        "waiting_max": _stat(waiting, "max"),
        "running_mean": _stat(running, "mean"),
        "running_max": _stat(running, "max"),
        "kv_usage_max": _stat(kv, "max"),
        "kv_usage_mean": _stat(kv, "mean"),
    }
    for key, name in COUNTERS.items():
        out[key] = counter_delta(frame, _names(name), start_s, end_s)
    hits, queries = out["prefix_cache_hits"], out["prefix_cache_queries"]
    out["prefix_cache_hit_rate"] = hits / queries if hits is not None and queries else None
    length = end_s - start_s
    gen = out["generation_tokens"]
    out["generation_tokens_per_s"] = gen / length if gen is not None and length > 0 else None
    for key, family in HISTOGRAMS.items():
        out[key] = _histogram_mean(frame, family, start_s, end_s, scale)
    return out


def server_step_evidence(
    frame: pd.DataFrame, windows: list[StepWindow], scale: float = 1.0
) -> list[dict[str, Any] | None]:
    """Per step: its server evidence over the steady window, or None without samples."""
    if not len(frame):
        return [None for _ in windows]
    out: list[dict[str, Any] | None] = []
    for window in windows:
        evidence = server_window(frame, window.steady_start_s, window.end_s, scale)
        out.append({"users": window.users, **evidence} if evidence["scrapes"] else None)
    return out


def gpu_window(frame: pd.DataFrame, start_s: float, end_s: float) -> list[dict[str, Any]]:
    """Per GPU over one window: mean utilisation and power, max memory used and temperature, mean SM clock."""
    if not len(frame):
        return []
    inside = frame[(frame["t_s"] >= start_s) & (frame["t_s"] < end_s)]
    out = []
    for key, rows in inside.groupby(["host", "gpu"]):
        host, gpu = key if isinstance(key, tuple) else ("", key)
        out.append(
            {
                "host": str(host),
                "gpu": int(str(gpu)),
                "samples": int(len(rows)),
                "util_mean_percent": _num(rows, "util_percent", "mean"),
                "mem_used_max_bytes": _num(rows, "mem_used_bytes", "max"),
                "power_mean_w": _num(rows, "power_w", "mean"),
                "temp_max_c": _num(rows, "temp_c", "max"),
                "sm_clock_mean_mhz": _num(rows, "sm_clock_mhz", "mean"),
            }
        )
    return out


def _num(rows: pd.DataFrame, column: str, how: str) -> float | None:
    if column not in rows:
        return None
    values = pd.to_numeric(rows[column], errors="coerce").dropna()
    value = float(values.agg(how)) if len(values) else math.nan
    return None if np.isnan(value) else value


def gpu_step_evidence(frame: pd.DataFrame, windows: list[StepWindow]) -> list[list[dict[str, Any]]]:
    return [gpu_window(frame, window.steady_start_s, window.end_s) for window in windows]
