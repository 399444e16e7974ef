"""Service-level objectives: parse `--slo`, judge each step, find the largest user level that meets it.

Grammar: comma-separated clauses `[NAME:]METRIC[_STAT] OP NUMBER[UNIT]`
  NAME: a request name (the record's `name`: `rag:ttft_p95<2s`) judges that name's requests alone, on the
      step's `by_name` figures (analysis.name_stats); everything before the clause's last ':' is the name,
      case kept; a named clause takes the metrics measured per name: NAMED_METRICS
  latency metrics (need a STAT: pNN or pNN.N for any percentile, mean, min, max; unit s (default) or ms):
      ttft, ttfa, e2e, tpot, itl, queue            e.g. ttft_p95<=2s, tpot_p99<=80ms, e2e_mean<60
  error_rate (fraction; unit % allowed)            e.g. error_rate<=1%
  throughput (no unit): rps (alias tps), output_tokens_per_s, output_tokens_per_s_per_user
  answer quality (fraction, % allowed): precision, recall, f1
  OP: <=, <, >=, >
Per step every clause passes or fails (no data = fail: a name with no request in the run is listed in the
block's `unknown_names`). A step passes when all clauses pass.
max_users_passing = the largest level such that it and every lower level pass (None if the lowest fails).
Goodput = requests/s of successful requests that meet every per-request clause (a latency clause with
< or <=, checked against the request's own value, a named one against that name's requests only; itl is per
chunk and only judged per step).
Pure: per-request figures (goodput, percentiles the step table lacks) come in from analysis.goodput.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from llmload.analysis.figures import figure
from llmload.errors import UsageError

LATENCY = ("ttft", "ttfa", "e2e", "tpot", "itl", "queue")
THROUGHPUT = {"rps": "rps", "tps": "rps", "output_tokens_per_s": "output_tokens_per_s",
              "output_tokens_per_s_per_user": "output_tokens_per_s_per_user"}
FRACTION = ("error_rate", "precision", "recall", "f1")
ACCURACY = ("precision", "recall", "f1")  # of the step's plate detection
PER_REQUEST = ("ttft", "ttfa", "e2e", "tpot", "queue")
NAMED_METRICS = ("ttft", "e2e", "tpot", "error_rate", "rps", "output_tokens_per_s")  # a step's by_name figures
ROW_STATS = ("p50", "p90", "p95", "p99", "mean", "min", "max")
OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}
_CLAUSE = re.compile(
    r"^(?P<metric>[a-z][a-z0-9_]*?)(?:_(?P<stat>p\d{1,2}(?:\.\d+)?|p100|mean|min|max))?\s*"
    r"(?P<op><=|>=|<|>)\s*(?P<num>\d+(?:\.\d+)?|\.\d+)\s*(?P<unit>ms|s|%)?$"
)


@dataclass(frozen=True)
class SloClause:
    clause: str
    metric: str  # ttft, error_rate, rps, ...
    stat: str | None  # p95, mean, ... (latency only)
    op: str
    threshold: float  # seconds, fraction, or per-second figure
    name: str | None = None  # the request name it judges; None: all requests

    @property
    def per_request(self) -> bool:
        return self.metric in PER_REQUEST and self.op in ("<=", "<")

    def holds(self, value: float) -> bool:
        return OPS[self.op](value, self.threshold)

    @property
    def figure(self) -> str:
        """The name of the step figure it judges (SloLevel.figures)."""
        return f"{self.metric}_{self.stat}" if self.stat else self.metric


Figures = Mapping[str, float | None]


@dataclass(frozen=True)
class SloLevel:
    """A step as the SLO reads it: its figures by name (`e2e_p95`, `error_rate`, `rps`, `f1`, ...: a latency
    metric with each of ROW_STATS, the fractions, the throughputs), None when not measured; `by_name`: the
    same per request name (of a run of one name: that name with the step's figures)."""

    users: int
    figures: Figures
    by_name: Mapping[str, Figures] = field(default_factory=dict)


def level_of_summary_step(step: Mapping[str, Any], sole_name: str | None = None) -> SloLevel:
    """A summary.json step (`llmload plan` judges a summary against its own --slo); `sole_name`: the run's
    one request name, where it has one (summary_levels)."""
    figures = _summary_figures(step)
    by_name = {str(name): _summary_figures(stats) for name, stats in (step.get("by_name") or {}).items()}
    return SloLevel(int(step["users"]), figures, by_name or ({sole_name: figures} if sole_name else {}))


def summary_levels(summary: Mapping[str, Any]) -> list[SloLevel]:
    """Every step of a summary.json, with its request names (a run of one name: from its statistics)."""
    labels = [row.get("label") for row in (summary.get("statistics") or {}).get("per_label") or []]
    sole_name = str(labels[0]) if len(labels) == 1 else None
    return [level_of_summary_step(step, sole_name) for step in summary.get("steps") or []]


def _summary_figures(step: Mapping[str, Any]) -> dict[str, float | None]:
    figures = {f"{m}_{s}": (step.get(f"{m}_s") or {}).get(s) for m in LATENCY for s in ROW_STATS}
    figures.update({m: (step.get("accuracy") or {}).get(m) for m in ACCURACY})
    figures.update({m: step.get(m) for m in ("error_rate", *THROUGHPUT.values())})
    return figures


def _bad(text: str, why: str, source: str) -> UsageError:
    return UsageError(f"{source}: clause '{text}': {why}")


def parse_clause(text: str, source: str = "--slo") -> SloClause:
    name, colon, body = text.strip().rpartition(":")
    clause = _parse_body(text, body, source)
    if not colon:
        return clause
    if not name.strip():
        raise _bad(text, "no request name before ':' (NAME:METRIC..., e.g. rag:ttft_p95<=2s)", source)
    if clause.metric not in NAMED_METRICS:
        raise _bad(text, f"{clause.metric} is not measured per name (per name: {', '.join(NAMED_METRICS)})", source)
    return replace(clause, name=name.strip())


def _parse_body(text: str, body: str, source: str) -> SloClause:
    """The clause after its name: METRIC[_STAT] OP NUMBER[UNIT] (`text`: the whole clause, for errors)."""
    m = _CLAUSE.match(body.strip().lower())
    if not m:
        hint = "expected METRIC[_STAT] OP NUMBER[UNIT], e.g. ttft_p95<=2s"
        raise _bad(text, hint, source)
    metric, stat, op, unit = m["metric"], m["stat"], m["op"], m["unit"]
    value = float(m["num"])
    metric = THROUGHPUT.get(metric, metric)
    if metric in LATENCY:
        if stat is None:
            raise _bad(text, f"{metric} needs a statistic: {metric}_p95, {metric}_mean, {metric}_max", source)
        if stat.startswith("p") and not 0 < float(stat[1:]) <= 100:
            raise _bad(text, "percentile must be in (0, 100]", source)
        if unit == "%":
            raise _bad(text, f"{metric} is a time: use s or ms", source)
        value = value / 1000 if unit == "ms" else value
    elif metric in FRACTION or metric in THROUGHPUT.values():
        if stat is not None:
            raise _bad(text, f"{metric} takes no statistic (_{stat})", source)
        if metric in FRACTION:
            if unit in ("s", "ms"):
                raise _bad(text, f"{metric} is a fraction: use % or a number <= 1", source)
            value = value / 100 if unit == "%" else value
            if value > 1:
                raise _bad(text, f"{metric} is a fraction: {value:g} > 1 (did you mean {value:g}%?)", source)
        elif unit is not None:
            raise _bad(text, f"{metric} is a rate per second: no unit", source)
    else:
        known = ", ".join([*LATENCY, *FRACTION, *THROUGHPUT])
        raise _bad(text, f"unknown metric '{metric}' (known: {known})", source)
    return SloClause(text.strip(), metric, stat, op, value)


def parse_slo(spec: str, source: str = "--slo") -> list[SloClause]:
    parts = [p for p in spec.split(",") if p.strip()]
    if not parts:
        raise UsageError(f"{source}: empty SLO '{spec}'")
    return [parse_clause(p, source) for p in parts]


def step_value(clause: SloClause, level: SloLevel, extra: Mapping[str, float | None] | None = None) -> float | None:
    """The step's figure for a clause, from the level or, for latency statistics it lacks (p99.9, ...), from
    `extra` (keyed by clause text)."""
    if clause.metric in LATENCY and clause.stat not in ROW_STATS:
        return figure((extra or {}).get(clause.clause))
    figures = level.figures if clause.name is None else level.by_name.get(clause.name) or {}
    return figure(figures.get(clause.figure))


def judge_step(
    clauses: list[SloClause], level: SloLevel, extra: Mapping[str, float | None] | None = None
) -> dict[str, Any]:
    results = []
    for c in clauses:
        value = step_value(c, level, extra)
        results.append({"clause": c.clause, "value": value, "passed": value is not None and c.holds(value)})
    return {"users": level.users, "passed": all(r["passed"] for r in results), "clauses": results}


def evaluate_slo(
    clauses: list[SloClause],
    levels: Sequence[SloLevel],
    extras: list[dict[str, float | None]] | None = None,
    goodput: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The summary's "slo" block. extras/goodput: one entry per step (analysis.goodput), optional."""
    per_step = []
    for i, level in enumerate(levels):
        judged = judge_step(clauses, level, extras[i] if extras else None)
        if goodput:
            judged.update(goodput[i])
        per_step.append(judged)
    ordered = sorted(per_step, key=lambda r: r["users"])
    passing = None
    for r in ordered:
        if not r["passed"]:
            break
        passing = r["users"]
    rated = [r for r in per_step if r.get("goodput_rps") is not None]
    best = max(rated, key=lambda r: r["goodput_rps"]) if rated else None
    known = {name for level in levels for name in level.by_name}
    unknown = sorted({c.name for c in clauses if c.name is not None and c.name not in known})
    return {
        "spec": ",".join(c.clause for c in clauses),
        "clauses": [_clause_json(c) for c in clauses],
        "per_step": per_step,
        "max_users_passing": passing,
        "goodput_peak": {"users": best["users"], "goodput_rps": best["goodput_rps"]} if best else None,
    } | ({"unknown_names": unknown} if unknown else {})


def _clause_json(clause: SloClause) -> dict[str, Any]:
    """A clause in the summary's `slo.clauses`; `name` only where it names one."""
    out = {**asdict(clause), "per_request": clause.per_request}
    if clause.name is None:
        del out["name"]
    return out
