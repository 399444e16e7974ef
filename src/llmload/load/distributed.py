"""Distributed runs: every record a worker made reaches the master's records.jsonl exactly once.

Workers stream records (and generator-health samples) to the master in batches every FORWARD_EVERY_S
(RECORDS_MESSAGE / HEALTH_MESSAGE); the master sends each step's arrival rate, or its part of a trace, to the
workers (RATE_MESSAGE). The end of a run is a handshake, because Locust's headless
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
from collections.abc import Callable
from typing import Any

import gevent
from locust.runners import STATE_RUNNING, STATE_SPAWNING, MasterRunner, WorkerRunner

from llmload.load.process import ProcessState, RecordCounts, process_state

log = logging.getLogger("llmload")
RECORDS_MESSAGE = "llmload_records"
HEALTH_MESSAGE = "llmload_health"
RATE_MESSAGE = "llmload_rate"
FLUSH_MESSAGE = "llmload_flush"
FLUSHED_MESSAGE = "llmload_flushed"
FORWARD_EVERY_S = 0.5
FLUSH_GRACE_S = 30.0

Handler = Callable[[Any, Any], None]  # (environment, message)


def register(environment: Any, on_records: Handler, on_health: Handler, on_rate: Handler) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.register_message(RATE_MESSAGE, lambda msg, **_: on_rate(environment, msg))
        runner.register_message(
            FLUSH_MESSAGE, lambda msg, **_: on_flush_request(environment), concurrent=True
        )
    if isinstance(runner, MasterRunner):
        runner.register_message(RECORDS_MESSAGE, lambda msg, **_: on_records(environment, msg))
        runner.register_message(FLUSHED_MESSAGE, lambda msg, **_: on_flushed(environment, msg))
        runner.register_message(HEALTH_MESSAGE, lambda msg, **_: on_health(environment, msg))


def start_forwarding(environment: Any) -> None:
    """Worker: sends the outboxes to the master every FORWARD_EVERY_S while a run is in progress."""
    gevent.spawn(_forward_loop, environment)


def _forward_loop(environment: Any) -> None:
    state = process_state(environment)
    while state.run is not None:
        gevent.sleep(FORWARD_EVERY_S)
        flush_outbox(environment)


def flush_outbox(environment: Any) -> None:
    state = process_state(environment)
    for outbox, message in ((state.outbox, RECORDS_MESSAGE), (state.health_outbox, HEALTH_MESSAGE)):
        if outbox:
            lines = outbox[:]
            del outbox[:]
            environment.runner.send_message(message, lines)
            if message == RECORDS_MESSAGE:
                state.counts.sent += len(lines)  # records handed to Locust's messaging in this run


def send_rate(environment: Any, rate_rps: float, now_s: float) -> None:
    """Master: an open-loop step's rate, split evenly across the workers."""
    workers = max(1, environment.runner.worker_count)
    environment.runner.send_message(RATE_MESSAGE, {"rate_rps": rate_rps / workers, "at_s": now_s})


def send_trace_step(environment: Any, speed: float, now_s: float, cut_s: float) -> None:
    """Master: a trace step's speed-up, and to each worker its part of the trace's requests (part k of n: every
    request leaves from exactly one worker)."""
    runner = environment.runner
    workers = sorted(runner.clients.keys())
    for part, node_id in enumerate(workers):
        step = {"trace_speed": speed, "at_s": now_s, "cut_s": cut_s, "part": part, "parts": len(workers)}
        runner.send_message(RATE_MESSAGE, step, client_id=node_id)


def send_join_spread(environment: Any, spread_s: float, joiners: int) -> None:
    """Master: how long the users the next auto step adds spread their first requests over, and how many of
    them each worker adds, about (on RATE_MESSAGE)."""
    share = -(-joiners // max(1, len(environment.runner.clients)))
    environment.runner.send_message(RATE_MESSAGE, {"join_spread_s": spread_s, "joiners": share})


def count_received(state: ProcessState, node_id: str, lines: int) -> None:
    """Master: records received from each worker in this run."""
    state.counts.received[node_id] = state.counts.received.get(node_id, 0) + lines


def report_sent(environment: Any) -> None:
    """Worker, after its last batch of a run went out: how many records it sent (ordered after them)."""
    state = process_state(environment)
    sent, state.counts.sent = state.counts.sent, 0
    environment.runner.send_message(FLUSHED_MESSAGE, {"sent": sent})
    # Its users have stopped (test_stop comes after them). Locust's worker would still sleep
    # stop_timeout (120 s for llmload) before it is ready for the next run or handles "quit";
    # the master's next spawn message sets stop_timeout again.
    environment.stop_timeout = 0


def on_flush_request(environment: Any) -> None:
    """Worker: stop the users (in-flight requests finish); test_stop sends the last batch and the count."""
    runner = environment.runner
    if runner.state in (STATE_SPAWNING, STATE_RUNNING) and process_state(environment).run is not None:
        runner.stop()  # fires test_stop -> run_lifecycle.finish_run -> last batch, then report_sent
    else:
        report_sent(environment)  # nothing in flight: answer at once (0 unless something is left)


def on_flushed(environment: Any, msg: Any) -> None:
    reported = process_state(environment).counts.reported
    reported[msg.node_id] = reported.get(msg.node_id, 0) + int(msg.data["sent"])


def collect_workers(environment: Any) -> dict[str, Any]:
    """Master, at test_stop: the handshake above. Returns per-worker sent/received counts for meta.json."""
    runner = environment.runner
    state = process_state(environment)
    answered = state.counts.reported
    asked = set(runner.clients.keys()) - set(answered)
    for node_id in asked:
        runner.send_message(FLUSH_MESSAGE, None, client_id=node_id)
    deadline = time.monotonic() + (environment.stop_timeout or 0) + FLUSH_GRACE_S
    while time.monotonic() < deadline:
        if not (asked - set(answered)) & set(runner.clients.keys()):
            break
        gevent.sleep(0.05)
    return _tally(state)


def _tally(state: ProcessState) -> dict[str, Any]:
    """{worker id: {"sent": n, "received": m}} for this run (the counts start again); logs an error where
    they differ."""
    received, sent = state.counts.received, state.counts.reported
    state.counts = RecordCounts(sent=state.counts.sent)
    workers = {
        node_id: {"sent": sent.get(node_id), "received": received.get(node_id, 0)}
        for node_id in sorted(set(sent) | set(received))
    }
    lost = {n: w for n, w in workers.items() if w["sent"] is not None and w["sent"] != w["received"]}
    if lost:
        log.error("records lost between workers and master: %s", json.dumps(lost))
    return workers
