"""The plates the model most often reported wrongly and missed over a run (summary.json "quality_examples")."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from llmload import rundir
from llmload.analysis.frame import QUALITY_EXAMPLES, RunData
from llmload.analysis.record_arrow import batch_ids_of_rows
from llmload.records import iter_record_dicts, scenario_facts


def run_quality_examples(run: RunData) -> dict[str, list[dict[str, Any]]]:
    """quality_examples from what load_run already counted (one look-up of a few batch_ids), else a pass."""
    path = run.run_dir / rundir.RECORDS
    if run.plate_errors is None:
        return quality_examples(path)
    rows = [row for found in run.plate_errors.values() for _, _, row in found]
    batches = batch_ids_of_rows(path, rows)
    return {
        key: [
            {"plate": plate, "count": count, "batch_ids": batches.get(row, [])[:5]}
            for plate, count, row in run.plate_errors[kind]
        ]
        for key, kind in (("false_positives", "fp"), ("misses", "fn"))
    }


def quality_examples(records_path: Path, most: int = QUALITY_EXAMPLES) -> dict[str, list[dict[str, Any]]]:
    """The plates most often reported wrongly (false positives) and missed, with the first batch each was
    seen in. Model answers and dataset ids: text the report escapes."""
    wrong: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    first_batch: dict[tuple[str, str], list[str]] = {}
    for d in iter_record_dicts(records_path):
        if not d.get("ok"):
            continue
        facts = scenario_facts(d)
        expected, found = set(facts.get("plates_expected") or []), set(facts.get("plates_found") or [])
        for kind, plates, counter in (("fp", found - expected, wrong), ("fn", expected - found, missed)):
            for plate in plates:
                counter[str(plate)] += 1
                first_batch.setdefault((kind, str(plate)), [str(b) for b in (facts.get("batch_ids") or [])][:5])
    return {
        "false_positives": [
            {"plate": p, "count": n, "batch_ids": first_batch[("fp", p)]} for p, n in wrong.most_common(most)
        ],
        "misses": [
            {"plate": p, "count": n, "batch_ids": first_batch[("fn", p)]} for p, n in missed.most_common(most)
        ],
    }
