"""`llmload report RUN_DIR`: everything derived is rebuilt from the raw records.

Writes summary.json (schema llmload.summary/1, docs/run-directory.md), steps.csv, requests.csv,
junit.xml and report.html; returns them with the gate verdict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmload import rundir
from llmload.analysis.pipeline import AnalysisOptions, analyze_run
from llmload.analysis.summary_json import summary_json, to_json
from llmload.capacity.sim_budget import sim_hardware_budget_tokens
from llmload.report.charts.report_charts import all_charts
from llmload.report.csv_files import write_requests_csv, write_steps_csv
from llmload.report.gate_options import ReportOptions, keep, resolve
from llmload.report.gates import evaluate_gate
from llmload.report.junit import junit_xml
from llmload.report.render import render_html


@dataclass(frozen=True)
class ReportResult:
    summary: dict[str, Any]  # summary.json's content, with the gate verdict
    summary_path: Path
    html_path: Path


def build_report(run_dir: Path, options: ReportOptions | None = None) -> ReportResult:
    """The run's analysis (analysis.pipeline), judged (report.gates), written and drawn."""
    run_dir = Path(run_dir)
    opts = resolve(run_dir, options)
    hardware = sim_hardware_budget_tokens(rundir.read_meta(run_dir))
    analysis = analyze_run(run_dir, AnalysisOptions(opts.apdex_t_s, opts.apdex_f_s, hardware))
    keep(run_dir, options, opts)
    summary = summary_json(analysis)
    summary["gate"] = to_json(evaluate_gate(summary, opts))
    summary_path = run_dir / rundir.SUMMARY
    summary_path.write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    write_steps_csv(analysis.steps, run_dir / rundir.STEPS_CSV)
    write_requests_csv(analysis.run, run_dir / rundir.REQUESTS_CSV)
    (run_dir / rundir.JUNIT).write_text(junit_xml(summary), encoding="utf-8")
    html_path = run_dir / rundir.REPORT_HTML
    html = render_html(summary, analysis.run.meta, all_charts(analysis), _plan(run_dir))
    html_path.write_text(html, encoding="utf-8")
    return ReportResult(summary, summary_path, html_path)


def _plan(run_dir: Path) -> dict[str, Any] | None:
    """plan.json of `llmload plan`, when it was written into the run directory."""
    path = run_dir / rundir.PLAN
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
