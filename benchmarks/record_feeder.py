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
from synthetic_records import E2E_S, due_at, length_s, parse_schedule, synthetic_record

# llmload's wire protocol between workers and master (llmload.load.distributed)
RECORDS_MESSAGE = "llmload_records"
FLUSH_MESSAGE = "llmload_flush"
FLUSHED_MESSAGE = "llmload_flushed"
SEND_EVERY_S = 0.5  # a real worker's forward loop sends its outbox this often


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
        start_s = time.time()
        made = 0  # records of this schedule sent so far
        tag = f"feed{os.getpid()}"
        if self.log is not None:
            self.log.write(f"{start_s:.6f} 0\n")  # the schedule's start
        while not self.stopped:
            gevent.sleep(SEND_EVERY_S)
            elapsed_s = time.time() - start_s
            count = int(due_at(self.schedule, elapsed_s)) - made
            if self.stopped:
                break
            if count:
                self.send(environment, tag, start_s + elapsed_s, count)
                made += count
            if elapsed_s >= length_s(self.schedule):
                break

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
