"""CSV with a header row and a `prompt` column (optional `name`, `max_tokens`, `expected` columns): one request
per row, as prompt JSONL's lines."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from llmload.errors import UsageError
from llmload.scenarios.datasets.jsonl_requests import prompt_spec
from llmload.scenarios.datasets.row_fields import without_empty
from llmload.scenarios.workload_request import RequestSpec


def load_csv(path: Path) -> list[RequestSpec]:
    try:
        text = path.read_bytes().removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read dataset: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not valid UTF-8 at byte {exc.start + 1}") from None
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
