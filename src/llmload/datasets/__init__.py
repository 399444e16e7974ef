"""The plate-detection scenario: comment datasets, plate matching, prompts and batches."""

from llmload.datasets.generator import generate_comments
from llmload.datasets.plates import (
    PlateScore,
    extract_plates,
    is_valid_plate,
    plates_in_reply,
    score,
    strip_reasoning,
    sum_scores,
)
from llmload.datasets.prompt import Batch, batch_at, batches, build_messages, estimate_prompt_tokens
from llmload.datasets.schema import CommentRow, dataset_sha256, load_dataset, write_jsonl

__all__ = [
    "Batch",
    "CommentRow",
    "PlateScore",
    "batch_at",
    "batches",
    "build_messages",
    "dataset_sha256",
    "estimate_prompt_tokens",
    "extract_plates",
    "generate_comments",
    "is_valid_plate",
    "load_dataset",
    "plates_in_reply",
    "score",
    "strip_reasoning",
    "sum_scores",
    "write_jsonl",
]
