"""llmload inside a Locust process: the run options on Locust's parser, this process's state, the web UI, a
run's start and end, who builds the report when a run ends, and llmload's step plan for a locustfile that
has no load shape of its own.

Registered on Locust's events once, when this module is first imported: load.user imports it, so any
locustfile with an LlmUser (llmload's own, or yours: `from llmload import LlmUser`) gets all of it."""

from __future__ import annotations

import logging
import os
from typing import Any

from locust import events

from llmload.load import process, run_lifecycle, shape, webui
from llmload.load.locust_command import LAUNCHED_BY_RUN
from llmload.load.run_options import add_locust_options


class StepPlanShape(shape.StepLoadShape):
    """Steps through --step-users (or --step-rates, or auto), --step-duration each."""

    def reset_time(self) -> None:
        # Locust's master calls reset_time a second time, in its first start() after the first tick
        # (MasterRunner.start): restarting the plan then would write step 0 twice, a second late.
        if self.runner is not None and process.process_state(self.runner.environment).run is not None:
            return
        super().reset_time()


def install_step_plan(environment: Any) -> None:
    """A locustfile without a LoadTestShape (Locust found none) runs llmload's step plan, as llmload's own
    locustfile does: the steps are what the report, the knee and the web UI's tabs are made of. Workers
    follow their master's plan."""
    if environment.shape_class is not None or process.process_state(environment).role is process.Role.WORKER:
        return
    plan = StepPlanShape()
    plan.runner = environment.runner
    environment.shape_class = plan
    if environment.available_shape_classes is not None:  # the web UI's class picker lists it
        environment.available_shape_classes[type(plan).__name__] = plan


def _add_arguments(parser: Any) -> None:
    add_locust_options(parser)


def _on_init(environment: Any, **_: Any) -> None:
    process.attach(environment)
    install_step_plan(environment)
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


events.init_command_line_parser.add_listener(_add_arguments)
events.init.add_listener(_on_init)
events.test_start.add_listener(_on_test_start)
events.test_stop.add_listener(_on_test_stop)
events.cpu_warning.add_listener(run_lifecycle.on_cpu_warning)
