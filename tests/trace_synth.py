"""The checked-in synthetic Mooncake trace (datasets/trace_mooncake_60.jsonl), made by this seeded generator
(tests/unit/test_trace_file.py checks the file is its output): 60 requests over about 15 s, their prompts
600-1,600 tokens in blocks of 512 where most requests share their first block with others of their group (4
groups: 4 long system contexts) and some a second, answers 8-24 tokens. Small enough for the tiny model's
4,096-token context on a CPU."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

TRACE = Path(__file__).resolve().parents[1] / "datasets" / "trace_mooncake_60.jsonl"
REQUESTS, GROUPS, SPAN_MS, BLOCK = 60, 4, 15_000, 512


def trace_lines(seed: int = 17) -> list[dict[str, object]]:
    rng = random.Random(seed)
    stamps = sorted(rng.randrange(0, SPAN_MS) for _ in range(REQUESTS - 1))
    next_id = GROUPS  # ids 0..3: the groups' first blocks
    seconds: dict[int, int] = {}  # group -> its shared second block, once one request made it
    lines = []
    for stamp in [0, *stamps]:
        group = rng.randrange(GROUPS)
        length = rng.randrange(600, 1600)
        ids = [group]
        for _ in range(math.ceil(length / BLOCK) - 1):
            if len(ids) == 1 and rng.random() < 0.5:
                if group not in seconds:
                    seconds[group], next_id = next_id, next_id + 1
                ids.append(seconds[group])
            else:
                ids.append(next_id)
                next_id += 1
        lines.append({"timestamp": stamp, "input_length": length, "output_length": rng.randrange(8, 25),
                      "hash_ids": ids})  # fmt: skip
    return lines


def write_trace(path: Path = TRACE) -> None:
    path.write_text("".join(json.dumps(line) + "\n" for line in trace_lines()), encoding="utf-8")


if __name__ == "__main__":
    write_trace()
