"""Glue between Locust's runners/events and the run context: one place that knows whether this
process is local, master or worker, where records go, and what happens when a test ends."""

from __future__ import annotations

import gc
import json
import logging
import signal
import sys
import threading
from typing import Any

import gevent
from locust.runners import MasterRunner, WorkerRunner

from llmload.client.clock import wall_clock
from llmload.load import distributed
from llmload.load.context import RunContext, create_context, write_meta
from llmload.load.failures import TargetWatch
from llmload.load.health import HealthSampler
from llmload.records import Record, RecordWriter

log = logging.getLogger("llmload")
RECORDS_MESSAGE = "llmload_records"
HEALTH_MESSAGE = "llmload_health"
RATE_MESSAGE = "llmload_rate"
FORWARD_EVERY_S = 0.5


def get_context(environment: Any) -> RunContext:
    ctx: RunContext | None = getattr(environment, "llmload", None)
    if ctx is None:
        is_worker = isinstance(environment.runner, WorkerRunner)
        ctx = create_context(environment.parsed_options, environment.host or "", is_worker)
        environment.llmload = ctx
        if is_worker:
            environment.llmload_outbox = []
            environment.llmload_health_outbox = []
            gevent.spawn(_forward_loop, environment)
            sink = environment.llmload_health_outbox.append
        else:
            log.info("llmload run directory: %s", ctx.settings.run_dir)
            environment.llmload_health = RecordWriter(ctx.settings.run_dir / "generator.jsonl")
            sink = environment.llmload_health.write_line
            environment.llmload_telemetry = _start_telemetry(environment, ctx)
        if not isinstance(environment.runner, MasterRunner):  # the master sends no requests
            environment.llmload_sampler = HealthSampler(sink, ctx.worker_tag)
            environment.llmload_sampler.start()
            settle_heap()
    return ctx


def settle_heap() -> None:
    """Puts everything alive before the load starts (modules, Locust, the dataset) out of the garbage
    collector's reach (gc.freeze). Otherwise a full collection walks all of it with the process stopped, and
    a request whose clock started just before such a pause counts the pause in its TTFT (a 256-stream run:
    one full collection of 23.5 ms mid-run, TTFT p99 error +10.9 ms; frozen, that collection took 2.6 ms)."""
    gc.collect()
    gc.freeze()


def _start_telemetry(environment: Any, ctx: RunContext) -> Any:
    """Local runner or master: sample the target's /metrics (and local GPUs) for the whole run."""
    from llmload.telemetry.run_telemetry import parse_interval_s, start_run_telemetry

    interval_s = parse_interval_s(str(getattr(environment.parsed_options, "metrics_interval", "1s")))
    return start_run_telemetry(ctx.settings.run_dir, ctx.settings.host, interval_s)


def on_cpu_warning(environment: Any, cpu_usage: float, **_: Any) -> None:
    """Locust's own CPU warning (>90% of a core) is kept beside our samples."""
    writer = getattr(environment, "llmload_health", None)
    line = json.dumps({"t_s": wall_clock(), "cpu_warning": True, "cpu_percent": cpu_usage})
    if writer is not None:
        writer.write_line(line)
    elif getattr(environment, "llmload_health_outbox", None) is not None:
        environment.llmload_health_outbox.append(line)


def submit_record(environment: Any, record: Record) -> None:
    ctx = get_context(environment)
    if ctx.recorder is not None:
        ctx.recorder.record(record)
        _feed_live(environment, record)
        watch_target(environment, ctx, record)
    else:
        environment.llmload_outbox.append(record.to_json())


def _feed_live(environment: Any, record: Record) -> None:
    live = getattr(environment, "llmload_live", None)  # the web UI's aggregator (load.webui), if any
    if live is not None:
        live.add(record)


def install_stop_signals() -> None:
    """SIGTERM and SIGINT both raise KeyboardInterrupt, Locust's graceful path (users finish the request
    they are in, test_stop writes the records' end and the report). Locust's own SIGTERM handler is
    installed only after a shape test ends, so without this a SIGTERM would kill the process outright;
    SIGINT may arrive ignored from a background launcher.

    The KeyboardInterrupt is thrown into the main greenlet (where Locust waits for the run) by gevent's
    hub: a plain Python handler raises it in whichever greenlet runs when the signal lands, and in a user
    greenlet mid-request that killed the request without its record (1 of 107 lost in a fresh-clone run)."""
    if threading.current_thread() is threading.main_thread():
        main = gevent.getcurrent()
        for sig in (signal.SIGINT, signal.SIGTERM):
            gevent.signal_handler(sig, gevent.kill, main, KeyboardInterrupt)


def watch_target(environment: Any, ctx: RunContext, record: Record) -> None:
    """Stops the run, marked partial, once the target is lost (load.failures.TargetWatch)."""
    watch: TargetWatch | None = getattr(environment, "llmload_watch", None)
    if watch is None:
        watch = environment.llmload_watch = TargetWatch(ctx.settings.timeouts.connect_s)
    if not watch.observe(record.end_s, record.error_kind) or getattr(environment, "llmload_stop_reason", None):
        return
    environment.llmload_stop_reason = watch.reason()  # the shape's next tick ends the run (load.shape)
    log.error("llmload: %s", watch.reason())


def _forward_loop(environment: Any) -> None:
    while getattr(environment, "llmload", None) is not None:
        gevent.sleep(FORWARD_EVERY_S)
        flush_outbox(environment)


def flush_outbox(environment: Any) -> None:
    for attribute, message in (
        ("llmload_outbox", RECORDS_MESSAGE),
        ("llmload_health_outbox", HEALTH_MESSAGE),
    ):
        outbox: list[str] = getattr(environment, attribute, [])
        if outbox:
            lines = outbox[:]
            del outbox[:]
            environment.runner.send_message(message, lines)
            if message == RECORDS_MESSAGE:
                distributed.count_sent(environment, len(lines))


def on_records_message(environment: Any, msg: Any, **_: Any) -> None:
    """Master: records forwarded by a worker are written exactly once, as they arrive."""
    ctx: RunContext | None = getattr(environment, "llmload", None)
    distributed.count_received(environment, msg.node_id, len(msg.data))
    if ctx is None or ctx.recorder is None:  # after the run's end (the handshake timed out): never a new run
        log.error("%d records from %s arrived after the run ended; not written", len(msg.data), msg.node_id)
        return
    for line in msg.data:
        record = Record.from_dict(json.loads(line))
        ctx.recorder.record_line(line, record)
        _feed_live(environment, record)
        watch_target(environment, ctx, record)


def on_health_message(environment: Any, msg: Any) -> None:
    """Master: workers' generator-health samples go to generator.jsonl beside the master's own."""
    writer = getattr(environment, "llmload_health", None)
    if writer is not None and getattr(environment, "llmload", None) is not None:
        for line in msg.data:
            writer.write_line(line)


def set_arrival_rate(environment: Any, rate_rps: float, now_s: float) -> None:
    """Open loop: the step's rate, split evenly across the processes that send requests."""
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        workers = max(1, runner.worker_count)
        runner.send_message(RATE_MESSAGE, {"rate_rps": rate_rps / workers, "at_s": now_s})
    else:
        get_context(environment).arrivals.set_rate(rate_rps, now_s)


def on_rate_message(environment: Any, msg: Any, **_: Any) -> None:
    get_context(environment).arrivals.set_rate(float(msg.data["rate_rps"]), float(msg.data["at_s"]))


def register_messages(environment: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.register_message(RATE_MESSAGE, lambda msg, **kw: on_rate_message(environment, msg))
    if isinstance(environment.runner, MasterRunner):
        environment.runner.register_message(
            RECORDS_MESSAGE, lambda msg, **kw: on_records_message(environment, msg)
        )
    distributed.register(environment, on_health_message)


def finish_run(environment: Any) -> None:
    """test_stop: close files, rebuild the report from the raw records, drop the context."""
    ctx: RunContext | None = getattr(environment, "llmload", None)
    if ctx is None:
        return
    sampler = getattr(environment, "llmload_sampler", None)
    if sampler is not None:
        sampler.stop()
    telemetry = getattr(environment, "llmload_telemetry", None)
    if telemetry is not None:
        telemetry.stop()
        environment.llmload_telemetry = None
    ctx.dispatcher().stop()
    if ctx.recorder is None:
        flush_outbox(environment)
        environment.llmload = None
        distributed.report_sent(environment)
        return
    extra: dict[str, Any] = {}
    if isinstance(environment.runner, MasterRunner):  # the workers' last batches (load.distributed)
        extra["workers"] = distributed.collect_workers(environment)
    stopped_reason = getattr(environment, "llmload_stop_reason", None)
    if stopped_reason:
        extra["stopped_reason"] = stopped_reason
    environment.llmload_stop_reason = None
    environment.llmload_watch = None
    ended_s = wall_clock()
    ctx.recorder.close(ended_s)
    environment.llmload_health.close()
    write_meta(
        ctx.settings, ctx.target, ctx.run_id, ended_s=ended_s, records=ctx.recorder.records.count, **extra
    )
    environment.llmload = None
    environment.llmload_last_run_dir = ctx.settings.run_dir
    if getattr(environment, "web_ui", None) is not None:  # the UI stays live while the report builds
        from llmload.load.webui import build_report_in_background

        build_report_in_background(environment, ctx.settings.run_dir)
        return
    try:
        from llmload.report.build import build_report

        result = build_report(ctx.settings.run_dir)
        print(f"llmload report: {result.html_path}", file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - the raw records are safe; say why the report failed
        log.error("report failed (rebuild with `llmload report %s`): %s", ctx.settings.run_dir, exc)
