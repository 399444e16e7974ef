"""`llmload import jtl RESULTS --out RUN_DIR`: a JMeter results file becomes an llmload run directory
(records.jsonl, steps.jsonl, meta.json) that `llmload report` and `llmload compare` read."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from llmload import __version__, rundir
from llmload.errors import UsageError
from llmload.jmeter.jtl_csv import JtlRead, read_csv
from llmload.jmeter.jtl_records import WORKER, to_records
from llmload.jmeter.jtl_sample import JMeterSample
from llmload.jmeter.jtl_steps import steps_from_levels, steps_from_threads
from llmload.records import RecordWriter, StepMark


@dataclass
class JtlImport:
    run_dir: Path
    records: int
    steps: list[StepMark]
    skipped: int = 0
    nested: int = 0
    warnings: list[str] = field(default_factory=list)


def read_jtl(path: Path) -> JtlRead:
    """CSV or XML, told apart by the first character that is not white space."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    from llmload.jmeter.jtl_xml import read_xml

    with path.open("rb") as f:
        head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return read_xml(path) if head.startswith(b"<") else read_csv(path)


def import_jtl(path: Path, run_dir: Path, levels: list[int] | None = None, step_s: float | None = None) -> JtlImport:
    """Reads all of `path` first (a bad file writes nothing), then the run directory, which must not hold
    records yet."""
    read = read_jtl(path)
    if not read.samples:
        raise UsageError(f"{path}: no samples")
    if levels:
        if not step_s:
            raise UsageError("--users needs --step-duration")
        steps = steps_from_levels(read.samples, levels, step_s)
    else:
        steps = steps_from_threads(read.samples, str(path))
    if (run_dir / rundir.RECORDS).exists():
        raise UsageError(f"--out: {run_dir} already holds {rundir.RECORDS}; choose a new run directory")
    writer = RecordWriter(run_dir / rundir.RECORDS)
    try:
        for record in to_records(read.samples):
            writer.write(record)
    finally:
        writer.close()
    (run_dir / rundir.STEPS).write_text("".join(s.to_json() + "\n" for s in steps), encoding="utf-8")
    rundir.update_meta(run_dir, **_meta(path, read, steps, step_s))
    return JtlImport(run_dir, writer.count, steps, read.skipped, read.nested, read.warnings)


def _meta(path: Path, read: JtlRead, steps: list[StepMark], step_s: float | None) -> dict[str, Any]:
    samples = read.samples
    started_s = min(s.ts_ms for s in samples) / 1000.0
    host = _host(samples)
    return {
        "schema": rundir.META_SCHEMA,
        "run_id": "jmeter-" + time.strftime("%Y%m%d-%H%M%S", time.localtime(started_s)),
        "llmload_version": __version__,
        "started_s": started_s,
        "options": {
            "host": host,
            "model": None,
            "levels": [s.users for s in steps],
            "rates_rps": [],
            "step_duration_s": step_s,
            "warmup": "auto",
            "slo": "",
        },
        "target": {"host": host, "models": [], "simulated": False, "time_scale": 1.0},
        "source": {
            "tool": "jmeter",
            "file": str(path),
            "sha256": _sha256(path),
            "samples": len(samples),
            "skipped": read.skipped,
            "nested_samples": read.nested,
            "worker": WORKER,
        },
        "ended_s": max(s.ts_ms + s.elapsed_ms for s in samples) / 1000.0,
        "records": len(samples),
    }


def _host(samples: list[JMeterSample]) -> str | None:
    """scheme://host:port of the URL most samples went to (None where URLs were not saved)."""
    hosts = Counter(f"{u.scheme}://{u.netloc}" for u in (urlsplit(s.url) for s in samples if s.url) if u.netloc)
    return hosts.most_common(1)[0][0] if hosts else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
