"""CSV with a header row and a `prompt` column (optional `name`, `max_tokens`, `expected` columns): one request
per row, as prompt JSONL's lines."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from llmload.errors import UsageError
from llmload.scenarios.datasets.jsonl_requests import prompt_spec, read_text
from llmload.scenarios.datasets.row_fields import without_empty
from llmload.scenarios.workload_request import RequestSpec


def load_csv(path: Path) -> list[RequestSpec]:
    text = read_text(path)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if "prompt" not in (reader.fieldnames or []):
        raise UsageError(f"{path}:1: no 'prompt' column in the header ({', '.join(reader.fieldnames or [])})")
    specs = []
    try:
        for row in reader:
            spec = prompt_spec(without_empty(row), reader.line_num)
            specs.append(
                RequestSpec(
                    spec.name,
                    prompt=spec.prompt,
                    max_tokens=spec.max_tokens,
                    expected=spec.expected,
                    facts={"kind": "csv", "line": reader.line_num},
                )
            )
    except (ValueError, csv.Error) as exc:
        raise UsageError(f"{path}:{reader.line_num}: {exc}") from None
    if not specs:
        raise UsageError(f"{path}: dataset is empty (no rows)")
    return specs
