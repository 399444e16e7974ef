"""Where the time goes: each step's TTFT and E2E split into the server's queue, prefill and decode time (its
own per-request histograms, docs/time-split.md) and the rest.

Per step, over the steady window (analysis.histogram_window: the requests vLLM observed between the two
scrapes that bound it, `span_s`):
  queue_s, prefill_s, decode_s   mean (and p50/p95 where the buckets allow) of vLLM's phases: queue = first
                                 scheduled - arrival at the engine, prefill = first token - first scheduled,
                                 decode = last token - first token (vllm/v1/metrics/stats.py)
  inference_s, server_ttft_s, server_e2e_s   the same for the server's RUNNING time, TTFT and E2E, when published
  client_ttft_mean_s, client_e2e_mean_s      the client's means over its successful requests that ended in that
                                 same span: as near as two clocks allow, the requests the histograms counted
  ttft_remainder_s = client TTFT - queue - prefill: network, the HTTP front end (parsing, tokenising,
                                 detokenising) and the client; negative when the clocks or the two sets of
                                 requests disagree, and shown so
  e2e_remainder_s  = client E2E - queue - prefill - decode
  queue_share_of_ttft = queue / client TTFT
Nothing is estimated where the server publishes no phase histograms: the step's split is None and the run's
`time_split` says why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from llmload.analysis.histogram_window import (
    HistogramScrapes,
    histogram_delta,
    histogram_scrapes,
    phase_figures,
)
from llmload.analysis.step_windows import StepWindow

# what the split reads, and the names that carry it (newest vLLM name first)
PHASE_FAMILIES = {
    "queue_s": ("vllm:request_queue_time_seconds", "vllm:time_in_queue_requests"),
    "prefill_s": ("vllm:request_prefill_time_seconds",),
    "decode_s": ("vllm:request_decode_time_seconds",),
    "inference_s": ("vllm:request_inference_time_seconds",),
    "server_ttft_s": ("vllm:time_to_first_token_seconds",),
    "server_e2e_s": ("vllm:e2e_request_latency_seconds",),
}
REQUIRED = ("queue_s", "prefill_s", "decode_s")
QUEUE_SHARE_BOUND = 0.5  # of TTFT: from here on requests mostly wait for a slot


def phase_histograms(server: pd.DataFrame, value_scale: float) -> dict[str, HistogramScrapes]:
    """Each phase's histogram as scraped (the first of its names present); empty without the required three."""
    if not len(server):
        return {}
    found: dict[str, HistogramScrapes] = {}
    for phase, names in PHASE_FAMILIES.items():
        for name in names:
            scrapes = histogram_scrapes(server, name, value_scale)
            if scrapes is not None:
                found[phase] = scrapes
                break
    return found if all(phase in found for phase in REQUIRED) else {}


def step_time_splits(
    server: pd.DataFrame, requests: pd.DataFrame, windows: Sequence[StepWindow], value_scale: float
) -> list[dict[str, Any] | None]:
    """Per step: its split over the steady window (module doc), or None where the server published none."""
    phases = phase_histograms(server, value_scale)
    return [step_time_split(phases, requests, w.steady_start_s, w.end_s) if phases else None for w in windows]


def step_time_split(
    phases: Mapping[str, HistogramScrapes], requests: pd.DataFrame, start_s: float, end_s: float
) -> dict[str, Any] | None:
    """One window's split; None when no request finished on the server between its scrapes."""
    deltas = {phase: histogram_delta(scrapes, start_s, end_s) for phase, scrapes in phases.items()}
    queue = deltas["queue_s"]
    if queue is None or queue.count <= 0:
        return None
    figures = {phase: phase_figures(d) if d is not None and d.count > 0 else None for phase, d in deltas.items()}
    mean = {phase: (figures[phase] or {}).get("mean") for phase in REQUIRED}
    lo, hi = queue.span_s
    ended = requests[requests["ok"] & (requests["end_s"] > lo) & (requests["end_s"] <= hi)]
    ttft, e2e = _mean(ended["ttft_s"]), _mean(ended["e2e_s"])
    return {
        "span_s": [lo, hi],
        "server_requests": int(queue.count),
        "client_requests": int(len(ended)),
        **{phase: figures.get(phase) for phase in PHASE_FAMILIES},
        "client_ttft_mean_s": ttft,
        "client_e2e_mean_s": e2e,
        "ttft_remainder_s": _less(ttft, mean["queue_s"], mean["prefill_s"]),
        "e2e_remainder_s": _less(e2e, mean["queue_s"], mean["prefill_s"], mean["decode_s"]),
        "queue_share_of_ttft": mean["queue_s"] / ttft if ttft and mean["queue_s"] is not None else None,
    }


def _mean(values: pd.Series) -> float | None:
    kept = values.dropna()
    return float(kept.mean()) if len(kept) else None


def _less(total: float | None, *parts: float | None) -> float | None:
    if total is None or any(part is None for part in parts):
        return None
    return total - sum(part for part in parts if part is not None)


def time_split_summary(
    server: pd.DataFrame, levels: Sequence[tuple[int, Mapping[str, Any] | None, Mapping[str, Any] | None]],
    meta: Mapping[str, Any],
) -> dict[str, Any]:
    """The run's `time_split`: whether the split exists (and why not), the metric names it read, and from
    which level on the queue holds more than half of TTFT, said as a sentence for the knee's "why here".
    `levels`: per step (users, its split, its server evidence)."""
    names = set(server["name"]) if len(server) else set()
    metrics = {
        phase: next((n for n in family if n + "_count" in names), None) for phase, family in PHASE_FAMILIES.items()
    }
    split = sorted(
        ((users, s, srv) for users, s, srv in levels if s and s.get("queue_share_of_ttft") is not None),
        key=lambda level: level[0],
    )
    from_users, why = _queue_dominates(split, configured_max_num_seqs(meta)) if split else (None, None)
    return {
        "available": bool(split),
        "absent_reason": None if split else _absent_reason(names, metrics),
        "metrics": {phase: name for phase, name in metrics.items() if name},
        "queue_over_half_from_users": from_users,
        "why_here": why,
    }


def _absent_reason(names: set[str], metrics: Mapping[str, str | None]) -> str:
    if not names:
        return "no server metrics were sampled (the target had no /metrics, or telemetry was off)"
    missing = [PHASE_FAMILIES[phase][0] for phase in REQUIRED if metrics[phase] is None]
    if missing:
        return (
            f"the sampled /metrics hold no {', '.join(missing)} (not vLLM, a vLLM without them, or a run sampled"
            " before llmload kept them)"
        )
    return "no step's steady window held two scrapes with requests finished between them"


def _queue_dominates(
    split: list[tuple[int, Mapping[str, Any], Mapping[str, Any] | None]], max_num_seqs: int | None
) -> tuple[int | None, str | None]:
    """The first level from which the queue is over half of TTFT at every level above, and its sentence."""
    first = None
    for i in range(len(split) - 1, -1, -1):
        if split[i][1]["queue_share_of_ttft"] <= QUEUE_SHARE_BOUND:
            break
        first = i
    if first is None:
        return None, None
    users, at = split[first][0], split[first][1]
    running = [float(srv["running_max"]) for _, _, srv in split[first:] if srv and srv.get("running_max") is not None]
    cause = _admission(max(running) if running else None, max_num_seqs)
    above = "from there on" if first == len(split) - 1 else "at every level above"
    return users, (
        f"from {users} users on, requests wait for a slot: {cause}; the server's queue is "
        f"{at['queue_share_of_ttft']:.0%} of TTFT at {users} users and more than half {above}"
    )


def _admission(running_max: float | None, max_num_seqs: int | None) -> str:
    """What capped the running batch, as far as the server's own numbers show."""
    if running_max is None:
        return "the server admits no more at once"
    if max_num_seqs is not None and running_max >= max_num_seqs:
        return f"max-num-seqs {max_num_seqs} (the server ran {running_max:g} at once)"
    below = f", below its max-num-seqs {max_num_seqs}: KV cache or token budget" if max_num_seqs else ""
    return f"the server ran at most {running_max:g} at once{below}"


def configured_max_num_seqs(meta: Mapping[str, Any]) -> int | None:
    """max-num-seqs where the run knows it: the simulator's profile, or a live `llmload serve`'s argv."""
    target = meta.get("target") or {}
    sim = target.get("sim") or {}
    if sim.get("max_num_seqs") is not None:
        return int(sim["max_num_seqs"])
    argv = [str(arg) for arg in (target.get("serve") or {}).get("argv") or []]
    for i, arg in enumerate(argv):
        if arg == "--max-num-seqs" and i + 1 < len(argv) and argv[i + 1].isdigit():
            return int(argv[i + 1])
        if arg.startswith("--max-num-seqs="):
            value = arg.split("=", 1)[1]
            return int(value) if value.isdigit() else None
    return None
