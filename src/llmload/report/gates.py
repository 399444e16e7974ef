"""The CI verdict of a run: do the SLO clauses hold, and did anything regress against a baseline?

SLO gate: each clause of --slo is judged at the run's operating point, the optimal concurrency (the knee);
when no knee was determined, at the highest user level measured. (Per-step pass/fail and the largest
passing level are in summary["slo"]; this picks the one verdict CI needs.)
Baseline gate: llmload.analysis.compare against the baseline summary.json with --max-regression.
Exit code of `run`/`report`: 1 when either gate fails, else 0 (README "Nightly runs and CI gates").
"""

from __future__ import annotations

from typing import Any

from llmload.analysis.compare import compare_summaries
from llmload.analysis.slo import FRACTION, LATENCY
from llmload.report.gate_options import ReportOptions
from llmload.rundir import read_summary


def format_value(metric: str, value: float | None) -> str:
    if value is None:
        return "no data"
    if metric in LATENCY:
        return f"{value * 1000:.1f} ms" if abs(value) < 1 else f"{value:.3f} s"
    if metric in FRACTION:
        return f"{value * 100:.2f}%"
    return f"{value:.4g}/s"


def _operating_step(
    summary: dict[str, Any], per_step: list[dict[str, Any]]
) -> tuple[dict[str, Any], str] | None:
    pairs = list(zip(summary.get("steps") or [], per_step, strict=False))
    if not pairs:
        return None
    knee = summary.get("knee")
    if knee:
        users, at = knee["users"], "optimal concurrency (knee)"
    else:
        users, at = max(p[1]["users"] for p in pairs), "highest level measured (no knee determined)"
    chosen = [p for p in pairs if p[1]["users"] == users]
    if not chosen:
        return None
    return max(chosen, key=lambda p: p[0].get("requests_ok") or 0)[1], at


def slo_gate(summary: dict[str, Any]) -> dict[str, Any] | None:
    slo = summary.get("slo")
    if not slo:
        return None
    defs = {c["clause"]: c for c in slo.get("clauses") or []}
    found = _operating_step(summary, slo.get("per_step") or [])
    if found is None:
        clauses = [{**c, "value": None, "passed": False, "measured": "no data"} for c in defs.values()]
        return {
            "users": None,
            "at": "no step measured",
            "passed": False,
            "spec": slo.get("spec"),
            "clauses": clauses,
        }
    row, at = found
    clauses = []
    for result in row["clauses"]:
        clause = {**defs.get(result["clause"], {}), **result}
        clause["measured"] = format_value(str(clause.get("metric", "")), result["value"])
        clause["bound"] = format_value(str(clause.get("metric", "")), clause.get("threshold"))
        clauses.append(clause)
    return {
        "users": row["users"],
        "at": at,
        "passed": bool(row["passed"]),
        "spec": slo.get("spec"),
        "clauses": clauses,
    }


def baseline_gate(summary: dict[str, Any], options: ReportOptions) -> dict[str, Any] | None:
    if options.baseline is None:
        return None
    result = compare_summaries(read_summary(options.baseline, "--baseline"), summary, options.tolerance)
    result["baseline_path"] = str(options.baseline)
    return result


def evaluate_gate(summary: dict[str, Any], options: ReportOptions) -> dict[str, Any]:
    """The summary's "gate" block."""
    slo, baseline = slo_gate(summary), baseline_gate(summary, options)
    passed = (slo is None or slo["passed"]) and (baseline is None or not baseline["regressed"])
    return {"passed": passed, "slo": slo, "baseline": baseline}


def failure_lines(gate: dict[str, Any]) -> list[str]:
    """A short table of what failed (empty when everything held)."""
    lines: list[str] = []
    slo = gate.get("slo")
    if slo and not slo["passed"]:
        lines.append(f"SLO failed at {slo['users']} users ({slo['at']}):")
        lines.append(f"  {'clause':28}{'measured':>16}{'bound':>16}")
        for c in slo["clauses"]:
            if not c["passed"]:
                lines.append(f"  {c['clause']:28}{c['measured']:>16}{c.get('bound', ''):>16}")
    base = gate.get("baseline")
    if base and base["regressed"]:
        lines.append(
            f"Regression against {base.get('baseline_path')} (tolerance {base['max_regression']:.0%}):"
        )
        lines.extend(regression_table(base["regressions"]))
    return lines


def regression_table(rows: list[dict[str, Any]]) -> list[str]:
    out = [f"  {'where':14}{'metric':18}{'baseline':>12}{'new':>12}{'change':>10}"]
    for r in rows:
        change = "–" if r["change"] is None else f"{r['change']:+.1%}"
        out.append(
            f"  {r['where']:14}{r['label']:18}{_short(r['base']):>12}{_short(r['new']):>12}{change:>10}"
        )
    return out


def _short(value: Any) -> str:
    return "–" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)
