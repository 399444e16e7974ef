"""Universal Scalability Law fit of throughput vs users (Gunther): X(N) = λN / (1 + σ(N−1) + κN(N−1)).

σ (contention) and κ (coherency) in [0, 1], λ > 0 (throughput of one user). Peak at N* = sqrt((1−σ)/κ).
A fit is `poor_fit` (said, not hidden) when R² < MIN_R2, when σ or κ sits on a bound (κ = 0: no retrograde
region, so no predicted peak), when the predicted peak lies beyond MAX_EXTRAPOLATION x the largest measured level, or when fewer than
MIN_POINTS levels were measured.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

MIN_R2 = 0.9
MIN_POINTS = 4
MAX_EXTRAPOLATION = 4.0
CURVE_POINTS = 60
_EPS = 1e-9


def usl_throughput(n: np.ndarray | float, lam: float, sigma: float, kappa: float) -> Any:
    return lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))


def _r2(y: np.ndarray, fitted: np.ndarray) -> float:
    total = float(((y - y.mean()) ** 2).sum())
    return 1 - float(((y - fitted) ** 2).sum()) / total if total > 0 else 0.0


def _bound_reasons(sigma: float, kappa: float) -> list[str]:
    reasons = []
    if sigma <= _EPS or sigma >= 1 - _EPS:
        reasons.append(f"σ at its bound ({sigma:.3g})")
    if kappa <= _EPS:
        reasons.append("κ at its bound 0 (no retrograde region: the peak is not predicted)")
    elif kappa >= 1 - _EPS:
        reasons.append(f"κ at its bound ({kappa:.3g})")
    return reasons


def fit_usl(users: list[float], rps: list[float]) -> dict[str, Any]:
    from scipy.optimize import curve_fit  # scipy takes seconds to import: only when a fit is made

    pairs = sorted((float(u), float(x)) for u, x in zip(users, rps, strict=True) if u > 0 and x == x)
    measured = [{"users": u, "rps": x} for u, x in pairs]
    if len(pairs) < MIN_POINTS:
        return {"poor_fit": True, "reason": f"needs at least {MIN_POINTS} levels, have {len(pairs)}",
                "measured": measured}
    n, y = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    lam0 = max(float(y[0] / n[0]), _EPS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            params, _ = curve_fit(usl_throughput, n, y, p0=[lam0, 0.01, 0.001],
                                  bounds=([_EPS, 0.0, 0.0], [np.inf, 1.0, 1.0]), maxfev=20000)
    except (RuntimeError, ValueError) as exc:
        return {"poor_fit": True, "reason": f"fit did not converge ({exc})", "measured": measured}
    lam, sigma, kappa = (float(p) for p in params)
    r2 = _r2(y, usl_throughput(n, lam, sigma, kappa))
    reasons = _bound_reasons(sigma, kappa) + ([f"R² {r2:.3f} < {MIN_R2}"] if r2 < MIN_R2 else [])
    peak_users = math.sqrt((1 - sigma) / kappa) if kappa > _EPS else None
    if peak_users is not None and peak_users > MAX_EXTRAPOLATION * float(n.max()):
        reasons.append(f"predicted peak at {peak_users:.0f} users, beyond {MAX_EXTRAPOLATION:g} x the largest "
                       f"measured level ({n.max():g}): no saturation was measured")
    top = max(float(n.max()), min(4 * float(n.max()), 1.25 * peak_users) if peak_users else 0.0)
    grid = np.linspace(1.0, top, CURVE_POINTS)
    return {
        "lambda_rps": lam,
        "sigma": sigma,
        "kappa": kappa,
        "r2": r2,
        "peak_users": peak_users,
        "peak_rps": float(usl_throughput(peak_users, lam, sigma, kappa)) if peak_users else None,
        "poor_fit": bool(reasons),
        "reason": "; ".join(reasons) if reasons else None,
        "curve": [{"users": float(u), "rps": float(usl_throughput(u, lam, sigma, kappa))} for u in grid],
        "measured": measured,
    }
