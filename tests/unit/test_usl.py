"""USL fit: recovers known parameters, and says when the fit is poor."""

from __future__ import annotations

import math

import pytest

from llmload.analysis.usl import fit_usl, usl_throughput


def test_recovers_known_parameters_and_the_peak() -> None:
    users = [1, 2, 4, 8, 12, 16, 24, 32, 48]
    rps = [float(usl_throughput(n, 0.1, 0.05, 0.002)) for n in users]
    fit = fit_usl(users, rps)
    assert fit["lambda_rps"] == pytest.approx(0.1, rel=1e-4)
    assert fit["sigma"] == pytest.approx(0.05, rel=1e-3)
    assert fit["kappa"] == pytest.approx(0.002, rel=1e-3)
    assert fit["peak_users"] == pytest.approx(math.sqrt(0.95 / 0.002), rel=1e-3)  # 21.79
    assert fit["peak_rps"] == pytest.approx(float(usl_throughput(math.sqrt(0.95 / 0.002), 0.1, 0.05, 0.002)),
                                            rel=1e-3)
    assert fit["r2"] > 0.9999 and fit["poor_fit"] is False and fit["reason"] is None
    assert fit["curve"][0]["users"] == 1.0 and fit["curve"][-1]["users"] == 48.0  # spans the measurements
    assert len(fit["measured"]) == 9


def test_noise_gives_a_poor_fit_with_its_reason() -> None:
    fit = fit_usl([1, 2, 3, 4, 5, 6], [0.5, 0.1, 0.6, 0.05, 0.55, 0.1])
    assert fit["poor_fit"] is True
    assert "R²" in fit["reason"]


def test_linear_scaling_has_no_predicted_peak() -> None:
    fit = fit_usl([1, 2, 4, 8], [0.1, 0.2, 0.4, 0.8])
    assert fit["poor_fit"] is True
    assert fit["peak_users"] is None or fit["peak_users"] > 32
    assert "κ at its bound 0" in fit["reason"] or "no saturation was measured" in fit["reason"]


def test_too_few_levels() -> None:
    fit = fit_usl([1, 2, 4], [0.1, 0.2, 0.3])
    assert fit["poor_fit"] is True and "at least 4 levels" in fit["reason"]
