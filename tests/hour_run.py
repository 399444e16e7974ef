"""A synthetic one-hour closed-loop run of about 100,000 requests: the report's size bound (issue #20: under
5 MB) is checked on it. 12 steps of 300 s, 8 to 96 users, E2E growing with the users, 20 chunks a request,
1% HTTP 503 and 0.3% streams cut after their headers; every user opens its connection once (connect_s on its
first request and after each failure, as the client's pool does) and response bytes are counted."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from helpers import T0, write_run
from llmload.records import Record, StepMark

LEVELS = tuple(range(8, 97, 8))
STEP_S = 300.0
CHUNKS = 20


def _request(rng: np.random.Generator, n: int, user: int, send: float, e2e: float, fresh: bool) -> Record:
    draw = rng.random()
    headers = send + 0.004 + 0.002 * rng.random()
    base = {
        "request_id": f"w-{user}-{n}",
        "user_id": user,
        "send_s": send,
        "headers_s": headers,
        "connect_s": send + 0.0008 if fresh else None,
        "worker": "w",
    }
    if draw < 0.01:
        return Record(
            **base, end_s=headers + 0.001, ok=False, http_status=503,
            error_kind="http_status", error="HTTP 503: overloaded", response_bytes=31,
        )
    first = send + 0.05 + 0.1 * e2e * rng.random()
    chunks = np.linspace(first, send + e2e, CHUNKS).tolist()
    if draw < 0.013:
        return Record(
            **base, end_s=chunks[5], ok=False, http_status=200, error_kind="disconnect",
            error="connection closed mid-stream", first_token_s=first, chunk_s=chunks[:5], response_bytes=900,
        )
    return Record(
        **base, end_s=send + e2e + 0.001, ok=True, http_status=200, first_token_s=first, first_answer_s=first,
        last_token_s=send + e2e, chunk_s=chunks, prompt_tokens=1342, output_tokens=CHUNKS,
        finish_reason="stop", response_bytes=180 * CHUNKS + 400,
    )


def hour_run(run_dir: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    steps, records, n = [], [], 0
    for index, users in enumerate(LEVELS):
        start, end = T0 + index * STEP_S, T0 + (index + 1) * STEP_S
        steps.append(StepMark(index, users, start, end))
        mean_e2e = 0.75 + 0.0175 * users
        for user in range(users):
            t, fresh = start + float(rng.random()) * mean_e2e, index == 0 or user >= LEVELS[index - 1]
            while True:
                e2e = mean_e2e * float(rng.lognormal(0.0, 0.25))
                if t + e2e > end:
                    break
                record = _request(rng, n, user, t, e2e, fresh)
                records.append(record)
                fresh = not record.ok
                n += 1
                t = record.end_s + 0.0005
    return write_run(run_dir, steps, records, {"started_s": T0, "ended_s": T0 + len(LEVELS) * STEP_S})
