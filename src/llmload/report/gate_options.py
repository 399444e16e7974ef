"""How a run is judged: APDEX thresholds, the baseline summary and the regression tolerance.

Given to `llmload run` or `llmload report`; the values given explicitly are kept in the run's meta.json
under "report", so a later `llmload report RUN_DIR` rebuilds the same summary, junit.xml and verdict.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from llmload.errors import UsageError

DEFAULT_MAX_REGRESSION = 0.10


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
    from llmload.analysis.compare import parse_max_regression
    from llmload.steps import parse_duration_s

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
        read_baseline(options.baseline)
    if (
        options.apdex_t_s is not None
        and options.apdex_f_s is not None
        and options.apdex_f_s < options.apdex_t_s
    ):
        raise UsageError(f"--apdex-f: {f} is shorter than --apdex-t {t}")
    return options


def read_baseline(path: Path, where: str = "--baseline") -> dict[str, Any]:
    """A baseline is a summary.json, or a run directory holding one."""
    path = Path(path)
    if path.is_dir():
        path = path / "summary.json"
    if not path.is_file():
        raise UsageError(f"{where}: {path}: no such file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not str(data.get("schema", "")).startswith("llmload.summary/"):
        raise UsageError(f"{path}: not an llmload summary.json (no schema llmload.summary/...)")
    return data


_KEYS = ("baseline", "max_regression", "apdex_t_s", "apdex_f_s")


def resolve(meta_path: Path, given: ReportOptions | None) -> ReportOptions:
    """The values given now, else those kept in meta.json; the given ones are kept for next time."""
    meta: dict[str, Any] = {}
    if meta_path.exists():
        try:
            loaded = json.loads(meta_path.read_text(encoding="utf-8"))
            meta = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            meta = {}
    found = meta.get("report")
    kept: dict[str, Any] = found if isinstance(found, dict) else {}
    stored = ReportOptions(
        baseline=Path(kept["baseline"]) if kept.get("baseline") else None,
        max_regression=kept.get("max_regression"),
        apdex_t_s=kept.get("apdex_t_s"),
        apdex_f_s=kept.get("apdex_f_s"),
    )
    if given is None:
        return stored
    changes = {k: getattr(given, k) for k in _KEYS if getattr(given, k) is not None}
    merged = replace(stored, **changes)
    if changes and meta_path.exists():
        meta["report"] = {
            k: (str(v) if isinstance(v, Path) else v) for k in _KEYS if (v := getattr(merged, k)) is not None
        }
        meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    return merged


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
