"""Where a run's knee is and why: the rule's answer, every evidence signal and the confidence.

    .venv/bin/python analysis/knee_evidence.py reports/RUN_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from llmload.analysis.pipeline import analyze_run


def knee_evidence(run_dir: str | Path) -> dict[str, Any]:
    """{"knee": users, "limit": users, "rule": ..., "signals": {name: (fired, users, detail)}, "confidence": ...}."""
    result = analyze_run(Path(run_dir)).knee
    signals = result.signals or {}
    return {
        "knee": result.knee.users if result.knee else None,
        "limit": result.limit.users if result.limit else None,
        "rule": result.knee.rule if result.knee else result.reason,
        "signals": {name: (s.get("fired"), s.get("users"), s.get("detail")) for name, s in signals.items()},
        "confidence": (result.confidence or {}).get("level"),
    }


if __name__ == "__main__":
    evidence = knee_evidence(sys.argv[1])
    print(f"knee {evidence['knee']}, limit {evidence['limit']}: {evidence['rule']} "
          f"(confidence {evidence['confidence']})")
    for name, (fired, users, detail) in evidence["signals"].items():
        print(f"  {name:20} {'fired' if fired else '-':6} {users!s:>5}  {detail}")
