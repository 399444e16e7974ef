"""A step's steady window and the work done in it (pure; numpy only): one definition for the report
(analysis.step_windows), the adaptive plan (load.recorder) and the web UI's live view (load.live).

Attribution: a request belongs to the step in which it was SENT. The step's warm-up is its first
`warmup_s` (fixed, or `auto`: auto_warmup_s); its steady window is [start + warm-up, end). A request counts in
the step's latency statistics when it succeeded, was sent inside the window and ended by the window's end
(steady_mask); requests straddling a boundary stay in the records and the step's error count only.

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

WARMUP_MIN_S = 5.0  # target time base


def auto_warmup_s(step_length_s: float, median_e2e_s: float) -> float:
    """Warm-up `auto`: the longer of WARMUP_MIN_S and one median E2E of the step; in steps shorter than
    4 x WARMUP_MIN_S the fixed part shrinks to a quarter of the step, and it never takes over half the step."""
    fixed = min(WARMUP_MIN_S, step_length_s / 4)
    return min(max(fixed, median_e2e_s), step_length_s / 2)


def steady_mask(
    ok: npt.ArrayLike, send_s: npt.ArrayLike, end_s: npt.ArrayLike, start_s: float, stop_s: float
) -> np.ndarray:
    """Per request: counts in the latency statistics of the window [start, stop) (module doc)."""
    send, end = np.asarray(send_s, dtype=float), np.asarray(end_s, dtype=float)
    mask: np.ndarray = np.asarray(ok, dtype=bool) & (send >= start_s) & (send < stop_s) & (end <= stop_s)
    return mask


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


def empty_window_warning(index: int, users: int, window_s: float, shortest_s: float | None) -> str:
    """What a step whose steady window held no complete request says (console, web UI, the report's validity):
    its latency has no sample; the remedy is steps that last as long as the answers need."""
    took = f"the shortest answer took {shortest_s:.1f} s" if shortest_s else "no answer ended in the step"
    return (
        f"step {index + 1} ({users} users): its steady window of {max(0.0, window_s):.1f} s held no complete "
        f"request ({took}): its latency has no sample; use --step-duration auto, or steps longer than two answers"
    )
