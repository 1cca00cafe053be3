"""A power law plus a constant fitted to a metric against compute, with the exponent's interval.

For a loss that falls with compute ``x`` (training FLOPs per sample):

.. math::
    y = c + a \\, (x / x_0)^{-b}, \\qquad a \\ge 0,\\ b \\ge 0

(for AUC, which rises, ``y = c - a (x / x_0)^{-b}``); ``x_0`` is the smallest ``x`` (conditioning
only), ``c`` the level an unbounded model would reach. Least squares over every run (each seed of
each size is one point), by ``scipy.optimize.curve_fit``; the 95% interval of ``b`` is
``b +- t(0.975, n - 3) * se(b)`` from the fit's covariance. With 3 points or fewer no interval
exists (no degree of freedom is left), and the fit says so instead of printing one; an exponent
at its bound (points that fall faster at large compute than at small) has none either.
"""
import math
import warnings

import numpy as np


def fit_power_law(x, y, decreasing=True):
    """``{"exponent", "interval" (None without one), "scale", "floor", "points", "reason", "at_bound"}``
    (``at_bound``: the exponent ran to a bound of its range, so the points follow no power law and
    exponent, scale and floor stay None)."""
    from scipy import optimize, stats
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    sign = 1.0 if decreasing else -1.0
    relative = x / x.min()
    result = {"points": len(x), "exponent": None, "interval": None, "scale": None, "floor": None, "reason": "",
              "at_bound": False}
    if len(np.unique(x)) < 3:
        result["reason"] = f"{len(np.unique(x))} sizes: a power law plus a constant needs at least 3"
        return result

    def model(r, a, b, c):
        return c + sign * a * r ** (-b)

    spread = float(np.ptp(y)) or 1e-6
    start = [spread, 0.5, float(y.min() if decreasing else y.max())]
    try:
        with warnings.catch_warnings():  # no covariance with 3 points: said below, not warned
            warnings.simplefilter("ignore", optimize.OptimizeWarning)
            (a, b, c), covariance = optimize.curve_fit(model, relative, y, p0=start, maxfev=20000,
                                                       bounds=([0, 0, -np.inf], [np.inf, 10, np.inf]))
    except (RuntimeError, ValueError) as error:
        result["reason"] = f"the fit did not converge ({error})"
        return result
    if not 0.01 < b < 9.99:  # no estimate: the curve, exponent and floor are left out, the value named
        result.update(at_bound=True,
                      reason=f"b at its bound ({b:.3g}): the points do not level off as a power law does")
        return result
    result.update(exponent=float(b), scale=float(a), floor=float(c))
    dof = len(x) - 3
    standard_error = math.sqrt(covariance[1, 1]) if np.isfinite(covariance[1, 1]) else math.inf
    if dof < 1:
        result["reason"] = f"{len(x)} points for 3 parameters"
    elif not math.isfinite(standard_error):
        result["reason"] = "the exponent is not determined by these points (infinite variance)"
    else:
        half = float(stats.t.ppf(0.975, dof)) * standard_error
        result["interval"] = (float(b) - half, float(b) + half)
    return result
