"""The short terminal summary printed at the end of a run."""

from __future__ import annotations

from typing import Any, TextIO

from llmload.exit_codes import ExitCode
from llmload.report.gates import failure_lines
from llmload.target_time import target_time_text


def _f(value: Any, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def print_verdict(summary: dict[str, Any], out: TextIO) -> None:
    target = summary.get("target") or {}
    where = (
        f"simulator {target.get('profile')} (x{target.get('time_scale')})"
        if target.get("simulated")
        else target.get("host")
    )
    out.write(f"\nllmload verdict — model {summary.get('model') or '–'} on {where}\n")
    out.write(f"{'':22}{'users':>7}{'p50 E2E s':>12}{'p95 E2E s':>12}{'TPS/s':>10}{'out tok/s':>11}\n")
    for key, label in (("knee", "optimal concurrency"), ("limit", "limit concurrency")):
        p = summary.get(key)
        if not p:
            reason = f"  not determined: {summary.get('knee_reason')}" if key == "knee" else "  not determined"
            out.write(f"{label:22}{reason}\n")
            continue
        out.write(
            f"{label:22}{p['users']:>7}{_f(p['e2e_p50_s']):>12}{_f(p['e2e_p95_s']):>12}"
            f"{_f(p['rps'], 3):>10}{_f(p['output_tokens_per_s'], 1):>11}\n"
        )
    for line in _caveats(summary) + _workload_lines(summary):
        out.write(line + "\n")
    if summary.get("target_time"):
        out.write(f"server time used: {target_time_text(summary['target_time'])}\n")
    out.write(_requests_line(summary) + "\n")


def _workload_lines(summary: dict[str, Any]) -> list[str]:
    """A trace's capacity in its own terms; sessions' cache reuse (analysis.trace_capacity, session_turns)."""
    lines = []
    trace = summary.get("trace")
    if trace:
        speeds = ", ".join(f"{s:g}x" for s in trace["speeds"])
        line = f"trace {trace['path']} at {speeds}: "
        if not summary.get("slo"):
            line += "no --slo given, so no largest speed-up (the report's trace table has each one)"
        elif trace["max_speed_passing"] is None:
            line += "the SLO fails at the slowest speed-up"
        else:
            line += f"the SLO holds up to {trace['max_speed_passing']:g}x the trace's traffic"
            if trace["max_speed_estimate"] is not None:
                line += f" (about {trace['max_speed_estimate']:.2f}x, where {trace['binding_clause']} reaches its bound)"
        lines.append(line)
    sessions = summary.get("sessions")
    if sessions:
        hit, checked = sessions["prefix_cache_hit_rate"], sessions["retokenized"]
        line = f"sessions {sessions['sessions_started']}: prefix-cache hit rate {'–' if hit is None else f'{hit:.1%}'}"
        if checked["checked"]:
            line += (f"; the server counted {checked['equal']}/{checked['checked']} histories as implied"
                     f" (prompt - implied tokens mean {checked['diff_mean']:.1f})")  # fmt: skip
        lines.append(line)
    return lines


def _requests_line(summary: dict[str, Any]) -> str:
    """How many requests, and how their answers scored: the plates found, the dataset's expected answers."""
    acc, expected = summary.get("accuracy") or {}, summary.get("expected")
    req = summary.get("requests") or {}
    line = f"requests {req.get('total')} ({req.get('failed')} failed)"
    if acc.get("precision") is not None or not expected:
        line += f"; plate detection precision {_f(acc.get('precision'), 3)} recall {_f(acc.get('recall'), 3)}"
    if expected:
        line += f"; expected answers matched {expected['matched']}/{expected['scored']}"
    return line


def _caveats(summary: dict[str, Any]) -> list[str]:
    """What the reader must know before trusting the two numbers: a partial run, a knee at the top of
    the plan (saturation not reached), how sure the knee is, which request name saturates first, from where
    requests mostly wait in the queue."""
    lines = []
    provisional = summary.get("knee_provisional")
    if provisional:
        knee, limit = provisional["knee"], provisional.get("limit") or {}
        lines.append(
            f"provisional (not trusted, {provisional['caveat']}): knee {knee['users']} users, "
            f"limit {limit.get('users')} users"
        )
    if summary.get("complete") is False:
        lines.append(f"PARTIAL RUN: {summary.get('stopped_reason') or 'the run did not finish'}")
    knee, steps = summary.get("knee"), summary.get("steps") or []
    top = max((s["users"] for s in steps), default=None)
    if knee and top is not None and knee["users"] >= top:
        lines.append(f"saturation not reached: the knee is the plan's top level ({top} users); extend --users")
    confidence = (summary.get("knee_confidence") or {}).get("level")
    if knee and confidence:
        lines.append(f"knee confidence: {confidence} (why: knee_signals in summary.json, 'why here' in the report)")
    by_name = summary.get("saturation_by_name")
    if by_name and by_name.get("knee_users") is not None:
        lines.append(f"which request name saturates first: {by_name['detail']}")
    why_queue = (summary.get("time_split") or {}).get("why_here")
    if why_queue:
        lines.append(f"where the time goes: {why_queue}")
    return lines


def print_gate(summary: dict[str, Any], out: TextIO) -> int:
    """The CI verdict (SLO at the operating point, regression against a baseline) and its exit code:
    0 when everything held, 1 when a gate failed (with a short table of what failed)."""
    gate = summary.get("gate") or {}
    slo, base = gate.get("slo"), gate.get("baseline")
    if slo:
        word = "PASS" if slo["passed"] else "FAIL"
        out.write(f"SLO {slo['spec']}: {word} at {slo['users']} users ({slo['at']})\n")
    if base:
        word = f"REGRESSED ({len(base['regressions'])} checks)" if base["regressed"] else "no regression"
        out.write(f"baseline {base.get('baseline_path')}: {word}\n")
    lines = failure_lines(gate)
    if lines:
        out.write("\n".join(lines) + "\n")
    return ExitCode.OK if gate.get("passed", True) else ExitCode.FAILED
