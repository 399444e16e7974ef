"""llmload's built-in load test as a Locust module: `locust -f` this file (or locustfiles/plate_detection.py).
It sends the run's --dataset (the plate-detection scenario by default; any workload of llmload.scenarios).

It wires Locust's events to llmload: the run options on Locust's parser, this process's state, the web UI,
a run's start and end, and who builds the report when a run ends."""

from __future__ import annotations

import logging
import os
from typing import Any

from locust import events

from llmload.load import process, run_lifecycle, run_options, shape, user, webui
from llmload.load.locust_command import LAUNCHED_BY_RUN

# Modules, not classes, are imported: Locust takes every User/LoadTestShape class it finds in this namespace.


class PlateDetectionUser(user.LlmUser):
    """The run's workload (--dataset): batches of comments scored for plates by default, or any dataset's
    requests."""


class PlateStepShape(shape.StepLoadShape):
    """Steps through --step-users, --step-duration each."""

    def reset_time(self) -> None:
        # Locust's master calls reset_time a second time, in its first start() after the first tick
        # (MasterRunner.start): restarting the plan then would write step 0 twice, a second late.
        if self.runner is not None and process.process_state(self.runner.environment).run is not None:
            return
        super().reset_time()


def _add_arguments(parser: Any) -> None:
    run_options.add_locust_options(parser)


def _on_init(environment: Any, **_: Any) -> None:
    process.attach(environment)
    run_lifecycle.register_messages(environment)
    run_lifecycle.install_stop_signals()  # SIGTERM = Ctrl-C: users finish their requests, the report is written
    webui.install(environment)  # the "LLM live" tabs and /llmload/ routes, when there is a web UI
    if os.environ.get(LAUNCHED_BY_RUN):
        # `llmload run` prints exact figures from the records; Locust's rounded table would contradict them
        logging.getLogger("locust.stats_logger").setLevel(logging.WARNING)


def _on_test_start(environment: Any, **_: Any) -> None:
    run_lifecycle.get_context(environment)


def _on_test_stop(environment: Any, **_: Any) -> None:
    run_dir = run_lifecycle.finish_run(environment)
    if run_dir is None or os.environ.get(
        LAUNCHED_BY_RUN
    ):  # `llmload run` builds the report once Locust ended
        return
    if process.process_state(environment).web is not None:
        webui.build_report_in_background(environment, run_dir)  # the UI stays live while the report builds
    else:
        run_lifecycle.build_report(run_dir)


__all__ = ["PlateDetectionUser", "PlateStepShape"]


events.init_command_line_parser.add_listener(_add_arguments)
events.init.add_listener(_on_init)
events.test_start.add_listener(_on_test_start)
events.test_stop.add_listener(_on_test_stop)
events.cpu_warning.add_listener(run_lifecycle.on_cpu_warning)
