"""Compare two runs (two summary.json): deltas per matching step and of the knee; regressions.

Steps match on their user level (closed loop) or offered rate (open loop). Compared per step: rps and
output tokens/s (higher is better), p95 TTFT and p95 E2E (lower is better). A change is a *regression*
when it is worse than the baseline by more than `max_regression` (a fraction: 0.10 = 10%) AND, for the
latency percentiles whose 95% bootstrap intervals are in both summaries, those intervals do not overlap
(a difference inside the noise is not a regression). Steps excluded from the knee (generator saturated)
in either run are shown but never gate. Of the knee and the limit: users and throughput (higher is better).
"""

from __future__ import annotations

from typing import Any

from llmload.errors import UsageError

COMPARE_SCHEMA = "llmload.compare/1"
DEFAULT_MAX_REGRESSION = 0.10

# name -> (label, path into a step, higher is better, path of its bootstrap interval or None)
STEP_METRICS: dict[str, tuple[str, tuple[str, ...], bool, tuple[str, ...] | None]] = {
    "rps": ("TPS (req/s)", ("rps",), True, None),
    "output_tokens_per_s": ("output tokens/s", ("output_tokens_per_s",), True, None),
    "ttft_p95_s": ("p95 TTFT (s)", ("ttft_s", "p95"), False, ("ttft_s", "ci95", "p95")),
    "e2e_p95_s": ("p95 E2E (s)", ("e2e_s", "p95"), False, ("e2e_s", "ci95", "p95")),
}
POINT_METRICS = {
    "users": ("users", True),
    "rps": ("TPS (req/s)", True),
    "output_tokens_per_s": ("output tokens/s", True),
}


def parse_max_regression(text: str | float, where: str = "--max-regression") -> float:
    """'10%' or 0.1 -> 0.1. A bare number of 1 or more is refused (did you mean a percentage?)."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise UsageError(
            f"{where}: {text!r} is not a percentage such as 10% or a fraction such as 0.1"
        ) from None
    if not raw.endswith("%") and value >= 1:
        raise UsageError(f"{where}: {text!r} is a fraction of 1 or more; write a percentage such as {raw}%")
    if value < 0:
        raise UsageError(f"{where}: {text!r} must not be negative")
    return value


def _get(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def step_key(step: dict[str, Any]) -> tuple[str, float]:
    rate = step.get("offered_rps")
    return ("rate", float(rate)) if rate is not None else ("users", float(step["users"]))


def delta(
    base: Any, new: Any, higher_better: bool, max_regression: float, new_measures_it: bool = True
) -> dict[str, Any]:
    """One side-by-side cell: base, new, absolute and relative change, and whether it regressed. A figure
    the new run gives nowhere (a JMeter import has no TTFT or tokens) is missing, not lost: not worse."""
    if not isinstance(base, int | float) or not isinstance(new, int | float):
        lost = isinstance(base, int | float) and new is None and new_measures_it  # measured before, not now
        return {
            "base": base,
            "new": new,
            "delta": None,
            "change": None,
            "worse": lost or None,
            "regressed": lost,
            **({"missing": "new" if new is None else "base"} if not lost and (base is None) != (new is None) else {}),
        }
    change = (new - base) / base if base else None
    worse = new < base if higher_better else new > base
    beyond = change is not None and abs(change) > max_regression
    return {
        "base": base,
        "new": new,
        "delta": new - base,
        "change": change,
        "worse": worse,
        "regressed": worse and beyond,
    }


def _overlap(a: Any, b: Any) -> bool:
    if not (isinstance(a, list) and isinstance(b, list) and len(a) == 2 and len(b) == 2):
        return False
    return bool(a[0] <= b[1] and b[0] <= a[1])


def compare_steps(base: dict[str, Any], new: dict[str, Any], max_regression: float) -> dict[str, Any]:
    base_steps = {step_key(s): s for s in base.get("steps") or []}
    new_steps = {step_key(s): s for s in new.get("steps") or []}
    measured = {name: any(_get(s, m[1]) is not None for s in new_steps.values()) for name, m in STEP_METRICS.items()}
    rows = []
    for key in sorted(base_steps.keys() & new_steps.keys()):
        b, n = base_steps[key], new_steps[key]
        gating = not (b.get("excluded") or n.get("excluded"))
        metrics = {}
        for name, (label, path, higher, ci_path) in STEP_METRICS.items():
            cell = delta(_get(b, path), _get(n, path), higher, max_regression, measured[name])
            if ci_path and cell["regressed"] and _overlap(_get(b, ci_path), _get(n, ci_path)):
                cell["regressed"], cell["within_noise"] = False, True
            cell["regressed"] = bool(cell["regressed"] and gating)
            metrics[name] = {"label": label, **cell}
        rows.append({"key": key[0], "level": _level(key), "gating": gating, "metrics": metrics})
    return {
        "steps": rows,
        "base_only": [_level(k) for k in sorted(base_steps.keys() - new_steps.keys())],
        "new_only": [_level(k) for k in sorted(new_steps.keys() - base_steps.keys())],
    }


def _level(key: tuple[str, float]) -> float | int:
    return int(key[1]) if key[0] == "users" else key[1]


def compare_points(base: dict[str, Any], new: dict[str, Any], max_regression: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for point in ("knee", "limit"):
        b, n = base.get(point) or {}, new.get(point) or {}
        out[point] = {
            name: {"label": label, **delta(b.get(name), n.get(name), higher, max_regression)}
            for name, (label, higher) in POINT_METRICS.items()
        }
    return out


def compare_summaries(
    base: dict[str, Any], new: dict[str, Any], max_regression: float = DEFAULT_MAX_REGRESSION
) -> dict[str, Any]:
    steps = compare_steps(base, new, max_regression)
    points = compare_points(base, new, max_regression)
    result = {
        "schema": COMPARE_SCHEMA,
        "max_regression": max_regression,
        "base": _identity(base),
        "new": _identity(new),
        **steps,
        **points,
    }
    result["regressions"] = regressions(result)
    result["regressed"] = bool(result["regressions"])
    return result


def _identity(summary: dict[str, Any]) -> dict[str, Any]:
    target = summary.get("target") or {}
    return {
        "run_id": summary.get("run_id"),
        "run_dir": summary.get("run_dir"),
        "model": summary.get("model"),
        "host": target.get("host"),
        "simulated": target.get("simulated"),
    }


def regressions(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Flat list of what regressed: where, metric, base, new, relative change."""
    out = []
    for row in result["steps"]:
        where = f"{row['key']} {row['level']}"
        for name, cell in row["metrics"].items():
            if cell["regressed"]:
                out.append(_failure(where, name, cell))
    for point in ("knee", "limit"):
        for name, cell in result[point].items():
            if cell["regressed"]:
                out.append(_failure(point, name, cell))
    return out


def _failure(where: str, name: str, cell: dict[str, Any]) -> dict[str, Any]:
    return {
        "where": where,
        "metric": name,
        "label": cell["label"],
        "base": cell["base"],
        "new": cell["new"],
        "change": cell["change"],
    }
