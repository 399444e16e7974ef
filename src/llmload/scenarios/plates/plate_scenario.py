"""The plate-detection scenario as the load side sees it (a llmload.scenarios.workload_request.Scenario):
which rows a request carries, its messages, and the plates its answer lists. Pure; the dataset, prompt and
scoring modules do the real work."""

from __future__ import annotations

from collections.abc import Sequence
from math import gcd
from pathlib import Path
from typing import Any

from llmload.scenarios.chat import DEFAULT_PROMPT_FORM, in_prompt_form
from llmload.scenarios.plates.comment_dataset import CommentRow, load_dataset
from llmload.scenarios.plates.comment_generator import generate_comments
from llmload.scenarios.plates.plate_prompt import build_messages
from llmload.scenarios.plates.plate_scoring import plates_in_reply
from llmload.scenarios.workload_request import RequestSpec

DEFAULT_DATASET = "datasets/plate_comments.jsonl"  # relative to the working directory, as --dataset takes it
DEFAULT_SEED = 20260114  # the seed of the checked-in dataset
DEFAULT_ROWS = 100
KIND = "plates"  # the record's scenario kind and the requests' name


class PlateScenario:
    """Each user walks the dataset from its own offset, batch after batch, wrapping around (a batch larger
    than the dataset holds some rows twice). Every distinct batch is built once, up front."""

    reads_answers = True

    def __init__(self, rows: Sequence[CommentRow], batch_size: int, prompt_form: str = DEFAULT_PROMPT_FORM) -> None:
        if not rows:
            raise ValueError("the dataset has no rows")
        self.rows = list(rows)
        self.batch_size = batch_size
        self.prompt_form = prompt_form
        self._start_step = gcd(batch_size, len(self.rows))  # every batch starts at a multiple of it
        self._specs = [self._spec(start) for start in range(0, len(self.rows), self._start_step)]

    @classmethod
    def from_path(cls, path: Path, batch_size: int, prompt_form: str = DEFAULT_PROMPT_FORM) -> PlateScenario:
        """Loads the dataset; the default path falls back to the built-in generated set when absent."""
        if not path.exists() and str(path) == DEFAULT_DATASET:
            return cls(generate_comments(DEFAULT_SEED, DEFAULT_ROWS), batch_size, prompt_form)
        return cls(load_dataset(path), batch_size, prompt_form)

    @property
    def specs(self) -> Sequence[RequestSpec]:
        return self._specs

    def pick(self, user_index: int, iteration: int) -> int:
        start = (user_index * self.batch_size + iteration * self.batch_size) % len(self.rows)
        return start // self._start_step

    def request(self, user_index: int, iteration: int) -> RequestSpec:
        return self._specs[self.pick(user_index, iteration)]

    def score(self, spec: RequestSpec, answer_text: str) -> dict[str, Any]:
        return {"plates_found": sorted(plates_in_reply(answer_text))}

    def _spec(self, start: int) -> RequestSpec:
        n = len(self.rows)
        batch = [self.rows[(start + i) % n] for i in range(self.batch_size)]
        facts = {
            "kind": KIND,
            "batch_ids": [row.id for row in batch],
            "plates_expected": sorted({p for row in batch for p in row.plates}),
        }
        return RequestSpec(name=KIND, messages=in_prompt_form(build_messages(batch), self.prompt_form), facts=facts)
