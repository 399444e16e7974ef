"""How the analysis model holds a figure, decided once: a Python float, or None when there is none (never
NaN), and which fields summary.json leaves out when they have no value (analysis.summary_json reads the mark)."""

from __future__ import annotations

import math
from typing import Any

OMIT_IF_NONE = {"omit_if_none": True}  # dataclass field metadata


def figure(value: Any) -> float | None:
    """A measured number as the model keeps it: a Python float, or None when there is none (None or NaN)."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number
