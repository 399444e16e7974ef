"""The plate-detection load test as a Locust module: `locust -f` this file (or locustfiles/plate_detection.py)."""

from __future__ import annotations

import logging
import os
from typing import Any

from locust import events

from llmload.load import options, runtime, shape, user, webui

# Modules, not classes, are imported: Locust takes every User/LoadTestShape class it finds in this namespace.


class PlateDetectionUser(user.LlmUser):
    """A comment-patrol client: sends batches of comments and scores the plates in each answer."""


class PlateStepShape(shape.StepLoadShape):
    """Steps through --step-users, --step-duration each."""

    def reset_time(self) -> None:
        # Locust's master calls reset_time a second time, in its first start() after the first tick
        # (MasterRunner.start): restarting the plan then would write step 0 twice, a second late.
        if self.runner is not None and getattr(self.runner.environment, "llmload", None) is not None:
            return
        super().reset_time()


def _add_arguments(parser: Any) -> None:
    options.add_locust_arguments(parser)


def _on_init(environment: Any, **_: Any) -> None:
    runtime.register_messages(environment)
    runtime.install_stop_signals()  # SIGTERM = Ctrl-C: users finish their requests, the report is written
    webui.install(environment)  # the "LLM live" tabs and /llmload/ routes, when there is a web UI
    if os.environ.get("LLMLOAD_QUIET_LOCUST_STATS"):
        # `llmload run` prints exact figures from the records; Locust's rounded table would contradict them
        logging.getLogger("locust.stats_logger").setLevel(logging.WARNING)


def _on_test_start(environment: Any, **_: Any) -> None:
    runtime.get_context(environment)


def _on_test_stop(environment: Any, **_: Any) -> None:
    runtime.finish_run(environment)


__all__ = ["PlateDetectionUser", "PlateStepShape"]


events.init_command_line_parser.add_listener(_add_arguments)
events.init.add_listener(_on_init)
events.test_start.add_listener(_on_test_start)
events.test_stop.add_listener(_on_test_stop)
events.cpu_warning.add_listener(runtime.on_cpu_warning)
