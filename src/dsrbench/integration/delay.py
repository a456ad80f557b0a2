"""Delay differential equations x'(t) = g(x(t), x(t - tau), t) by the method of steps.

Classical fourth-order Runge-Kutta on a uniform grid whose step divides the delay
(h = tau / m), so the delayed argument of the first and last stages falls on a grid
point; the midpoint stages read the past through cubic Hermite interpolation of the
stored states and derivatives, which keeps the scheme fourth-order (Bellen & Zennaro,
*Numerical Methods for Delay Differential Equations*, 2003, ch. 4). The history
before t = 0 is constant, as in dysts (``history_function = lambda t: ic[0]``).
Samples at arbitrary times use the same Hermite interpolant.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange, types

from dsrbench.integration.rhs import DelayRhs


@numba.njit(
    types.void(
        DelayRhs,
        types.float64[::1],
        types.float64,
        types.int64,
        types.float64[:, ::1],
        types.float64[:, ::1],
    ),
    cache=True,
    parallel=True,
)
def rk4_delay_grid(g, history, h, m, x, dx):
    """Fill ``x[b, i] = x_b(i h)`` and ``dx[b, i] = x_b'(i h)`` for constant histories.

    ``m = tau / h`` grid steps per delay; rows of ``x`` are trajectories.
    """
    n_grid = x.shape[1]
    for b in prange(history.size):
        c = history[b]
        x[b, 0] = c
        for i in range(n_grid - 1):
            t = i * h
            j = i - m  # grid index of t - tau
            xd0 = c if j < 0 else x[b, j]
            xd1 = c if j + 1 <= 0 else x[b, j + 1]
            if j + 1 <= 0:
                xdh = c
            else:
                xdh = 0.5 * (x[b, j] + x[b, j + 1]) + 0.125 * h * (dx[b, j] - dx[b, j + 1])
            xi = x[b, i]
            k1 = g(xi, xd0, t)
            dx[b, i] = k1
            k2 = g(xi + 0.5 * h * k1, xdh, t + 0.5 * h)
            k3 = g(xi + 0.5 * h * k2, xdh, t + 0.5 * h)
            k4 = g(xi + h * k3, xd1, t + h)
            x[b, i + 1] = xi + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        i = n_grid - 1
        j = i - m
        dx[b, i] = g(x[b, i], c if j < 0 else x[b, j], i * h)


def hermite_sample(x: np.ndarray, dx: np.ndarray, h: float, times: np.ndarray) -> np.ndarray:
    """Cubic Hermite interpolation of grid solutions (B, N) at ``times`` (any shape).

    Times before 0 take the constant history ``x[:, 0]``. Returns (B, *times.shape).
    """
    t = np.asarray(times, dtype=np.float64)
    flat = t.ravel()
    idx = np.clip(np.floor(flat / h).astype(np.int64), 0, x.shape[1] - 2)
    theta = np.clip(flat / h - idx, 0.0, 1.0)
    x0, x1 = x[:, idx], x[:, idx + 1]
    d0, d1 = dx[:, idx] * h, dx[:, idx + 1] * h
    t2, t3 = theta**2, theta**3
    val = (
        (2 * t3 - 3 * t2 + 1) * x0
        + (t3 - 2 * t2 + theta) * d0
        + (-2 * t3 + 3 * t2) * x1
        + (t3 - t2) * d1
    )
    val = np.where(flat < 0, x[:, :1], val)
    return val.reshape((x.shape[0], *t.shape))


def integrate_delay(
    g, history: np.ndarray, tau: float, t_end: float, h_target: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """Grid solution on [0, t_end] with a step h <= h_target that divides tau."""
    m = max(1, int(np.ceil(tau / h_target)))
    h = tau / m
    n_grid = int(np.ceil(t_end / h)) + 2
    hist = np.ascontiguousarray(history, dtype=np.float64)
    x = np.empty((hist.size, n_grid))
    dx = np.empty((hist.size, n_grid))
    rk4_delay_grid(g, hist, h, m, x, dx)
    return x, dx, h
