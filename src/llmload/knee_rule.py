"""The knee rule's thresholds, one definition shared by the sweep analysis (`analysis.knee`, pandas) and
the adaptive plan that searches for the same knee while the test runs (`load.adaptive`, pure)."""

from __future__ import annotations

PLATEAU_TOLERANCE = 0.02  # the knee: smallest level whose throughput is within 2% of the peak
LIMIT_LATENCY_FACTOR = 1.5  # the limit: largest level whose median E2E is at most 1.5x the knee's
