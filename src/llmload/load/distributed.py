"""Distributed runs: every record a worker made reaches the master's records.jsonl exactly once.

Workers stream records (and generator-health samples) to the master in batches every 0.5 s
(runtime.RECORDS_MESSAGE / HEALTH_MESSAGE). The end of a run is a handshake, because Locust's headless
master fires test_stop *before* it tells the workers anything (MasterRunner.quit -> stop without
stopping clients), and after a stop from the web UI the stopped workers leave runner.clients:

1. master test_stop: FLUSH_MESSAGE to every worker still attached;
2. worker: stops its users (in-flight requests finish, up to --stop-timeout); its test_stop sends the last
   batch, then FLUSHED_MESSAGE with how many records it sent in this run (a worker stopped by Locust's own
   "stop", as from the web UI, sends it from its test_stop too, before Locust's client_stopped);
3. master: waits until every worker asked has answered or left runner.clients (Locust delivers a
   worker's messages in order: its batches before its answer or departure), at most stop_timeout +
   FLUSH_GRACE_S, then closes the files and compares sent with received per worker (meta.json "workers").
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import gevent
from locust.runners import STATE_RUNNING, STATE_SPAWNING, MasterRunner, WorkerRunner

log = logging.getLogger("llmload")
FLUSH_MESSAGE = "llmload_flush"
FLUSHED_MESSAGE = "llmload_flushed"
FLUSH_GRACE_S = 30.0


def register(environment: Any, on_health: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.register_message(
            FLUSH_MESSAGE, lambda msg, **_: on_flush_request(environment), concurrent=True
        )
    if isinstance(runner, MasterRunner):
        runner.register_message(FLUSHED_MESSAGE, lambda msg, **_: on_flushed(environment, msg))
        runner.register_message("llmload_health", lambda msg, **_: on_health(environment, msg))


def count_sent(environment: Any, lines: int) -> None:
    """Worker: records handed to Locust's messaging in this run."""
    environment.llmload_sent = getattr(environment, "llmload_sent", 0) + lines


def count_received(environment: Any, node_id: str, lines: int) -> None:
    """Master: records received from each worker in this run."""
    received: dict[str, int] = environment.__dict__.setdefault("llmload_received", {})
    received[node_id] = received.get(node_id, 0) + lines


def report_sent(environment: Any) -> None:
    """Worker, after its last batch of a run went out: how many records it sent (ordered after them)."""
    sent = getattr(environment, "llmload_sent", 0)
    environment.llmload_sent = 0
    environment.runner.send_message(FLUSHED_MESSAGE, {"sent": sent})
    # Its users have stopped (test_stop comes after them). Locust's worker would still sleep
    # stop_timeout (120 s for llmload) before it is ready for the next run or handles "quit";
    # the master's next spawn message sets stop_timeout again.
    environment.stop_timeout = 0


def on_flush_request(environment: Any) -> None:
    """Worker: stop the users (in-flight requests finish); test_stop sends the last batch and the count."""
    runner = environment.runner
    if runner.state in (STATE_SPAWNING, STATE_RUNNING) and getattr(environment, "llmload", None) is not None:
        runner.stop()  # fires test_stop -> runtime.finish_run -> last batch, then report_sent
    else:
        report_sent(environment)  # nothing in flight: answer at once (0 unless something is left)


def on_flushed(environment: Any, msg: Any) -> None:
    sent: dict[str, int] = environment.__dict__.setdefault("llmload_sent_by", {})
    sent[msg.node_id] = sent.get(msg.node_id, 0) + int(msg.data["sent"])


def collect_workers(environment: Any) -> dict[str, Any]:
    """Master, at test_stop: the handshake above. Returns per-worker sent/received counts for meta.json."""
    runner = environment.runner
    answered: dict[str, int] = environment.__dict__.setdefault("llmload_sent_by", {})
    asked = set(runner.clients.keys()) - set(answered)
    for node_id in asked:
        runner.send_message(FLUSH_MESSAGE, None, client_id=node_id)
    deadline = time.monotonic() + (environment.stop_timeout or 0) + FLUSH_GRACE_S
    while time.monotonic() < deadline:
        if not (asked - set(answered)) & set(runner.clients.keys()):
            break
        gevent.sleep(0.05)
    return _tally(environment)


def _tally(environment: Any) -> dict[str, Any]:
    """{worker id: {"sent": n, "received": m}} for this run; logs an error where they differ."""
    received: dict[str, int] = environment.__dict__.pop("llmload_received", {})
    sent: dict[str, int] = environment.__dict__.pop("llmload_sent_by", {})
    workers = {
        node_id: {"sent": sent.get(node_id), "received": received.get(node_id, 0)}
        for node_id in sorted(set(sent) | set(received))
    }
    lost = {n: w for n, w in workers.items() if w["sent"] is not None and w["sent"] != w["received"]}
    if lost:
        log.error("records lost between workers and master: %s", json.dumps(lost))
    return workers
