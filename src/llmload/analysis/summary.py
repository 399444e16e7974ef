"""summary.json: the stable, versioned, machine-readable result of a run (schema llmload.summary/1)."""

from __future__ import annotations

import math
from typing import Any

from llmload.analysis.apdex import apdex, apdex_per_step, rating
from llmload.analysis.error_tables import errors_table, top_errors_per_step
from llmload.analysis.frame import RunData
from llmload.analysis.kv_prediction import knee_analysis
from llmload.analysis.quality_examples import run_quality_examples
from llmload.analysis.step_stats import accuracy, plates_scored, step_rows

SUMMARY_SCHEMA = "llmload.summary/1"


def build_summary(run: RunData) -> dict[str, Any]:
    steps = step_rows(run)
    _attach_server_evidence(run, steps)
    knee, knee_extra = knee_analysis(run, steps)
    req = run.requests
    target = run.meta.get("target") or {}
    summary: dict[str, Any] = {
        "schema": SUMMARY_SCHEMA,
        "run_id": run.meta.get("run_id"),
        "run_dir": str(run.run_dir),
        # partial: the generator was killed (no ended_s) or stopped early (target lost, interrupted)
        "complete": "ended_s" in run.meta and not run.meta.get("stopped_reason"),
        "stopped_reason": _stopped_reason(run.meta),
        "target": {
            "host": target.get("host"),
            "models": target.get("models"),
            "simulated": bool(target.get("simulated")),
            "time_scale": run.time_scale,
            "profile": (target.get("sim") or {}).get("profile"),
        },
        "model": (run.meta.get("options") or {}).get("model"),
        "requests": {"total": int(len(req)), "ok": int(req["ok"].sum()), "failed": int((~req["ok"]).sum())},
        "steps": [_clean(s) for s in steps],
        "knee": _clean(knee.get("knee")),
        "limit": _clean(knee.get("limit")),
        "knee_signals": _clean(knee.get("signals")),
        "knee_reason": knee.get("reason"),
        "knee_provisional": _clean(knee.get("provisional")),
        "knee_confidence": _clean(knee.get("confidence")),
        **_clean(knee_extra),
        "accuracy": accuracy(req[req["ok"]], plates_scored(req)),
    }
    return summary


def _attach_server_evidence(run: RunData, steps: list[dict[str, Any]]) -> None:
    """Each step gets `server` (vLLM /metrics over its steady window) and `gpu` (NVML), None/[] without."""
    from llmload.analysis.server_evidence import gpu_step_evidence, server_step_evidence

    for step, server, gpu in zip(
        steps, server_step_evidence(run.server, steps), gpu_step_evidence(run.gpu, steps), strict=True
    ):
        step["server"] = server
        step["gpu"] = gpu


def _stopped_reason(meta: dict[str, Any]) -> str | None:
    reason = meta.get("stopped_reason")
    if reason:
        return str(reason)
    return None if "ended_s" in meta else "the load generator ended without closing the run (killed?)"


def _clean(value: Any) -> Any:
    """JSON-safe: NaN -> None, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def report_extras(run: RunData, summary: dict[str, Any], limits: dict[str, Any]) -> dict[str, Any]:
    """The summary keys `apdex` and `errors`."""
    per_step = apdex_per_step(run.requests, run.windows, limits)
    overall = apdex(run.requests["e2e_s"], run.requests["ok"], limits["t_s"], limits["f_s"])
    return {
        "apdex": {**limits, "overall": {**overall, "rating": rating(overall["score"])}, "per_step": per_step},
        "errors": {
            "by_type": errors_table(run.requests),
            "top_per_step": top_errors_per_step(run.requests, run.windows),
        },
        "quality_examples": run_quality_examples(run),
    }
