"""How a run is judged: APDEX thresholds, the baseline summary and the regression tolerance.

Given to `llmload run` or `llmload report`; the values given explicitly are kept in the run's meta.json
under "report", so a later `llmload report RUN_DIR` rebuilds the same summary, junit.xml and verdict.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from llmload.analysis.compare import DEFAULT_MAX_REGRESSION, parse_max_regression
from llmload.errors import UsageError
from llmload.rundir import META, read_meta, read_summary, update_meta
from llmload.steps import parse_duration_s


@dataclass(frozen=True)
class ReportOptions:
    baseline: Path | None = None
    max_regression: float | None = None  # None: DEFAULT_MAX_REGRESSION
    apdex_t_s: float | None = None
    apdex_f_s: float | None = None

    @property
    def tolerance(self) -> float:
        return DEFAULT_MAX_REGRESSION if self.max_regression is None else self.max_regression


def options_from_args(args: argparse.Namespace) -> ReportOptions:
    """From `run`/`report` arguments (--baseline, --max-regression, --apdex-t, --apdex-f); checked here so
    a bad value stops `run` before any load is sent."""
    baseline = getattr(args, "baseline", "") or ""
    max_reg = getattr(args, "max_regression", "") or ""
    t, f = getattr(args, "apdex_t", "") or "", getattr(args, "apdex_f", "") or ""
    options = ReportOptions(
        baseline=Path(baseline).resolve() if baseline else None,
        max_regression=parse_max_regression(max_reg) if max_reg else None,
        apdex_t_s=parse_duration_s(t, "--apdex-t") if t else None,
        apdex_f_s=parse_duration_s(f, "--apdex-f") if f else None,
    )
    if options.baseline is not None:
        read_summary(options.baseline, "--baseline")
    if (
        options.apdex_t_s is not None
        and options.apdex_f_s is not None
        and options.apdex_f_s < options.apdex_t_s
    ):
        raise UsageError(f"--apdex-f: {f} is shorter than --apdex-t {t}")
    return options


_KEYS = ("baseline", "max_regression", "apdex_t_s", "apdex_f_s")


def resolve(run_dir: Path, given: ReportOptions | None) -> ReportOptions:
    """The values given now, else those kept in the run's meta.json (keep stores the given ones)."""
    found = read_meta(run_dir).get("report")
    kept: dict[str, Any] = found if isinstance(found, dict) else {}
    stored = ReportOptions(
        baseline=Path(kept["baseline"]) if kept.get("baseline") else None,
        max_regression=kept.get("max_regression"),
        apdex_t_s=kept.get("apdex_t_s"),
        apdex_f_s=kept.get("apdex_f_s"),
    )
    if given is None:
        return stored
    return replace(stored, **{k: getattr(given, k) for k in _KEYS if getattr(given, k) is not None})


def keep(run_dir: Path, given: ReportOptions | None, resolved: ReportOptions) -> None:
    """When options were given, the resolved ones go into meta.json, for the next `llmload report RUN_DIR`."""
    if given is None or all(getattr(given, k) is None for k in _KEYS) or not (run_dir / META).exists():
        return
    kept = {k: (str(v) if isinstance(v, Path) else v) for k in _KEYS if (v := getattr(resolved, k)) is not None}
    update_meta(run_dir, report=kept)


def add_gate_options(p: argparse.ArgumentParser, config: bool = False) -> None:
    """--baseline, --max-regression, --apdex-t, --apdex-f (and --config for `run`)."""
    if config:
        p.add_argument(
            "--config",
            default="",
            help="Read the run options from a TOML file (flags given here override it)",
        )
    p.add_argument(
        "--baseline", default="", help="summary.json (or run dir) of a baseline run: exit 1 on regression"
    )
    p.add_argument(
        "--max-regression", default="", help="Regression tolerance against --baseline (default 10%%)"
    )
    p.add_argument(
        "--apdex-t",
        default="",
        help="APDEX satisfied threshold on E2E (default: the SLO's e2e bound, else 60s)",
    )
    p.add_argument("--apdex-f", default="", help="APDEX tolerated threshold (default 4 x T)")
