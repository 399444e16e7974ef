"""A Locust worker that feeds an llmload master synthetic records at a set rate, sending no requests.

`benchmarks/master_load.py` starts a real `llmload run --master` and several of these as its workers, so
that the master's cost per record received can be measured at rates a 2-core machine could never reach
with real requests. To the master these workers look like llmload's own: the same user class name (its
plan spawns it), records as JSON lines (llmload.records.Record) in one message per worker every 0.5 s,
one Locust request event per record (the workers' stats reports), and the end-of-run handshake (the
master asks for a flush, the worker answers with how many records it sent in this run).

    locust -f benchmarks/record_feeder.py --worker --master-host 127.0.0.1 --master-port 5557

Environment (set by master_load.py):
    LLMLOAD_FEED_SCHEDULE  "rps:seconds,rps:seconds,..." this worker's send rate, from its first spawn
    LLMLOAD_FEED_TOKENS    chunk times per record (default 64)
    LLMLOAD_FEED_BATCH     batch ids per record (the plate scenario's comments per request; default 100)
    LLMLOAD_FEED_LOG       a file that gets "wall_s records_sent_so_far" after every message sent
"""

from __future__ import annotations

import os
import time
from typing import IO, Any

import gevent
from locust import User, constant, events, task
from locust.runners import WorkerRunner

from llmload.records import Record

# llmload's wire protocol between workers and master (llmload.load.distributed)
RECORDS_MESSAGE = "llmload_records"
FLUSH_MESSAGE = "llmload_flush"
FLUSHED_MESSAGE = "llmload_flushed"
SEND_EVERY_S = 0.5  # a real worker's forward loop sends its outbox this often
E2E_S = 1.36  # each synthetic request: TTFT 100 ms + 63 x 20 ms


def parse_schedule(text: str) -> list[tuple[float, float]]:
    """'500:10,1000:10' -> [(500.0, 10.0), (1000.0, 10.0)]: (records per second, seconds)."""
    steps = []
    for part in text.split(","):
        rate, _, seconds = part.strip().partition(":")
        steps.append((float(rate), float(seconds)))
    return steps


def rate_at(schedule: list[tuple[float, float]], elapsed_s: float) -> float | None:
    """The scheduled rate `elapsed_s` after the start; None once the schedule is over."""
    for rate, seconds in schedule:
        if elapsed_s < seconds:
            return rate
        elapsed_s -= seconds
    return None


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
        finish_reason="length", http_status=200, batch_ids=ids, plates_expected=plates, plates_found=plates,
        worker=worker,
    )


class Feed:
    """This process's feeder: one greenlet from the run's start to the master's flush request."""

    def __init__(self) -> None:
        self.schedule = parse_schedule(os.environ.get("LLMLOAD_FEED_SCHEDULE", "100:10"))
        self.tokens = int(os.environ.get("LLMLOAD_FEED_TOKENS", "64"))
        self.batch = int(os.environ.get("LLMLOAD_FEED_BATCH", "100"))
        log_path = os.environ.get("LLMLOAD_FEED_LOG")
        self.log: IO[str] | None = open(log_path, "a", buffering=1) if log_path else None  # noqa: SIM115
        self.sent = 0  # records sent in this run
        self.serial = 0  # request ids stay unique across runs
        self.greenlet: gevent.Greenlet | None = None
        self.stopped = True

    def start(self, environment: Any) -> None:
        if self.greenlet is None:
            self.stopped = False
            self.greenlet = gevent.spawn(self.run, environment)

    def run(self, environment: Any) -> None:
        start_s = last_s = time.time()
        owed = 0.0
        tag = f"feed{os.getpid()}"
        if self.log is not None:
            self.log.write(f"{start_s:.6f} 0\n")  # the schedule's start
        while not self.stopped:
            gevent.sleep(max(0.0, last_s + SEND_EVERY_S - time.time()))
            now_s = time.time()
            rate = rate_at(self.schedule, now_s - start_s)
            if rate is None or self.stopped:
                break
            owed += rate * (now_s - last_s)
            last_s = now_s
            count, owed = int(owed), owed - int(owed)
            if count:
                self.send(environment, tag, now_s, count)

    def send(self, environment: Any, tag: str, now_s: float, count: int) -> None:
        lines = []
        for _ in range(count):
            self.serial += 1
            lines.append(synthetic_record(f"{tag}-{self.serial}", tag, now_s, self.tokens, self.batch).to_json())
            environment.events.request.fire(
                request_type="LLM", name="chat/completions", response_time=E2E_S * 1000.0,
                response_length=self.tokens, exception=None, context={}, url=environment.host,
            )
        environment.runner.send_message(RECORDS_MESSAGE, lines)
        self.sent += count
        if self.log is not None:
            self.log.write(f"{time.time():.6f} {self.sent}\n")

    def flush(self, environment: Any) -> None:
        """The master's end-of-run request: stop feeding, then say how many records went out."""
        self.stopped = True
        if self.greenlet is not None:
            self.greenlet.kill(block=True)
            self.greenlet = None
        environment.runner.send_message(FLUSHED_MESSAGE, {"sent": self.sent})
        self.sent = 0
        environment.stop_timeout = 0  # Locust's worker would otherwise wait stop_timeout before it quits


FEED = Feed()


class PlateDetectionUser(User):
    """The class name the master's plan spawns (llmload.load.plate_detection); it only idles."""

    wait_time = constant(1)

    @task
    def idle(self) -> None:
        gevent.sleep(1)


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.register_message(FLUSH_MESSAGE, lambda msg, **_: FEED.flush(environment))


@events.test_start.add_listener
def _on_test_start(environment: Any, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        FEED.start(environment)
