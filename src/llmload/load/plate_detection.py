"""llmload's built-in load test as a Locust module: `locust -f` this file (or locustfiles/plate_detection.py).
It sends the run's --dataset (the plate-detection scenario by default; any workload of llmload.scenarios).
Locust's events are wired to llmload by load.locust_hooks (imported with load.user)."""

from __future__ import annotations

from llmload.load import locust_hooks, user

# Modules, not classes, are imported: Locust takes every User/LoadTestShape class it finds in this namespace.


class PlateDetectionUser(user.WorkloadUser):
    """The run's workload (--dataset): batches of comments scored for plates by default, or any dataset's
    requests."""


class PlateStepShape(locust_hooks.StepPlanShape):
    """Steps through --step-users, --step-duration each."""


__all__ = ["PlateDetectionUser", "PlateStepShape"]
