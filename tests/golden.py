"""Golden run directories: the raw files of four real runs and the outputs `llmload report` built from them.

Each fixture is `tests/fixtures/golden/NAME.tar.xz` holding NAME/ with the raw run files (records.jsonl,
steps.jsonl, meta.json, generator.jsonl, server_metrics.jsonl where sampled) and the expected derived files
(expected/summary.json, expected/steps.csv, expected/requests.csv). The test rebuilds the report from the raw
files and compares. Refactors must leave the outputs identical; a deliberate change of what the report
computes regenerates them (`.venv/bin/python tests/golden.py --regen`, then review and commit the diff).

Comparison: JSON values and CSV cells equal, floats to 1e-9 relative (numpy's SIMD reductions may differ in
the last bits between CPUs); key order free; `run_dir` (where the fixture was unpacked) is left out.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

RUNS = Path(__file__).resolve().parent / "fixtures" / "golden"
DERIVED = ("summary.json", "steps.csv", "requests.csv")
RAW = ("records.jsonl", "steps.jsonl", "meta.json", "generator.jsonl", "server_metrics.jsonl", "gpu.jsonl")
REL_TOL = 1e-9
IGNORED_KEYS = {"run_dir"}


def names() -> list[str]:
    return sorted(p.name.removesuffix(".tar.xz") for p in RUNS.glob("*.tar.xz"))


def unpack(name: str, into: Path) -> Path:
    """Extracts the fixture; returns the run directory (raw files only; expected/ beside them)."""
    with tarfile.open(RUNS / f"{name}.tar.xz") as tar:
        tar.extractall(into, filter="data")
    return into / name


def rebuild(run_dir: Path) -> None:
    from llmload.report.build import build_report

    build_report(run_dir)


def differences(expected: Any, actual: Any, where: str = "") -> list[str]:
    """Every place where two parsed JSON documents differ (floats to REL_TOL)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for key in sorted((set(expected) | set(actual)) - IGNORED_KEYS):
            if key not in actual or key not in expected:
                out.append(f"{where}.{key}: only in {'expected' if key in expected else 'rebuilt'}")
            else:
                out += differences(expected[key], actual[key], f"{where}.{key}")
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{where}: {len(expected)} items expected, {len(actual)} rebuilt"]
        return [d for i, (e, a) in enumerate(zip(expected, actual, strict=True)) for d in differences(e, a, f"{where}[{i}]")]
    if _number(expected) and _number(actual) and not isinstance(expected, bool):
        if math.isclose(float(expected), float(actual), rel_tol=REL_TOL, abs_tol=1e-12):
            return []
    elif expected == actual:
        return []
    return [f"{where}: expected {expected!r}, rebuilt {actual!r}"]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _cells(text: str) -> list[list[Any]]:
    rows = list(csv.reader(io.StringIO(text)))
    return [[_parse(cell) for cell in row] for row in rows]


def _parse(cell: str) -> Any:
    try:
        return float(cell)
    except ValueError:
        return cell


def compare_file(name: str, expected: Path, actual: Path) -> list[str]:
    if name.endswith(".json"):
        return differences(json.loads(expected.read_text()), json.loads(actual.read_text()), name)
    return differences(_cells(expected.read_text()), _cells(actual.read_text()), name)


def check(name: str, into: Path) -> list[str]:
    run_dir = unpack(name, into)
    rebuild(run_dir)
    problems = []
    for derived in DERIVED:
        problems += compare_file(derived, run_dir / "expected" / derived, run_dir / derived)
    return problems


def pack(source: Path, name: str) -> Path:
    """A run directory -> fixtures/golden/NAME.tar.xz with its raw files and the outputs the current code builds."""
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / name
        run_dir.mkdir()
        for raw in RAW:
            if (source / raw).exists():
                shutil.copy2(source / raw, run_dir / raw)
        rebuild(run_dir)
        (run_dir / "expected").mkdir()
        for derived in DERIVED:
            shutil.move(str(run_dir / derived), run_dir / "expected" / derived)
        for other in run_dir.iterdir():
            if other.is_file() and other.name not in RAW:
                other.unlink()
        RUNS.mkdir(parents=True, exist_ok=True)
        out = RUNS / f"{name}.tar.xz"
        with tarfile.open(out, "w:xz", preset=9) as tar:
            tar.add(run_dir, arcname=name)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--add", nargs=2, metavar=("RUN_DIR", "NAME"), help="pack a run directory as a new fixture")
    p.add_argument("--regen", action="store_true", help="rebuild every fixture's expected outputs")
    args = p.parse_args()
    if args.add:
        print(pack(Path(args.add[0]), args.add[1]))
    if args.regen:
        for name in names():
            with tempfile.TemporaryDirectory() as tmp:
                print(pack(unpack(name, Path(tmp)), name))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    main()
