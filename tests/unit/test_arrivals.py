from __future__ import annotations

import numpy as np
import pytest

from llmload.load.arrivals import ArrivalSchedule


def test_constant_rate_spacing_is_exact() -> None:
    s = ArrivalSchedule("constant")
    assert s.claim() is None
    s.set_rate(4.0, now_s=100.0)
    times = [s.claim() for _ in range(5)]
    assert times == pytest.approx([100.25, 100.5, 100.75, 101.0, 101.25])


def test_poisson_gaps_have_the_right_mean_and_spread() -> None:
    s = ArrivalSchedule("poisson", seed=7)
    s.set_rate(10.0, now_s=0.0)
    times = np.array([s.claim() for _ in range(20000)], dtype=float)
    gaps = np.diff(times)
    assert gaps.mean() == pytest.approx(0.1, rel=0.03)
    assert gaps.std() == pytest.approx(0.1, rel=0.05)  # exponential: std = mean


def test_rate_change_restarts_from_now() -> None:
    s = ArrivalSchedule("constant")
    s.set_rate(1.0, now_s=0.0)
    s.claim()
    s.set_rate(2.0, now_s=50.0)
    assert s.claim() == pytest.approx(50.5)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="arrival kind"):
        ArrivalSchedule("bursty")
