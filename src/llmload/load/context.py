"""The state of one test run inside a Locust process: settings, target facts, workload, recorder.

Created lazily on the first use of a run (the shape's first tick or test_start, whichever comes first)
and dropped at test_stop, so each run started from the web UI gets its own run directory.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass, field, replace
from itertools import count
from pathlib import Path
from typing import Any

from llmload.client.blocking_http import served_models, server_version, simulator_info
from llmload.client.clock import wall_clock
from llmload.load.arrivals import ArrivalSchedule
from llmload.load.dispatcher import ArrivalDispatcher
from llmload.load.recorder import RunRecorder
from llmload.load.run_options import locust_values, parse_run_values
from llmload.load.settings import LoadSettings, settings_from
from llmload.load.trace_schedule import TraceSchedule
from llmload.load.workload_setup import Workload, build_workload
from llmload.rundir import META_SCHEMA, read_meta, update_meta
from llmload.scenarios.plates.comment_dataset import dataset_sha256
from llmload.serve.serve_meta import find_serve_meta
from llmload.version import __version__

log = logging.getLogger("llmload")


def join_delay_s(joined: int, slots: int, uniform: float, spread_s: float) -> float:
    """The wait of the user that joins after `joined` others, from a uniform draw in [0, 1): in the k-th of
    `slots` equal parts of `spread_s` (stratified; anywhere in it without slots)."""
    if slots <= 0:
        return uniform * spread_s
    return (joined % slots + uniform) / slots * spread_s


@dataclass
class RunContext:
    settings: LoadSettings
    workload: Workload | None  # None: the run's users are a locustfile's own (their tasks build the requests)
    recorder: RunRecorder | None  # None on distributed workers: they forward records to the master
    target: dict[str, Any]
    run_id: str
    worker_tag: str
    _user_ids: Any = field(default_factory=count)
    arrivals: ArrivalSchedule | TraceSchedule = field(default_factory=ArrivalSchedule)
    _dispatcher: ArrivalDispatcher | None = None
    # auto steps: a user added by the step waits a random part of this (wall s) before its first request,
    # one answer at its level: added users join at every phase of the cycle, as in a loop that has run for
    # long, not in lock-step (load.shape); with `join_slots` (the users this process adds) stratified, the k-th
    # in the k-th of as many equal parts, so that their phases spread evenly, not in random clumps
    join_spread_s: float = 0.0
    join_slots: int = 0
    _joined: int = 0

    def set_join(self, spread_s: float, slots: int) -> None:
        self.join_spread_s, self.join_slots, self._joined = spread_s, slots, 0

    def join_delay_s(self, uniform: float) -> float:
        """The wait of the next user to join, from a uniform draw in [0, 1)."""
        self._joined += 1
        return join_delay_s(self._joined - 1, self.join_slots, uniform, self.join_spread_s)

    def dispatcher(self) -> ArrivalDispatcher:
        if self._dispatcher is None:
            self._dispatcher = ArrivalDispatcher(self.arrivals, wall_clock)
        return self._dispatcher

    @property
    def time_scale(self) -> float:
        return float(self.target.get("time_scale") or 1.0)

    def next_user_index(self) -> int:
        return int(next(self._user_ids))

    def step_rate(self, index: int) -> float:
        """An open-loop step's offered rate (req/s): --rate's, or the trace's at the step's speed-up."""
        settings = self.settings
        if not settings.trace:
            return settings.rates[index]
        trace = self.workload.trace if self.workload is not None else None
        assert trace is not None, "a --trace run builds its trace (create_context)"
        speed, length_s = settings.trace_speeds[index], settings.trace_step_s
        return TraceSchedule(trace.arrivals_s).offered_rps(speed, length_s)


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.localtime()) + f"-{os.getpid() % 10000:04d}"


def discover_target(settings: LoadSettings, describe: bool = True) -> tuple[LoadSettings, dict[str, Any]]:
    """Asks the server for its models (and, for llmload's simulator, its profile and time scale); with
    ``describe`` also its version and a live `llmload serve`'s facts, which only the run's meta.json needs."""
    models, _ = served_models(settings.host, settings.api_key, settings.model)  # `llmload run` warned already
    if not settings.model:
        if not models:
            raise RuntimeError(f"{settings.host} serves no model")
        settings = replace(settings, model=models[0])
    sim = simulator_info(settings.host)
    target: dict[str, Any] = {
        "host": settings.host,
        "models": models,
        "simulated": sim is not None,
        "time_scale": float(sim["time_scale"]) if sim else 1.0,
    }
    if sim:
        target["sim"] = sim
    if not describe:
        return settings, target
    target["server_version"] = server_version(settings.host)
    served = find_serve_meta(settings.host, serve_folders())
    if served:
        target["serve"] = served  # argv, vLLM version, GPU inventory of a live `llmload serve`
    return settings, target


def serve_folders() -> list[Path]:
    """Where `llmload serve` leaves serve_meta.json: $LLMLOAD_SERVE_DIR, else reports/serve-* (cwd)."""
    given = os.environ.get("LLMLOAD_SERVE_DIR")
    if given:
        return [Path(given)]
    return sorted(Path("reports").glob("serve-*"))


def locustfile_facts(environment: Any) -> dict[str, Any] | None:
    """A locustfile of one's own (no user class sends the run's --dataset): its path, SHA-256 and user classes
    with their weights, for meta.json; None for llmload's own locustfile."""
    classes = list(environment.user_classes or [])
    if any(getattr(cls, "sends_workload", False) for cls in classes):
        return None
    paths = getattr(environment, "parsed_locustfiles", None) or [environment.locustfile or ""]
    path = str(paths[0])
    facts: dict[str, Any] = {"path": path, "users": {cls.__name__: {"weight": cls.weight} for cls in classes}}
    if Path(path).is_file():
        facts["sha256"] = dataset_sha256(path)
    return facts


def create_context(
    options: Any, host: str, is_worker: bool, locustfile: dict[str, Any] | None = None
) -> RunContext:
    """A new run from Locust's parsed options and --host (checked as `llmload run` checks them); `locustfile`:
    the facts of a locustfile of one's own, whose tasks send the requests (no --dataset is built)."""
    run_id = new_run_id()
    values = parse_run_values(locust_values(options, host), on_locust=True)
    settings = settings_from(values, Path("reports") / run_id)
    settings, target = discover_target(settings, describe=not is_worker)
    tag = f"{socket.gethostname()}:{os.getpid()}"
    workload = None
    if locustfile is None:
        workload = build_workload(settings, start=zlib.crc32(tag.encode()) if is_worker else 0)
    else:  # now, not at self.openai's first use: the import would stall every user of this process mid-step
        from llmload.load import openai_shape  # noqa: F401
    recorder = None
    if not is_worker:
        settings.run_dir.mkdir(parents=True, exist_ok=True)
        recorder = RunRecorder(settings.run_dir, time_scale=float(target["time_scale"]))
        recorder.total_steps = settings.step_count
        recorder.step_duration_s = settings.step_duration_s
        source = {"dataset": workload.facts} if workload is not None else {"locustfile": locustfile}
        write_meta(settings, target, run_id, **source)
        for line in workload.warnings if workload is not None else ():
            log.warning("llmload: warning: %s", line)
    ctx = RunContext(settings, workload, recorder, target, run_id, tag)
    trace = workload.trace if workload is not None else None
    ctx.arrivals = TraceSchedule(trace.arrivals_s) if trace else ArrivalSchedule(settings.arrival, seed=os.getpid())
    return ctx


def write_meta(settings: LoadSettings, target: dict[str, Any], run_id: str, **extra: Any) -> None:
    """The run's facts in meta.json, at its start (with the workload's `dataset` facts) and, with how it
    ended in `extra`, at its end."""
    update_meta(
        settings.run_dir,
        schema=META_SCHEMA,
        run_id=run_id,
        llmload_version=__version__,
        git_commit=_git_commit(),
        command=_redacted_argv(sys.argv, settings.api_key),
        started_s=read_meta(settings.run_dir).get("started_s", wall_clock()),
        options=settings.public_dict(),
        target=target,
        **extra,
    )


def _redacted_argv(argv: list[str], api_key: str | None) -> list[str]:
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append("***")
            hide_next = False
        elif arg == "--api-key":
            out.append(arg)
            hide_next = True
        elif arg.startswith("--api-key="):
            out.append("--api-key=***")
        else:
            out.append(arg.replace(api_key, "***") if api_key else arg)
    return out


def _git_commit() -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None
