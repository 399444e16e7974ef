"""A step's steady window and the work done in it (pure; numpy only): one definition for the report and
the live side.

Throughput counts work, not completions: each successful request adds the share of its send-to-end time
that falls inside the window, so a request that runs across the window's edge counts for its part inside,
and the sum over the window's requests, divided by the window's length, is requests per second. Counting
whole completions instead quantises: a closed loop of N users whose requests all take about R seconds
(fixed output lengths, one batch on the server) completes in bursts of N, and a window of W seconds holds
either floor or ceil of W/R bursts: up to R/W off (33% for 5 s answers in a 15 s window). The work count
of a steady closed loop is N/R whatever the phase of the bursts (the interactive response-time law).
Output tokens per second weigh each request's output tokens by the same share.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def share_in_window(send_s: npt.ArrayLike, end_s: npt.ArrayLike, start_s: float, stop_s: float) -> np.ndarray:
    """Per request: the share of [send, end] inside [start, stop); a request of zero length counts whole when
    its end falls inside the window."""
    send, end = np.asarray(send_s, dtype=float), np.asarray(end_s, dtype=float)
    inside = np.clip(np.minimum(end, stop_s) - np.maximum(send, start_s), 0.0, None)
    length = end - send
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(length > 0, inside / length, ((end >= start_s) & (end < stop_s)).astype(float))
    result: np.ndarray = np.nan_to_num(share, nan=0.0)
    return result
