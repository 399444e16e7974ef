"""summary.json, the stable, versioned, machine-readable result of a run (schema llmload.summary/1;
docs/run-directory.md): the one place where the analysis model (analysis.model) becomes JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from typing import Any

from llmload.analysis.figures import figure
from llmload.analysis.model import RunAnalysis

SUMMARY_SCHEMA = "llmload.summary/1"


def summary_json(analysis: RunAnalysis) -> dict[str, Any]:
    """Every key of summary.json but `gate` (the report's verdict, report.gates)."""
    run, knee = analysis.run, analysis.knee
    target = run.meta.get("target") or {}
    return {
        "schema": SUMMARY_SCHEMA,
        "run_id": run.meta.get("run_id"),
        "run_dir": str(run.run_dir),
        "complete": analysis.complete,
        "stopped_reason": analysis.stopped_reason,
        "target": {
            "host": target.get("host"),
            "models": target.get("models"),
            "simulated": bool(target.get("simulated")),
            "time_scale": run.time_scale,
            "profile": (target.get("sim") or {}).get("profile"),
        },
        "model": (run.meta.get("options") or {}).get("model"),
        "requests": to_json(analysis.requests),
        "steps": to_json(analysis.steps),
        "knee": to_json(knee.knee),
        "limit": to_json(knee.limit),
        "knee_signals": to_json(knee.signals),
        "knee_reason": knee.reason,
        "knee_provisional": to_json(knee.provisional),
        "knee_confidence": to_json(knee.confidence),
        "slo": to_json(analysis.slo),
        "usl": to_json(analysis.usl),
        "kv_prediction": to_json(analysis.kv_prediction),
        "time_split": to_json(analysis.time_split),
        "accuracy": to_json(analysis.accuracy),
        "apdex": to_json(analysis.apdex),
        "statistics": to_json(analysis.statistics),
        "errors": to_json(analysis.errors),
        "quality_examples": to_json(analysis.quality_examples),
        **({"target_time": run.meta["target_time"]} if run.meta.get("target_time") else {}),
    } | _when_given(
        expected=analysis.expected,
        saturation_by_name=analysis.saturation_by_name,
        sessions=analysis.sessions,
        trace=analysis.trace,
    )


def _when_given(**blocks: Any) -> dict[str, Any]:
    """The blocks a run has only sometimes (answers scored against `expected`, several request names,
    sessions, a trace), each where it is not None."""
    return {key: to_json(value) for key, value in blocks.items() if value is not None}


def to_json(value: Any) -> Any:
    """JSON values of the model: a dataclass as an object of its fields in order (those marked OMIT_IF_NONE
    left out when None), a mapping with its keys, tuples and lists as arrays, numpy scalars as Python ones, a
    float that is not a number as null (analysis.figures)."""
    if is_dataclass(value) and not isinstance(value, type):
        out = {}
        for field in fields(value):
            item = getattr(value, field.name)
            if item is not None or not field.metadata.get("omit_if_none"):
                out[field.name] = to_json(item)
        return out
    if isinstance(value, Mapping):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()  # a numpy scalar
    return figure(value) if isinstance(value, float) else value
