"""One test run inside a Locust process, from its first use to test_stop: the run context is created
(load.context), each record and health sample goes where this process's role sends it (the recorder, or the
master), the target is watched, and at the end the files are closed. Who builds the report then is
load.plate_detection's choice (build_report here, the web UI's background build, or `llmload run` itself)."""

from __future__ import annotations

import gc
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import gevent

from llmload.client.clock import wall_clock
from llmload.load import distributed
from llmload.load.arrivals import ArrivalSchedule
from llmload.load.context import RunContext, create_context, locustfile_facts, write_meta
from llmload.load.failures import TargetWatch
from llmload.load.health import HealthSampler
from llmload.load.live import LiveStats
from llmload.load.process import ProcessState, Role, process_state
from llmload.load.trace_schedule import TraceSchedule
from llmload.records import Record, RecordWriter, parse_json_line
from llmload.rundir import GENERATOR, read_meta
from llmload.step_stop import INFLIGHT
from llmload.target_time import target_gpus, target_time
from llmload.telemetry.run_telemetry import start_run_telemetry

log = logging.getLogger("llmload")


def get_context(environment: Any) -> RunContext:
    """The run in progress; the first use of a run (the shape's first tick or test_start) starts it."""
    state = process_state(environment)
    if state.run is None:
        is_worker = state.role is Role.WORKER
        own = locustfile_facts(environment)
        state.run = create_context(environment.parsed_options, environment.host or "", is_worker, own)
        _start_run(environment, state, state.run)
    return state.run


def _start_run(environment: Any, state: ProcessState, ctx: RunContext) -> None:
    settings = ctx.settings
    if state.role is Role.WORKER:
        distributed.start_forwarding(environment)  # while there is a run
        sink = state.health_outbox.append
    else:
        log.info("llmload run directory: %s", settings.run_dir)
        state.health_log = RecordWriter(settings.run_dir / GENERATOR)
        sink = state.health_log.write_line
        state.telemetry = start_run_telemetry(settings.run_dir, settings.host, settings.metrics_interval_s)
    if state.web is not None:
        warmup = INFLIGHT if settings.auto_steps and settings.warmup == "auto" else settings.warmup
        state.web.live = LiveStats(settings.run_dir, ctx.time_scale, warmup)
    if state.role is not Role.MASTER:  # the master sends no requests
        state.sampler = HealthSampler(sink, ctx.worker_tag)
        state.sampler.start()
        settle_heap()
    if state.early_step is not None:
        early, state.early_step = state.early_step, None
        gevent.spawn(on_rate_message, environment, early)  # once this run is in place


def settle_heap() -> None:
    """Puts everything alive before the load starts (modules, Locust, the dataset) out of the garbage
    collector's reach (gc.freeze). Otherwise a full collection walks all of it with the process stopped, and
    a request whose clock started just before such a pause counts the pause in its TTFT (a 256-stream run:
    one full collection of 23.5 ms mid-run, TTFT p99 error +10.9 ms; frozen, that collection took 2.6 ms)."""
    gc.collect()
    gc.freeze()


def on_cpu_warning(environment: Any, cpu_usage: float, **_: Any) -> None:
    """Locust's own CPU warning (>90% of a core) is kept beside our samples."""
    state = process_state(environment)
    line = json.dumps({"t_s": wall_clock(), "cpu_warning": True, "cpu_percent": cpu_usage})
    if state.health_log is not None:
        state.health_log.write_line(line)
    elif state.role is Role.WORKER:
        state.health_outbox.append(line)


def submit_record(environment: Any, record: Record) -> None:
    ctx = get_context(environment)
    state = process_state(environment)
    if ctx.recorder is not None:
        ctx.recorder.record(record)
        _observe(state, ctx, record)
    else:
        state.outbox.append(record.to_json())


def _observe(state: ProcessState, ctx: RunContext, record: Record) -> None:
    """A recorded request, seen by the web UI's live figures and by the target watch."""
    if state.web is not None:
        state.web.live.add(record)
    watch_target(state, ctx, record)


def watch_target(state: ProcessState, ctx: RunContext, record: Record) -> None:
    """Stops the run, marked partial, once the target is lost (load.failures.TargetWatch)."""
    if state.watch is None:
        state.watch = TargetWatch(ctx.settings.timeouts.connect_s)
    if not state.watch.observe(record.end_s, record.error_kind) or state.stop_reason:
        return
    state.stop_reason = state.watch.reason()  # the shape's next tick ends the run (load.shape)
    log.error("llmload: %s", state.stop_reason)


def install_stop_signals() -> None:
    """SIGTERM and SIGINT both raise KeyboardInterrupt, Locust's graceful path (users finish the request
    they are in, test_stop writes the records' end and the report). Locust's own SIGTERM handler is
    installed only after a shape test ends, so without this a SIGTERM would kill the process outright;
    SIGINT may arrive ignored from a background launcher.

    The KeyboardInterrupt is thrown into the main greenlet (where Locust waits for the run) by gevent's
    hub: a plain Python handler raises it in whichever greenlet runs when the signal lands, and in a user
    greenlet mid-request that would kill the request without its record."""
    if threading.current_thread() is threading.main_thread():
        main = gevent.getcurrent()
        for sig in (signal.SIGINT, signal.SIGTERM):
            gevent.signal_handler(sig, gevent.kill, main, KeyboardInterrupt)


def on_records_message(environment: Any, msg: Any) -> None:
    """Master: records forwarded by a worker are written exactly once, as they arrive."""
    state = process_state(environment)
    distributed.count_received(state, msg.node_id, len(msg.data))
    ctx = state.run
    if ctx is None or ctx.recorder is None:  # after the run's end (the handshake timed out): never a new run
        log.error("%d records from %s arrived after the run ended; not written", len(msg.data), msg.node_id)
        return
    for line in msg.data:
        record = Record.from_dict(parse_json_line(line))
        ctx.recorder.record_line(line, record)
        _observe(state, ctx, record)


def on_health_message(environment: Any, msg: Any) -> None:
    """Master: workers' generator-health samples go to generator.jsonl beside the master's own."""
    state = process_state(environment)
    if state.health_log is not None and state.run is not None:
        for line in msg.data:
            state.health_log.write_line(line)


def set_arrival_rate(environment: Any, rate_rps: float, now_s: float, step: int = 0) -> None:
    """Open loop: the step's rate, split evenly across the processes that send requests; a trace's step: its
    speed-up, each process its part of the requests (load.trace_schedule)."""
    settings = get_context(environment).settings
    master = process_state(environment).role is Role.MASTER
    if settings.trace:
        speed, cut_s = settings.trace_speeds[step], settings.trace_step_s
        if master:
            distributed.send_trace_step(environment, speed, now_s, cut_s)
        else:
            _trace_schedule(environment).start(speed, now_s, cut_s)
    elif master:
        distributed.send_rate(environment, rate_rps, now_s)
    else:
        _rate_schedule(environment).set_rate(rate_rps, now_s)
    if not master:
        get_context(environment).dispatcher().wake()


def set_join_spread(environment: Any, spread_s: float, joiners: int = 0) -> None:
    """Auto steps: the `joiners` users the next step adds send their first request at random moments of the
    next `spread_s` wall seconds (one answer), stratified, in every process that sends requests (a worker its
    share of them: RunContext.set_join)."""
    if process_state(environment).role is Role.MASTER:
        distributed.send_join_spread(environment, spread_s, joiners)
    else:
        get_context(environment).set_join(spread_s, joiners)


def on_rate_message(environment: Any, msg: Any) -> None:
    """The master's word for this worker's next step: its arrival rate, its part of a trace's speed-up, or the
    join spread of auto steps."""
    state = process_state(environment)
    data = msg.data
    if "join_spread_s" in data:
        if state.run is not None:  # none yet before its first users: nothing to spread then
            state.run.set_join(float(data["join_spread_s"]), int(data.get("joiners", 0)))
        return
    if state.run is None and not environment.host:  # before the spawn message: no options to start a run with
        state.early_step = msg
        return
    if "trace_speed" in data:
        _trace_schedule(environment).start(
            float(data["trace_speed"]), float(data["at_s"]), float(data["cut_s"]), int(data["part"]), int(data["parts"])
        )
    else:
        _rate_schedule(environment).set_rate(float(data["rate_rps"]), float(data["at_s"]))
    get_context(environment).dispatcher().wake()


def _trace_schedule(environment: Any) -> TraceSchedule:
    schedule = get_context(environment).arrivals
    assert isinstance(schedule, TraceSchedule)
    return schedule


def _rate_schedule(environment: Any) -> ArrivalSchedule:
    schedule = get_context(environment).arrivals
    assert isinstance(schedule, ArrivalSchedule)
    return schedule


def register_messages(environment: Any) -> None:
    distributed.register(environment, on_records_message, on_health_message, on_rate_message)


def finish_run(environment: Any) -> Path | None:
    """test_stop: stop the samplers, close the run's files, drop the run; returns its run directory (None in a
    worker, which sends its last records instead, or when no run was in progress)."""
    state = process_state(environment)
    ctx = state.run
    if ctx is None:
        return None
    if state.sampler is not None:
        state.sampler.stop()
        state.sampler = None
    if state.telemetry is not None:
        state.telemetry.stop()
        state.telemetry = None
    ctx.dispatcher().stop()
    if ctx.recorder is None:
        distributed.flush_outbox(environment)
        state.run = None
        distributed.report_sent(environment)
        return None
    extra: dict[str, Any] = {}
    if state.role is Role.MASTER:  # the workers' last batches (load.distributed)
        extra["workers"] = distributed.collect_workers(environment)
    if state.stop_reason:
        extra["stopped_reason"] = state.stop_reason
    state.stop_reason, state.watch = None, None
    ended_s = wall_clock()
    ctx.recorder.close(ended_s)
    if state.health_log is not None:
        state.health_log.close()
        state.health_log = None
    gpus, gpus_from = target_gpus(ctx.settings.target_gpus, ctx.target)
    started_s = float(read_meta(ctx.settings.run_dir).get("started_s", ended_s))
    extra["target_time"] = target_time(ended_s - started_s, ctx.time_scale, gpus, gpus_from)
    write_meta(
        ctx.settings, ctx.target, ctx.run_id, ended_s=ended_s, records=ctx.recorder.records.count, **extra
    )
    state.run = None
    return ctx.settings.run_dir


def build_report(run_dir: Path) -> None:
    """The report of a run that ended in this process (headless, not under `llmload run`)."""
    try:
        # imported here: the report loads pandas and matplotlib, which the load itself never needs
        from llmload.report.build import build_report as build

        result = build(run_dir)
        print(f"llmload report: {result.html_path}", file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - the raw records are safe; say why the report failed
        log.error("report failed (rebuild with `llmload report %s`): %s", run_dir, exc)
