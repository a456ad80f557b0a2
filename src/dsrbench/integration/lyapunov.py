"""Largest Lyapunov exponents of the true dysts systems by the QR (Benettin) method.

Benettin, Galgani, Giorgilli & Strelcyn 1980, *Meccanica* 15; Eckmann & Ruelle 1985, *Rev.
Mod. Phys.* 57, 617: tangent vectors are propagated along the orbit and re-orthonormalised
(Gram-Schmidt); the exponent is the time average of the log stretching. The learned maps'
exponents are scored by :func:`dsrbench.metrics.lyapunov.lyapunov_qr`; this module
integrates the systems themselves (docs/metrics.md).

* :func:`system_max_lyapunov`: compiled with numba.
  ODE flows: fixed-step classical Runge-Kutta (RK4) on the joint system (x, v) of the state and
  its tangent vector(s), dv/dt = J(x) v, where J(x) v is the central finite difference
  ``(f(x + e v) - f(x - e v)) / (2 e)``, e chosen so that every coordinate moves by at most
  6e-6 (|x_i| + s_i) (s_i: the attractor's size, dysts' std). It needs no Jacobian code, so
  it covers all 129 flows, the ported ones included; non-autonomous flows receive the time.
  Delay equations x'(t) = g(x(t), x(t - tau), t): the method of steps of
  :mod:`dsrbench.integration.delay` (RK4 on a grid h = tau / m, Hermite interpolation at the
  half steps) is a map of the finite-dimensional state (x and x' on the last m + 1 grid
  points); its tangent is the central finite difference of one grid step, and the exponent is
  that of this discretised map
  (Farmer 1982, *Physica D* 4, 366, did the same with a discretised history).

Limitation: a right-hand side that jumps across a switching surface (``sign`` or ``heaviside``
of a state applied to a non-vanishing term: FluidTrampoline, SprottMore, StickSlipOscillator)
has no Jacobian there; the variational equation then misses the
saltation term (Mueller 1995, *Chaos Solitons Fractals* 5, 1671) and the estimate is unreliable.

Comparison with dysts (``docs/lyapunov_exponents.md``): the dysts 0.96 metadata holds two
estimates of the largest exponent, the "naive" ``maximum_lyapunov_estimated`` (the one dysts and
:attr:`dsrbench.systems.SystemInfo.lyapunov_time` use for Lyapunov times) and the first value of
``lyapunov_spectrum_estimated`` (a QR spectrum). Their ratio (naive / QR) falls below 0.44 on a
tenth of the systems and above 2.7 on another tenth (docs/metrics.md, Lyapunov times); we report
our value beside both.
All exponents are in inverse model time units (those of the dysts right-hand side).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numba
import numpy as np
from numba import types

from dsrbench.integration.rhs import DelayRhs, OdeRhs, compiled_rhs
from dsrbench.systems import get_system_info

__all__ = [
    "LyapunovEstimate",
    "default_settings",
    "delay_lyapunov",
    "flow_lyapunov",
    "system_max_lyapunov",
]

#: Relative finite-difference step of the tangent (about the cube root of machine epsilon,
#: optimal for central differences).
FD_EPS = 6e-6

# kernel status codes
_OK = 0
_NON_FINITE_STATE = 1
_NON_FINITE_TANGENT = 2
_STATUS = {
    _OK: "ok",
    _NON_FINITE_STATE: "non-finite state (the fixed-step RK4 blew up: dt too large?)",
    _NON_FINITE_TANGENT: "non-finite or vanishing tangent vector",
}


# ------------------------------------------------------------------------------------------
# compiled kernels: ODE flows
# ------------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _tangent_fd(f, t, y, v, eps_rel, scale, yp, ym, fp, fm, out):
    """``out = J(y) v`` by a central finite difference of ``f`` along ``v``.

    The step e makes every coordinate's perturbation |e v_i| at most
    ``eps_rel * (|y_i| + scale_i)``, so that a large coordinate (an unbounded phase or clock
    variable) does not inflate the step taken in the small ones.
    """
    d = y.size
    ratio = 0.0
    for i in range(d):
        r = abs(v[i]) / (abs(y[i]) + scale[i])
        if r > ratio:
            ratio = r
    if ratio == 0.0 or not math.isfinite(ratio):
        for i in range(d):
            out[i] = 0.0 if ratio == 0.0 else math.nan
        return
    e = eps_rel / ratio
    for i in range(d):
        yp[i] = y[i] + e * v[i]
        ym[i] = y[i] - e * v[i]
    f(t, yp, fp)
    f(t, ym, fm)
    inv = 0.5 / e
    for i in range(d):
        out[i] = (fp[i] - fm[i]) * inv


@numba.njit(cache=True)
def _gram_schmidt(v, logs, accumulate):
    """Modified Gram-Schmidt on the rows of ``v``; adds log |R_jj| to ``logs``. False on failure."""
    k, d = v.shape
    for j in range(k):
        for p in range(j):
            dot = 0.0
            for i in range(d):
                dot += v[j, i] * v[p, i]
            for i in range(d):
                v[j, i] -= dot * v[p, i]
        nrm = 0.0
        for i in range(d):
            nrm += v[j, i] * v[j, i]
        nrm = math.sqrt(nrm)
        if not (nrm > 0.0 and math.isfinite(nrm)):
            return False
        for i in range(d):
            v[j, i] /= nrm
        if accumulate:
            logs[j] += math.log(nrm)
    return True


@numba.njit(
    types.int64(
        OdeRhs,
        types.float64[::1],
        types.float64,
        types.float64,
        types.float64[:, ::1],
        types.int64,
        types.int64,
        types.int64,
        types.int64,
        types.float64,
        types.float64[::1],
        types.float64[::1],
        types.float64[::1],
    ),
    cache=True,
)
def _flow_kernel(
    f, y, t0, h, v, n_state_only, n_warm, n_steps, renorm_every, eps_rel, scale, logs, logs_half
):
    """RK4 on (x, v_1..v_k); ``y`` and ``v`` are updated in place.

    ``n_state_only`` steps of the state alone, ``n_warm`` joint steps whose logs are dropped,
    then ``n_steps`` joint steps whose log growth factors go to ``logs`` (and, over the first
    half of them, to ``logs_half``). Returns a status code.
    """
    d = y.size
    k = v.shape[0]
    k1 = np.empty(d)
    k2 = np.empty(d)
    k3 = np.empty(d)
    k4 = np.empty(d)
    ys = np.empty(d)
    kv1 = np.empty((k, d))
    kv2 = np.empty((k, d))
    kv3 = np.empty((k, d))
    kv4 = np.empty((k, d))
    vs = np.empty((k, d))
    yp = np.empty(d)
    ym = np.empty(d)
    fp = np.empty(d)
    fm = np.empty(d)
    t = t0
    half = n_steps // 2
    # state only
    for _ in range(n_state_only):
        f(t, y, k1)
        for i in range(d):
            ys[i] = y[i] + 0.5 * h * k1[i]
        f(t + 0.5 * h, ys, k2)
        for i in range(d):
            ys[i] = y[i] + 0.5 * h * k2[i]
        f(t + 0.5 * h, ys, k3)
        for i in range(d):
            ys[i] = y[i] + h * k3[i]
        f(t + h, ys, k4)
        for i in range(d):
            y[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])
        t += h
    for i in range(d):
        if not math.isfinite(y[i]):
            return 1
    if not _gram_schmidt(v, logs, False):
        return 2
    total = n_warm + n_steps
    for s in range(total):
        # stage 1
        f(t, y, k1)
        for j in range(k):
            _tangent_fd(f, t, y, v[j], eps_rel, scale, yp, ym, fp, fm, kv1[j])
        # stage 2
        for i in range(d):
            ys[i] = y[i] + 0.5 * h * k1[i]
        for j in range(k):
            for i in range(d):
                vs[j, i] = v[j, i] + 0.5 * h * kv1[j, i]
        f(t + 0.5 * h, ys, k2)
        for j in range(k):
            _tangent_fd(f, t + 0.5 * h, ys, vs[j], eps_rel, scale, yp, ym, fp, fm, kv2[j])
        # stage 3
        for i in range(d):
            ys[i] = y[i] + 0.5 * h * k2[i]
        for j in range(k):
            for i in range(d):
                vs[j, i] = v[j, i] + 0.5 * h * kv2[j, i]
        f(t + 0.5 * h, ys, k3)
        for j in range(k):
            _tangent_fd(f, t + 0.5 * h, ys, vs[j], eps_rel, scale, yp, ym, fp, fm, kv3[j])
        # stage 4
        for i in range(d):
            ys[i] = y[i] + h * k3[i]
        for j in range(k):
            for i in range(d):
                vs[j, i] = v[j, i] + h * kv3[j, i]
        f(t + h, ys, k4)
        for j in range(k):
            _tangent_fd(f, t + h, ys, vs[j], eps_rel, scale, yp, ym, fp, fm, kv4[j])
        for i in range(d):
            y[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])
        for j in range(k):
            for i in range(d):
                v[j, i] += h / 6.0 * (kv1[j, i] + 2.0 * kv2[j, i] + 2.0 * kv3[j, i] + kv4[j, i])
        t += h
        m = s - n_warm + 1  # accumulated steps so far (<= 0 during the warm-up)
        if (s + 1) % renorm_every == 0 or s + 1 == n_warm or s + 1 == total or m == half:
            for i in range(d):
                if not math.isfinite(y[i]):
                    return 1
            if not _gram_schmidt(v, logs, m > 0):
                return 2
            if m == half:
                for j in range(k):
                    logs_half[j] = logs[j]
    return 0


# ------------------------------------------------------------------------------------------
# compiled kernels: delay equations (method of steps)
# ------------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _delay_step(g, xi, xj, xj1, dxj, dxj1, t, h):
    """One RK4 grid step of :func:`dsrbench.integration.delay.rk4_delay_grid`:
    ``x_{i+1}`` from ``x_i``, ``x_{i-m}``, ``x_{i-m+1}`` and the derivatives at the latter."""
    xdh = 0.5 * (xj + xj1) + 0.125 * h * (dxj - dxj1)
    k1 = g(xi, xj, t)
    k2 = g(xi + 0.5 * h * k1, xdh, t + 0.5 * h)
    k3 = g(xi + 0.5 * h * k2, xdh, t + 0.5 * h)
    k4 = g(xi + h * k3, xj1, t + h)
    return xi + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


@numba.njit(
    types.int64(
        DelayRhs,
        types.float64,
        types.float64,
        types.int64,
        types.float64[::1],
        types.float64[::1],
        types.int64,
        types.int64,
        types.int64,
        types.int64,
        types.float64,
        types.float64,
        types.float64[::1],
    ),
    cache=True,
)
def _delay_kernel(
    g, c, h, m, vx_init, vd_init, n_state_only, n_warm, n_steps, renorm_every, eps_rel, scale, out
):
    """Largest exponent of the method-of-steps map of x' = g(x, x(t - m h), t).

    History: the constant ``c`` for t <= 0 (as dysts). The state of the map at grid index i
    is (x_{i-m..i}, x'_{i-m..i-1}); ring buffers of length m + 2 hold it and its tangent
    (initialised from ``vx_init`` / ``vd_init``, length m + 2 each, once the state has run
    ``n_state_only >= m + 1`` steps). ``out`` receives [sum of logs, sum over the first half].
    """
    n_ring = m + 2
    x = np.empty(n_ring)
    dx = np.empty(n_ring)
    vx = np.zeros(n_ring)
    vd = np.zeros(n_ring)
    x[0] = c
    half = n_steps // 2
    total = n_state_only + n_warm + n_steps
    logs = 0.0
    tangent_on = False
    for i in range(total):
        t = i * h
        ii = i % n_ring
        inext = (i + 1) % n_ring
        j = i - m
        jj = j % n_ring
        jj1 = (j + 1) % n_ring
        if j + 1 <= 0:  # constant history c: every delayed value is c (as rk4_delay_grid)
            xj = xj1 = c
            dxj = dxj1 = 0.0
        else:
            xj, xj1, dxj, dxj1 = x[jj], x[jj1], dx[jj], dx[jj1]
        xi = x[ii]
        dx[ii] = g(xi, xj, t)
        if tangent_on:
            # tangent of x'_i = g(x_i, x_{i-m}, t)
            a = max(abs(vx[ii]), abs(vx[jj]))
            if a > 0.0:
                e = eps_rel * (max(abs(xi), abs(xj)) + scale) / a
                gp = g(xi + e * vx[ii], xj + e * vx[jj], t)
                gm = g(xi - e * vx[ii], xj - e * vx[jj], t)
                vd[ii] = (gp - gm) * 0.5 / e
            else:
                vd[ii] = 0.0
            # tangent of x_{i+1} = step(x_i, x_{i-m}, x_{i-m+1}, x'_{i-m}, x'_{i-m+1})
            a = max(abs(vx[ii]), abs(vx[jj]), abs(vx[jj1]), h * abs(vd[jj]), h * abs(vd[jj1]))
            if a > 0.0:
                e = eps_rel * (max(abs(xi), abs(xj), abs(xj1)) + scale) / a
                sp = _delay_step(
                    g,
                    xi + e * vx[ii],
                    xj + e * vx[jj],
                    xj1 + e * vx[jj1],
                    dxj + e * vd[jj],
                    dxj1 + e * vd[jj1],
                    t,
                    h,
                )
                sm = _delay_step(
                    g,
                    xi - e * vx[ii],
                    xj - e * vx[jj],
                    xj1 - e * vx[jj1],
                    dxj - e * vd[jj],
                    dxj1 - e * vd[jj1],
                    t,
                    h,
                )
                vx[inext] = (sp - sm) * 0.5 / e
            else:
                vx[inext] = 0.0
        x[inext] = _delay_step(g, xi, xj, xj1, dxj, dxj1, t, h)
        if not math.isfinite(x[inext]):
            return 1
        if i + 1 == n_state_only:
            for r in range(n_ring):
                vx[r] = vx_init[r]
                vd[r] = vd_init[r]
            tangent_on = True
            s_done = 0
            renorm = True
        elif tangent_on:
            s_done = i + 1 - n_state_only  # joint steps done
            acc = s_done - n_warm  # accumulated steps done
            renorm = s_done % renorm_every == 0 or s_done == n_warm or acc == n_steps or acc == half
        else:
            renorm = False
        if renorm:
            # live state after the step to i + 1: x_{i+1-m..i+1}, x'_{i+1-m..i}
            nrm = 0.0
            for q in range(m + 1):
                r = (i + 1 - q) % n_ring
                nrm += vx[r] * vx[r]
            for q in range(m):
                r = (i - q) % n_ring
                nrm += (h * vd[r]) ** 2
            nrm = math.sqrt(nrm)
            if not (nrm > 0.0 and math.isfinite(nrm)):
                return 2
            for r in range(n_ring):
                vx[r] /= nrm
                vd[r] /= nrm
            if i + 1 > n_state_only + n_warm:
                logs += math.log(nrm)
                if i + 1 - n_state_only - n_warm == half:
                    out[1] = logs
    out[0] = logs
    return 0


# ------------------------------------------------------------------------------------------
# public API for the dysts systems
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LyapunovEstimate:
    """Largest Lyapunov exponent of a system, in inverse model time units.

    ``n_steps`` integration steps of size ``dt`` were averaged (after a transient);
    ``value_half`` is the estimate over their first half, so ``|value / value_half - 1|`` is
    the change on doubling ``n_steps`` (a convergence check).
    """

    value: float
    n_steps: int
    dt: float
    method: str
    note: str = ""
    value_half: float = math.nan
    transient: int = 0
    renorm_every: int = 1
    exponents: tuple[float, ...] = field(default_factory=tuple)

    @property
    def time(self) -> float:
        """Averaging time ``n_steps * dt``."""
        return self.n_steps * self.dt


#: Defaults of :func:`default_settings`: averaging time max(PERIODS x period,
#: LYAP_TIMES / lambda_dysts), capped at MAX_STEPS steps; transient TRANSIENT_FRACTION of it.
PERIODS = 1000
LYAP_TIMES = 500
MAX_STEPS = 8_000_000
MIN_RENORMS = 20_000
TRANSIENT_FRACTION = 0.1
#: Delay equations: grid step h = tau / m <= period / DELAY_STEPS_PER_PERIOD, m >= 32; they are
#: averaged over DELAY_PERIODS periods (their exponents are small and converge slowly).
DELAY_STEPS_PER_PERIOD = 400
DELAY_MIN_STEPS_PER_TAU = 32
DELAY_PERIODS = 4000


def _dysts_lambda(name: str) -> float | None:
    info = get_system_info(name)
    vals = [info.maximum_lyapunov_estimated]
    if info.lyapunov_spectrum:
        vals.append(info.lyapunov_spectrum[0])
    vals = [v for v in vals if v is not None and math.isfinite(v) and v > 0]
    return max(vals) if vals else None


def default_settings(name: str, dt: float | None = None) -> tuple[float, int, int]:
    """``(dt, n_steps, transient)`` used by :func:`system_max_lyapunov` when not given.

    Step: dysts' integration step ``dt`` (about period / 5000) for flows; for delay equations
    the grid step h = tau / m <= period / 400 (m >= 32). Averaging time: the longer of 1000
    dominant periods (4000 for delay equations) and 500 Lyapunov times (with dysts' larger
    estimate), at most 8e6 steps; transient: a tenth of it.
    """
    info = get_system_info(name)
    periods = PERIODS
    if info.is_delay:
        periods = DELAY_PERIODS
        if dt is None:
            tau = float(info.parameters["tau"])
            m = max(DELAY_MIN_STEPS_PER_TAU, math.ceil(tau * DELAY_STEPS_PER_PERIOD / info.period))
            dt = tau / m
    elif dt is None:
        dt = float(info.dt)
    lam = _dysts_lambda(name)
    t_avg = periods * info.period
    if lam is not None:
        t_avg = max(t_avg, LYAP_TIMES / lam)
    n_steps = int(min(MAX_STEPS, max(MIN_RENORMS, math.ceil(t_avg / dt))))
    transient = int(math.ceil(TRANSIENT_FRACTION * n_steps))
    return dt, n_steps, transient


def _attractor_scale(name: str) -> np.ndarray:
    """Per-coordinate size of the attractor (dysts' std), floored; for the FD step."""
    info = get_system_info(name)
    ic = np.abs(np.atleast_1d(np.asarray(info.initial_conditions, dtype=float)))
    s = np.abs(np.asarray(info.std if info.std is not None else [], dtype=float))
    if s.size != ic.size or not np.any(np.isfinite(s) & (s > 0)):
        s = np.maximum(ic, 1.0)
    ok = np.isfinite(s) & (s > 0)
    floor = 1e-3 * float(np.max(s[ok]))
    return np.where(ok, np.maximum(s, floor), floor)


def flow_lyapunov(
    f: Callable[..., None],
    x0: np.ndarray,
    dt: float,
    n_steps: int,
    *,
    t0: float = 0.0,
    transient: int = 0,
    renorm_every: int = 1,
    n_vectors: int = 1,
    scale: float | np.ndarray = 1.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leading exponents of the ODE x' = f(t, x) by RK4 on the state and its tangents.

    ``f`` is a compiled right-hand side ``f(t, y, out)`` (:data:`dsrbench.integration.rhs.
    OdeRhs`); the tangent derivative J(x) v is a central finite difference of ``f``. The first
    half of the ``transient`` steps moves the state alone, the second half also aligns the
    tangents; logs are averaged over the next ``n_steps`` steps. ``scale`` (per coordinate or
    one number: the attractor's size) floors the finite-difference step near x_i = 0.

    Returns:
        ``(exponents, exponents over the first half of the steps, final state)``.
    """
    y = np.array(x0, dtype=np.float64).reshape(-1)
    d = y.size
    if not 1 <= n_vectors <= d:
        raise ValueError(f"n_vectors must be in [1, {d}], got {n_vectors}")
    if n_steps < 2 or transient < 0 or renorm_every < 1 or not dt > 0:
        raise ValueError("need n_steps >= 2, transient >= 0, renorm_every >= 1 and dt > 0")
    sc = np.array(np.broadcast_to(np.asarray(scale, dtype=np.float64), (d,)), dtype=np.float64)
    if not np.all(sc > 0):
        raise ValueError("scale must be positive")
    v = np.ascontiguousarray(np.random.default_rng(seed).standard_normal((n_vectors, d)))
    logs = np.zeros(n_vectors)
    logs_half = np.zeros(n_vectors)
    n_state = transient // 2
    status = _flow_kernel(
        f,
        y,
        float(t0),
        float(dt),
        v,
        n_state,
        transient - n_state,
        int(n_steps),
        int(renorm_every),
        FD_EPS,
        sc,
        logs,
        logs_half,
    )
    if status != _OK:
        raise FloatingPointError(_STATUS[int(status)])
    return logs / (n_steps * dt), logs_half / ((n_steps // 2) * dt), y


def delay_lyapunov(
    g: Callable[[float, float, float], float],
    history: float,
    tau: float,
    dt: float,
    n_steps: int,
    *,
    transient: int = 0,
    renorm_every: int = 1,
    scale: float = 1.0,
    seed: int = 0,
) -> tuple[float, float, float, int]:
    """Largest exponent of x'(t) = g(x(t), x(t - tau), t) from the constant history ``history``.

    ``g`` is a compiled :data:`dsrbench.integration.rhs.DelayRhs`. The method of steps of
    :mod:`dsrbench.integration.delay` with grid step h = tau / m (m = round(tau / dt)) is a map
    of the finite state (x_{i-m..i}, x'_{i-m..i-1}); its tangent is the central finite
    difference of one grid step, its norm the Euclidean norm of (dx, h dx'). The first half of
    ``transient`` (at least m + 1 steps) moves the state alone, the rest aligns the tangent.

    Returns:
        ``(exponent, exponent over the first half of the steps, h, m)``.
    """
    m = max(1, round(tau / dt))
    h = tau / m
    if n_steps < 2 or transient < 0 or renorm_every < 1:
        raise ValueError("need n_steps >= 2, transient >= 0 and renorm_every >= 1")
    rng = np.random.default_rng(seed)
    n_state = max(m + 1, transient // 2)
    out = np.zeros(2)
    status = _delay_kernel(
        g,
        float(history),
        h,
        m,
        rng.standard_normal(m + 2),
        rng.standard_normal(m + 2),
        n_state,
        max(0, transient - n_state),
        int(n_steps),
        int(renorm_every),
        FD_EPS,
        float(scale),
        out,
    )
    if status != _OK:
        raise FloatingPointError(_STATUS[int(status)])
    return out[0] / (n_steps * h), out[1] / ((n_steps // 2) * h), h, m


def system_max_lyapunov(
    name: str,
    *,
    n_steps: int | None = None,
    dt: float | None = None,
    transient: int | None = None,
    seed: int = 0,
    renorm_every: int | None = None,
    n_vectors: int = 1,
    initial_condition: np.ndarray | None = None,
) -> LyapunovEstimate:
    """Largest Lyapunov exponent of the true dysts system ``name`` (QR / Benettin method).

    ODE flows (:func:`flow_lyapunov`): RK4 with step ``dt`` on the state and ``n_vectors``
    tangent vectors (finite-difference variational equation), re-orthonormalised every
    ``renorm_every`` steps (default: at least 2e4 renormalisations), from dysts' default
    initial condition (close to the attractor); the first ``transient`` steps are dropped.
    Delay equations (:func:`delay_lyapunov`): the same for the discretised method-of-steps
    map (grid step ``dt`` rounded to divide tau), from dysts' constant history ``ic[0]``.
    Defaults: :func:`default_settings`.

    Returns:
        :class:`LyapunovEstimate`; ``exponents`` holds the ``n_vectors`` leading exponents.
        Raises :class:`FloatingPointError` when the integration blows up.
    """
    info = get_system_info(name)
    dt, d_n, d_tr = default_settings(name, dt)
    n_steps = d_n if n_steps is None else int(n_steps)
    transient = d_tr if transient is None else int(transient)
    if renorm_every is None:
        renorm_every = max(1, n_steps // MIN_RENORMS)
    scale = _attractor_scale(name)
    fn = compiled_rhs(name)
    if info.is_delay:
        if n_vectors != 1:
            raise ValueError("delay equations: only the largest exponent (n_vectors=1)")
        tau = float(info.parameters["tau"])
        c = float(
            info.initial_conditions[0]
            if initial_condition is None
            else np.atleast_1d(initial_condition)[0]
        )
        try:
            value, half, h, m = delay_lyapunov(
                fn,
                c,
                tau,
                dt,
                n_steps,
                transient=transient,
                renorm_every=renorm_every,
                scale=float(np.max(scale)),
                seed=seed,
            )
        except FloatingPointError as exc:
            raise FloatingPointError(f"{name}: {exc}") from exc
        return LyapunovEstimate(
            value=float(value),
            n_steps=n_steps,
            dt=h,
            method="qr-delay-method-of-steps",
            note=(
                f"tangent of the RK4 method-of-steps map, history grid of m={m} steps per delay "
                f"tau={tau:g} (map dimension {2 * m + 1}), finite differences; T="
                f"{n_steps * h:.4g}, constant history {c:g}"
            ),
            value_half=float(half),
            transient=transient,
            renorm_every=renorm_every,
            exponents=(float(value),),
        )
    x0 = info.initial_conditions if initial_condition is None else initial_condition
    try:
        exps, half, _ = flow_lyapunov(
            fn,
            np.asarray(x0, dtype=np.float64),
            dt,
            n_steps,
            transient=transient,
            renorm_every=renorm_every,
            n_vectors=n_vectors,
            scale=scale,
            seed=seed,
        )
    except FloatingPointError as exc:
        raise FloatingPointError(f"{name}: {exc}") from exc
    return LyapunovEstimate(
        value=float(exps[0]),
        n_steps=n_steps,
        dt=dt,
        method="qr-rk4-fd-tangent" if n_vectors == 1 else f"qr-rk4-fd-tangent-{n_vectors}",
        note=(
            f"RK4 dt={dt:.3g}, T={n_steps * dt:.4g}, renormalised every {renorm_every} steps, "
            f"transient {transient} steps"
        ),
        value_half=float(half[0]),
        transient=transient,
        renorm_every=renorm_every,
        exponents=tuple(float(e) for e in exps),
    )
