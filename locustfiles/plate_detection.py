"""Locust file for the plate-detection scenario (thin: everything lives in llmload.load).

    locust -f locustfiles/plate_detection.py --host http://127.0.0.1:8000             # web UI
    locust -f locustfiles/plate_detection.py --host URL --headless --step-users 1:40:1 --step-duration 60s
"""

from llmload.load.plate_detection import PlateDetectionUser, PlateStepShape

__all__ = ["PlateDetectionUser", "PlateStepShape"]
