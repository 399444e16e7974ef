"""The report-side flow of one run, on one screen (analyze_run):

    run_dir -> load_run        frame: one row per request (analysis.frame), placed in the steps (step_windows)
            -> measure_steps   each step's steady-window statistics and validity (step_stats)
            -> by name         the same figures per request name, where a run carries several (name_stats)
            -> slo_summary     --slo judged per step, with goodput (slo, goodput)
            -> find_knee       the knee rule, its evidence and confidence (knee); which name saturates first
                               (name_saturation)
            -> capacity        the USL fit and the KV-bound prediction beside the knee (usl, kv_prediction)
            -> time split      whether the server's phase histograms split TTFT/E2E, and where it queues (time_split)
            -> run-wide tables APDEX, JMeter's statistics per label, errors by type, quality examples
            -> workloads       sessions by turn (session_turns), a trace's speed-ups against the SLO (trace_capacity)
            -> RunAnalysis     the typed model (analysis.model); analysis.summary_json makes summary.json of it
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmload.analysis.apdex import apdex_summary, thresholds
from llmload.analysis.error_tables import error_summary
from llmload.analysis.frame import load_run
from llmload.analysis.goodput import slo_summary
from llmload.analysis.knee import find_knee, valid_steps
from llmload.analysis.kv_prediction import kv_prediction
from llmload.analysis.label_stats import label_statistics
from llmload.analysis.model import RequestCounts, RunAnalysis
from llmload.analysis.name_saturation import saturation_by_name
from llmload.analysis.name_stats import with_name_stats
from llmload.analysis.quality_examples import run_quality_examples
from llmload.analysis.session_turns import session_summary
from llmload.analysis.step_stats import (
    accuracy,
    expected_match,
    expected_scored,
    measure_steps,
    plates_scored,
)
from llmload.analysis.throughput_bootstrap import throughput_draws
from llmload.analysis.time_split import time_split_summary
from llmload.analysis.trace_capacity import trace_summary
from llmload.analysis.usl import fit_usl
from llmload.rundir import META


@dataclass(frozen=True)
class AnalysisOptions:
    apdex_t_s: float | None = None  # --apdex-t; else the SLO's e2e bound, else 60 s (analysis.apdex)
    apdex_f_s: float | None = None  # --apdex-f; else 4 x T
    sim_hardware_budget_tokens: int | None = None  # a simulator run's cross-check (capacity.sim_budget)


def analyze_run(run_dir: Path, options: AnalysisOptions | None = None) -> RunAnalysis:
    options = options or AnalysisOptions()
    run = load_run(Path(run_dir))
    steps = with_name_stats(run, measure_steps(run))
    spec = str((run.meta.get("options") or {}).get("slo") or "")
    slo = slo_summary(run, steps, spec, f"{run.run_dir}/{META}: options.slo") if spec else None
    levels = [step.knee_level() for step in steps]
    knee = find_knee(
        levels,
        server=[{"users": step.users, **step.server} for step in steps if step.server] or None,
        slo=slo,
        rps_draws=throughput_draws(run, steps),
    )
    measured = [(level.users, level.rps) for level in valid_steps(levels) if level.rps is not None]
    req = run.requests
    apdex_limits = thresholds(options.apdex_t_s, options.apdex_f_s, spec)
    return RunAnalysis(
        run=run,
        complete="ended_s" in run.meta and not run.meta.get("stopped_reason"),
        stopped_reason=_stopped_reason(run.meta),
        requests=RequestCounts(int(len(req)), int(req["ok"].sum()), int((~req["ok"]).sum())),
        steps=tuple(steps),
        knee=knee,
        saturation_by_name=saturation_by_name(steps, knee),
        slo=slo,
        usl=fit_usl([users for users, _ in measured], [rps for _, rps in measured]),
        kv_prediction=kv_prediction(
            steps, knee.knee.users if knee.knee else None, run.meta, run.server, options.sim_hardware_budget_tokens
        ),
        time_split=time_split_summary(
            run.server, [(step.users, step.time_split, step.server) for step in steps], run.meta
        ),
        accuracy=accuracy(req[req["ok"]], plates_scored(req)),
        expected=expected_match(req[req["ok"]]) if expected_scored(req) else None,
        apdex=apdex_summary(req, run.windows, apdex_limits),
        statistics=label_statistics(req, apdex_limits),
        errors=error_summary(req, run.windows),
        quality_examples=run_quality_examples(run),
        sessions=session_summary(run),
        trace=trace_summary(run, steps, slo),
    )


def _stopped_reason(meta: Mapping[str, Any]) -> str | None:
    """Why the run is partial: it stopped early (target lost, interrupted) or the generator was killed
    (meta.json has no ended_s); None for a complete run."""
    reason = meta.get("stopped_reason")
    if reason:
        return str(reason)
    return None if "ended_s" in meta else "the load generator ended without closing the run (killed?)"
