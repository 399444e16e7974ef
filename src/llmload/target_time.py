"""How much of the target's time a run used, in server terms (pure): its wall time in the target's time base
(a simulator at --time-scale S stands for S times as long on the real deployment), times the target's GPUs
where they are known: `--target-gpus`, else the simulator profile's, else a live `llmload serve`'s GPUs.
Written to meta.json (`target_time`) at the run's end; the report's header and the verdict show it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def target_gpus(option_gpus: int, target: Mapping[str, Any]) -> tuple[int | None, str | None]:
    """(GPUs, where the number came from), or (None, None) when nothing says."""
    if option_gpus:
        return option_gpus, "--target-gpus"
    simulated = (target.get("sim") or {}).get("num_gpus")
    if simulated:
        return int(simulated), "simulator profile"
    served = (target.get("serve") or {}).get("gpus") or []
    if served:
        return len(served), "llmload serve"
    return None, None


def target_time(wall_s: float, time_scale: float, gpus: int | None, gpus_from: str | None) -> dict[str, Any]:
    """meta.json's `target_time`: wall seconds, the target's seconds (x time scale), GPU-hours where known."""
    target_s = wall_s * time_scale
    return {
        "wall_s": wall_s,
        "time_scale": time_scale,
        "target_s": target_s,
        "gpus": gpus,
        "gpus_from": gpus_from,
        "gpu_hours": None if gpus is None else target_s * gpus / 3600.0,
    }


def duration_text(seconds: float) -> str:
    """`42 s`, `12.5 min`, `3.2 h`."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def target_time_text(used: Mapping[str, Any]) -> str:
    """One line: `4.2 min of target time (x100 simulated: 2.5 s wall) on 2 GPUs: 0.14 GPU-hours`."""
    scale = float(used.get("time_scale") or 1.0)
    text = duration_text(float(used["target_s"])) + " of target time"
    if scale != 1.0:
        text += f" (simulated x{scale:g}: {duration_text(float(used['wall_s']))} wall)"
    if used.get("gpus"):
        text += f" on {used['gpus']} GPUs ({used.get('gpus_from')}): {used['gpu_hours']:.2f} GPU-hours"
    else:
        text += "; GPUs unknown (--target-gpus N)"
    return text
