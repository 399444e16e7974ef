"""The hardware KV budget of the simulator profile a run was aimed at: what its hardware facts (GPU memory,
utilisation, weights, overhead, bytes per token) give, shown in summary.json beside the budget the simulator
was configured with (kv_prediction.hardware_budget_tokens). Kept out of analysis/, which does not depend on
the simulator: the report passes it in. The simulator's /sim/info (meta.json target.sim) names the profile but
not its hardware, so the profile is loaded again; one edited since the run gives today's figure."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from llmload.kvbudget import kv_budget_tokens


def sim_hardware_budget_tokens(meta: Mapping[str, Any]) -> int | None:
    """None for a real server, a profile without hardware facts, or one that no longer loads."""
    sim = (meta.get("target") or {}).get("sim") or {}
    if not sim.get("kv_budget_tokens"):
        return None  # no configured budget to cross-check
    from llmload.sim.sim_profile import (  # the simulator's package: only for its runs
        HARDWARE_KEYS,
        load_profile,
    )

    with contextlib.suppress(Exception):  # a profile that no longer loads only loses the cross-check
        profile = load_profile(str(sim.get("profile")))
        facts = [getattr(profile, k) for k in HARDWARE_KEYS]
        if None not in facts:
            return kv_budget_tokens(*facts)
    return None
