"""Synthetic records for benchmarks/record_feeder.py, and its send schedule (pure: no Locust here, so tests
can import it without gevent's monkey-patching)."""

from __future__ import annotations

from llmload.records import Record

E2E_S = 1.36  # each synthetic request: TTFT 100 ms + 63 x 20 ms


def parse_schedule(text: str) -> list[tuple[float, float]]:
    """'500:10,1000:10' -> [(500.0, 10.0), (1000.0, 10.0)]: (records per second, seconds)."""
    steps = []
    for part in text.split(","):
        rate, _, seconds = part.strip().partition(":")
        steps.append((float(rate), float(seconds)))
    return steps


def due_at(schedule: list[tuple[float, float]], elapsed_s: float) -> float:
    """Records the schedule asks for from its start to `elapsed_s` (rates integrated over time: a message
    that spans a change of rate carries each part at its own rate)."""
    due = 0.0
    for rate, seconds in schedule:
        due += rate * min(max(elapsed_s, 0.0), seconds)
        elapsed_s -= seconds
    return due


def length_s(schedule: list[tuple[float, float]]) -> float:
    return sum(seconds for _, seconds in schedule)


def synthetic_record(request_id: str, worker: str, end_s: float, tokens: int, batch: int) -> Record:
    """A record shaped like a real closed-loop request of the plate scenario: `tokens` chunk times,
    `batch` dataset ids, the plates expected and found."""
    send_s = end_s - E2E_S
    first_s = send_s + 0.1
    step_s = (end_s - first_s) / max(1, tokens - 1)
    chunks = [first_s + i * step_s for i in range(tokens)]
    ids = [f"c{i:05d}" for i in range(batch)]
    plates = [f"京A{i:05d}" for i in range(batch // 10)]
    return Record(
        request_id=request_id, user_id=0, send_s=send_s, end_s=end_s, ok=True, headers_s=send_s + 0.002,
        first_token_s=first_s, first_answer_s=first_s, last_token_s=chunks[-1], chunk_s=chunks,
        last_byte_s=end_s, read_lag_max_s=0.0001, prompt_tokens=1342, output_tokens=tokens,
        finish_reason="length", http_status=200, worker=worker, name="plates",
        scenario={"kind": "plates", "batch_ids": ids, "plates_expected": plates, "plates_found": plates},
    )
