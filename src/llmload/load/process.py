"""What llmload keeps in one Locust process, typed: its role, the run in progress and the pieces around it
(health samples, telemetry, the target watch, the workers' record counts, the web UI's view). Attached once
to Locust's Environment (events.init: attach) and read back with process_state."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from locust.runners import MasterRunner, WorkerRunner

from llmload.load.live import LiveStats

if TYPE_CHECKING:
    from llmload.load.context import RunContext
    from llmload.load.failures import TargetWatch
    from llmload.load.health import HealthSampler
    from llmload.records import RecordWriter
    from llmload.telemetry.run_telemetry import Telemetry


class Role(Enum):
    LOCAL = "local"  # sends the requests and writes the run directory
    MASTER = "master"  # runs the plan and writes the run directory; its workers send the requests
    WORKER = "worker"  # sends requests and forwards their records to the master (load.distributed)


@dataclass
class RecordCounts:
    """A distributed run's record counts, for the end-of-run handshake (load.distributed)."""

    sent: int = 0  # worker: records it handed to Locust's messaging
    received: dict[str, int] = field(default_factory=dict)  # master: records received per worker
    reported: dict[str, int] = field(default_factory=dict)  # master: records each worker says it sent


@dataclass
class WebUiView:
    """The web UI's state (load.webui): the live figures and the last finished run's report."""

    live: LiveStats = field(default_factory=LiveStats)
    last_run_dir: Path | None = None
    report_state: str | None = None  # "building", "ready" or "failed: ..."
    quitting: bool = False  # Locust is shutting down: a report is built before it exits


@dataclass
class ProcessState:
    role: Role
    run: RunContext | None = None  # the run in progress (load.run_lifecycle), None between runs
    health_log: RecordWriter | None = None  # generator.jsonl of the run (local runner, master)
    outbox: list[str] = field(default_factory=list)  # worker: records waiting to go to the master
    health_outbox: list[str] = field(default_factory=list)  # worker: health samples waiting likewise
    sampler: HealthSampler | None = None
    telemetry: Telemetry | None = None
    watch: TargetWatch | None = None
    stop_reason: str | None = None  # set once the target is lost: the shape's next tick ends the run
    counts: RecordCounts = field(default_factory=RecordCounts)
    web: WebUiView | None = None  # with a web UI only
    # worker: the master's first step (its rate, or its part of a trace) when it came before the run's options
    # (the master's shape starts step 0 before it sends its workers the spawn message): applied at the run's start
    early_step: Any = None


def attach(environment: Any) -> ProcessState:
    """events.init: the state of this process (its runner and web UI exist by then)."""
    runner = environment.runner
    role = Role.LOCAL
    if isinstance(runner, WorkerRunner):
        role = Role.WORKER
    elif isinstance(runner, MasterRunner):
        role = Role.MASTER
    web = WebUiView() if getattr(environment, "web_ui", None) is not None else None
    state = ProcessState(role, web=web)
    environment.llmload = state
    return state


def process_state(environment: Any) -> ProcessState:
    state: ProcessState = environment.llmload
    return state
