"""Batched Dormand-Prince 8(5,3) integration, compiled with numba.

The scheme and its error estimate are those of Hairer, Norsett & Wanner,
*Solving Ordinary Differential Equations I* (2nd ed., 1993), section II.10
(code DOP853); the Butcher tableau is read from SciPy's copy of the published
coefficients. Steps are clipped to land exactly on every output time, so no
dense-output interpolation error enters the samples. Each trajectory of a batch
has its own adaptive step; trajectories run in parallel (``prange``).

The kernels take the right-hand side as a numba first-class function
(``f(t, y, out)``), so they compile once and are cached on disk for all systems.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange, types
from scipy.integrate._ivp import dop853_coefficients as _coef

from dsrbench.integration.rhs import OdeRhs

N_STAGES = 12
A = np.ascontiguousarray(_coef.A[:N_STAGES, :N_STAGES], dtype=np.float64)
B = np.ascontiguousarray(_coef.B, dtype=np.float64)
C = np.ascontiguousarray(_coef.C[:N_STAGES], dtype=np.float64)
E3 = np.ascontiguousarray(_coef.E3, dtype=np.float64)
E5 = np.ascontiguousarray(_coef.E5, dtype=np.float64)

SAFETY = 0.9
MIN_FACTOR = 0.2
MAX_FACTOR = 10.0
ERROR_EXPONENT = -1.0 / 8.0  # error estimator of order 7

# status codes of a trajectory
OK = 0
NON_FINITE = 1
STEP_UNDERFLOW = 2
TOO_MANY_STEPS = 3
BLOW_UP = 4
STATUS_TEXT = {
    OK: "ok",
    NON_FINITE: "non-finite values",
    STEP_UNDERFLOW: "step size underflow",
    TOO_MANY_STEPS: "step budget exhausted (stiff or stalled)",
    BLOW_UP: "blow-up (state beyond the divergence bound)",
}


@numba.njit(cache=True)
def _rms_scaled(v: np.ndarray, scale: np.ndarray) -> float:
    acc = 0.0
    for i in range(v.size):
        acc += (v[i] / scale[i]) ** 2
    return np.sqrt(acc / v.size)


@numba.njit(cache=True)
def _initial_step(f, t, y, f0, rtol, atol, span):
    """Hairer, Norsett & Wanner (1993), section II.4, as in SciPy's solvers."""
    d = y.size
    scale = np.empty(d)
    for i in range(d):
        scale[i] = atol + abs(y[i]) * rtol
    d0 = _rms_scaled(y, scale)
    d1 = _rms_scaled(f0, scale)
    h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    h0 = min(h0, span)
    y1 = np.empty(d)
    for i in range(d):
        y1[i] = y[i] + h0 * f0[i]
    f1 = np.empty(d)
    f(t + h0, y1, f1)
    diff = np.empty(d)
    for i in range(d):
        diff[i] = f1[i] - f0[i]
    d2 = _rms_scaled(diff, scale) / h0
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / 8.0)
    return min(100.0 * h0, h1, span)


@numba.njit(
    types.int64(
        OdeRhs,
        types.float64[::1],
        types.float64,
        types.float64[::1],
        types.float64[:, ::1],
        types.float64,
        types.float64,
        types.int64,
        types.float64[::1],
        types.int64[::1],
    ),
    cache=True,
)
def integrate_one(f, y0, t_start, t_out, out, rtol, atol, max_steps, bound, stats):
    """Integrate one trajectory from ``(t_start, y0)``, writing ``out[k] = y(t_out[k])``.

    ``t_out`` is ascending with ``t_out[0] >= t_start``; ``bound[i]`` is the largest
    |y_i| accepted before the trajectory counts as blown up. Returns a status code;
    ``stats`` receives (accepted steps, rejected steps, right-hand-side calls).
    """
    d = y0.size
    n_out = t_out.size
    k = np.empty((N_STAGES + 1, d))
    y = y0.copy()
    y_new = np.empty(d)
    y_stage = np.empty(d)
    t = t_start
    f(t, y, k[0])
    n_fev = 1
    for i in range(d):
        if not np.isfinite(k[0, i]) or not np.isfinite(y[i]):
            return NON_FINITE
    span = t_out[n_out - 1] - t_start
    h = _initial_step(f, t, y, k[0], rtol, atol, span if span > 0 else 1.0)
    n_fev += 1
    j_out = 0
    while j_out < n_out and t_out[j_out] <= t:
        out[j_out, :] = y
        j_out += 1
    rejected_before = False
    n_accepted = 0
    n_rejected = 0
    status = OK
    while j_out < n_out:
        if n_accepted + n_rejected >= max_steps:
            status = TOO_MANY_STEPS
            break
        if h < 1e-14 * max(1.0, abs(t)):
            status = STEP_UNDERFLOW
            break
        t_target = t_out[j_out]
        h_try = h
        clipped = False
        if t + h_try >= t_target:
            h_try = t_target - t
            clipped = True
        for s in range(1, N_STAGES):
            for i in range(d):
                acc = 0.0
                for j in range(s):
                    acc += A[s, j] * k[j, i]
                y_stage[i] = y[i] + h_try * acc
            f(t + C[s] * h_try, y_stage, k[s])
        for i in range(d):
            acc = 0.0
            for j in range(N_STAGES):
                acc += B[j] * k[j, i]
            y_new[i] = y[i] + h_try * acc
        t_new = t_target if clipped else t + h_try
        f(t_new, y_new, k[N_STAGES])
        n_fev += N_STAGES
        err5 = 0.0
        err3 = 0.0
        finite = True
        for i in range(d):
            scale = atol + max(abs(y[i]), abs(y_new[i])) * rtol
            e5 = 0.0
            e3 = 0.0
            for j in range(N_STAGES + 1):
                e5 += E5[j] * k[j, i]
                e3 += E3[j] * k[j, i]
            err5 += (e5 / scale) ** 2
            err3 += (e3 / scale) ** 2
            if not np.isfinite(y_new[i]) or not np.isfinite(k[N_STAGES, i]):
                finite = False
        if not finite or not np.isfinite(err5) or not np.isfinite(err3):
            # a non-finite trial step: shrink hard and retry; underflow ends it
            h = 0.1 * h_try
            rejected_before = True
            n_rejected += 1
            continue
        if err5 == 0.0 and err3 == 0.0:
            err = 0.0
        else:
            err = abs(h_try) * err5 / np.sqrt((err5 + 0.01 * err3) * d)
        if err < 1.0:
            factor = MAX_FACTOR if err == 0.0 else min(MAX_FACTOR, SAFETY * err**ERROR_EXPONENT)
            if rejected_before:
                factor = min(1.0, factor)
            h_next = h_try * factor
            h = max(h, h_next) if clipped else h_next
            rejected_before = False
            t = t_new
            y[:] = y_new
            k[0, :] = k[N_STAGES, :]
            n_accepted += 1
            for i in range(d):
                if abs(y[i]) > bound[i]:
                    status = BLOW_UP
            if status != OK:
                break
            while j_out < n_out and t_out[j_out] <= t:
                out[j_out, :] = y
                j_out += 1
        else:
            h = h_try * max(MIN_FACTOR, SAFETY * err**ERROR_EXPONENT)
            rejected_before = True
            n_rejected += 1
    stats[0] = n_accepted
    stats[1] = n_rejected
    stats[2] = n_fev
    return status


@numba.njit(
    types.void(
        OdeRhs,
        types.float64[:, ::1],
        types.float64[::1],
        types.float64[:, ::1],
        types.float64[:, :, ::1],
        types.float64,
        types.float64,
        types.int64,
        types.float64[::1],
        types.int64[::1],
        types.int64[:, ::1],
    ),
    cache=True,
    parallel=True,
)
def integrate_batch(f, y0, t_start, t_out, out, rtol, atol, max_steps, bound, status, stats):
    """:func:`integrate_one` over a batch: ``y0`` (B, D), ``t_out`` (B, n), ``out`` (B, n, D)."""
    for b in prange(y0.shape[0]):
        status[b] = integrate_one(
            f, y0[b], t_start[b], t_out[b], out[b], rtol, atol, max_steps, bound, stats[b]
        )


@numba.njit(
    types.int64(
        OdeRhs,
        types.float64[::1],
        types.float64,
        types.float64[::1],
        types.float64[:, ::1],
        types.float64[::1],
        types.int64,
        types.float64[:, ::1],
        types.float64[::1],
    ),
    cache=True,
)
def integrate_sde_one(f, y0, t_start, t_out, out, sigma, substeps, normals, bound):
    """Stochastic Heun scheme for additive noise dy = f dt + sigma dW.

    Strong order 1 for additive noise (Kloeden & Platen 1992, section 11.1).
    ``substeps`` fixed steps between consecutive outputs; ``normals`` holds one
    standard normal vector per step (pre-drawn, so results depend only on the seed).
    """
    d = y0.size
    y = y0.copy()
    f0 = np.empty(d)
    f1 = np.empty(d)
    y_pred = np.empty(d)
    dw = np.empty(d)
    t = t_start
    out[0, :] = y
    step = 0
    for j in range(1, t_out.size):
        h = (t_out[j] - t_out[j - 1]) / substeps
        sqrt_h = np.sqrt(h)
        for _ in range(substeps):
            f(t, y, f0)
            for i in range(d):
                dw[i] = sigma[i] * sqrt_h * normals[step, i]
                y_pred[i] = y[i] + h * f0[i] + dw[i]
            f(t + h, y_pred, f1)
            for i in range(d):
                y[i] = y[i] + 0.5 * h * (f0[i] + f1[i]) + dw[i]
            t += h
            step += 1
        for i in range(d):
            if not np.isfinite(y[i]):
                return NON_FINITE
            if abs(y[i]) > bound[i]:
                return BLOW_UP
        t = t_out[j]
        out[j, :] = y
    return OK
