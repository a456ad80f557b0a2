"""The solvers behind :func:`dsrbench.integration.simulate`: the compiled DOP853 of a batch
of ODE flows (:mod:`dsrbench.integration.dop853`) with SciPy's implicit Radau (or LSODA, BDF)
for the trajectories it cannot finish, a fixed-step Heun scheme, and the method of steps of
delay equations (:mod:`dsrbench.integration.delay`). The compiled modules are imported
inside the functions: importing numba is slow."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np

from dsrbench.integration.sampling import (
    dysts_system,
)
from dsrbench.systems import SystemInfo

log = logging.getLogger("dsrbench.integration")

__all__ = [
    "BLOW_UP_FACTOR",
    "DEFAULT_ATOL",
    "DEFAULT_MAX_STEPS",
    "DEFAULT_RTOL",
    "FALLBACK_MAX_STEPS",
    "HEUN_STEPS_PER_DT",
    "IntegrationError",
    "SCIPY_SOLVERS",
    "simulate_delay",
    "simulate_ode",
]


DEFAULT_RTOL = 1e-10
DEFAULT_ATOL = 1e-10
DEFAULT_MAX_STEPS = 2_000_000
FALLBACK_MAX_STEPS = 200_000
BLOW_UP_FACTOR = 1e4
#: Solvers of :func:`simulate`'s ``solver`` argument (besides the default "dop853").
SCIPY_SOLVERS = ("LSODA", "BDF", "Radau")
#: Steps per dysts ``dt`` of the fixed-step Heun scheme, the last resort of the chain.
HEUN_STEPS_PER_DT = 2


class IntegrationError(RuntimeError):
    """Integration of a system failed, the stiff fallback included."""

    def __init__(self, system: str, reason: str) -> None:
        self.system = system
        self.reason = reason
        super().__init__(f"integration of {system} failed: {reason}")


def _radau_fallback(
    name: str,
    f: Any,
    y0: np.ndarray,
    t_start: float,
    t_out: np.ndarray,
    rtol: float,
    atol: float,
    bound: np.ndarray,
    max_steps: int = FALLBACK_MAX_STEPS,
    method: str = "Radau",
) -> np.ndarray:
    """SciPy's Radau IIA (order 5), or ``method`` (LSODA, BDF), with dysts' analytic
    Jacobian where it has one.

    Stepped by hand so that it has a step budget and the same blow-up bound as the
    explicit scheme; outputs come from the solver's dense output.
    """
    import scipy.integrate

    solver_class = getattr(scipy.integrate, method)

    system = dysts_system(name)
    d = y0.size

    def fun(t: float, y: np.ndarray) -> np.ndarray:
        out = np.empty(d)
        f(float(t), np.ascontiguousarray(y, dtype=np.float64), out)
        return out

    jac = None
    if system.has_jacobian():

        def jac(t: float, y: np.ndarray) -> np.ndarray:
            return np.asarray(system.jac(y, t), dtype=np.float64)

    out = np.empty((t_out.size, d))
    j = 0
    while j < t_out.size and t_out[j] <= t_start:
        out[j] = y0
        j += 1
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            solver = solver_class(fun, t_start, y0, t_out[-1], rtol=rtol, atol=atol, jac=jac)
            for _ in range(max_steps):
                if j >= t_out.size:
                    break
                message = solver.step()
                if solver.status == "failed":
                    raise IntegrationError(name, f"{method} fallback failed: {message}")
                if not np.all(np.isfinite(solver.y)) or np.any(np.abs(solver.y) > bound):
                    raise IntegrationError(name, f"blow-up in the {method} fallback")
                k = j + int(np.searchsorted(t_out[j:], solver.t, side="right"))
                if k > j:
                    out[j:k] = solver.dense_output()(t_out[j:k]).T
                    j = k
            else:
                raise IntegrationError(name, f"{method} fallback exceeded {max_steps} steps")
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        raise IntegrationError(
            name, f"{method} fallback raised {type(exc).__name__}: {exc}"
        ) from exc
    if not np.all(np.isfinite(out)):
        raise IntegrationError(name, f"{method} fallback produced non-finite values")
    return out


def _blow_up_bound(info: SystemInfo, ics: np.ndarray) -> np.ndarray:
    """Per-coordinate |y| beyond which a trajectory counts as blown up: BLOW_UP_FACTOR times
    the attractor's scale (dysts' mean and std) or the initial states, whichever is larger;
    none for the coordinates dysts marks unbounded (phases, which grow without limit)."""
    d = ics.shape[1]
    scale = np.maximum(1.0, np.max(np.abs(ics), axis=0))
    if info.mean is not None and info.std is not None and len(info.mean) == len(info.std) == d:
        scale = np.maximum(scale, np.abs(np.asarray(info.mean)) + np.abs(np.asarray(info.std)))
    bound = BLOW_UP_FACTOR * scale
    for i in info.unbounded_indices:
        if 0 <= i < d:
            bound[i] = np.inf
    return np.ascontiguousarray(bound, dtype=np.float64)


def _heun(
    name: str,
    f: Any,
    y0: np.ndarray,
    t_start: float,
    t_out: np.ndarray,
    out: np.ndarray,
    substeps: int,
    bound: np.ndarray,
    chunk: int = 1000,
) -> None:
    """Fixed-step Heun (explicit trapezoidal, order 2) with ``substeps`` steps per output
    interval: the noise-free case of :func:`dop853.integrate_sde_one`, run in chunks of
    output points so that its zero noise array stays small."""
    from dsrbench.integration import dop853

    d = y0.size
    sigma = np.zeros(d)
    zeros = np.zeros(((chunk - 1) * substeps, d))
    y = np.ascontiguousarray(y0, dtype=np.float64)
    t0 = t_start
    # t_out[0] may lie after t_start only for the first output: integrate up to it first
    grid = np.concatenate([[t_start], t_out]) if t_out[0] > t_start else t_out
    buf = np.empty((grid.size, d))
    i = 0
    while i < grid.size - 1:
        j = min(i + chunk, grid.size)
        part = np.ascontiguousarray(grid[i:j])
        code = dop853.integrate_sde_one(
            f, y, t0 if i == 0 else float(grid[i]), part, buf[i:j], sigma, substeps, zeros, bound
        )
        if code != dop853.OK:
            raise IntegrationError(name, f"fixed-step Heun: {dop853.STATUS_TEXT[code]}")
        y = np.ascontiguousarray(buf[j - 1])
        i = j - 1
    out[:] = buf[grid.size - t_out.size :]


def simulate_ode(
    info: SystemInfo,
    ics: np.ndarray,
    t_start: np.ndarray,
    grid: np.ndarray,
    rtol: float,
    atol: float,
    max_steps: int,
    fallback: bool,
    dynamical_noise: float,
    seed: int,
    solver: str = "dop853",
) -> np.ndarray:
    from dsrbench.integration import dop853
    from dsrbench.integration.rhs import compiled_rhs

    f = compiled_rhs(info.name)
    batch, d = ics.shape
    t_out = np.ascontiguousarray(t_start[:, None] + grid[None, :])
    out = np.empty((batch, grid.size, d))
    std = np.abs(np.asarray(info.std if info.std is not None else np.ones(d), dtype=float))
    bound = _blow_up_bound(info, ics)
    if dynamical_noise > 0:
        if std.size != d:
            raise ValueError(f"{info.name}: dysts' std has {std.size} entries for {d} states")
        sigma = np.ascontiguousarray(dynamical_noise * std)
        spacing = grid[1] - grid[0]
        dt = float(info.dt) if info.dt else spacing / 10
        substeps = max(4, int(np.ceil(spacing / dt)))
        rng = np.random.default_rng(seed)
        for b in range(batch):
            normals = rng.standard_normal(((grid.size - 1) * substeps, d))
            code = dop853.integrate_sde_one(
                f, ics[b], float(t_start[b]), t_out[b], out[b], sigma, substeps, normals, bound
            )
            if code != dop853.OK:
                raise IntegrationError(
                    info.name, f"stochastic integration: {dop853.STATUS_TEXT[code]}"
                )
        return out
    if solver in SCIPY_SOLVERS:
        budget = max(FALLBACK_MAX_STEPS, 20 * grid.size)
        for b in range(batch):
            out[b] = _radau_fallback(
                info.name, f, ics[b], float(t_start[b]), t_out[b], rtol, atol, bound, budget, solver
            )
        return out
    if solver == "heun":
        spacing = float(grid[1] - grid[0])
        h = (float(info.dt) if info.dt else spacing / 10) / HEUN_STEPS_PER_DT
        substeps = max(1, int(np.ceil(spacing / h)))
        for b in range(batch):
            _heun(info.name, f, ics[b], float(t_start[b]), t_out[b], out[b], substeps, bound)
        return out
    if solver != "dop853":
        raise ValueError(
            f"solver must be one of dop853, heun, {', '.join(SCIPY_SOLVERS)} (got {solver!r})"
        )
    status = np.zeros(batch, dtype=np.int64)
    stats = np.zeros((batch, 3), dtype=np.int64)
    dop853.integrate_batch(
        f,
        ics,
        np.ascontiguousarray(t_start),
        t_out,
        out,
        rtol,
        atol,
        max_steps,
        bound,
        status,
        stats,
    )
    for b in np.flatnonzero(status != dop853.OK):
        code = int(status[b])
        reason = f"trajectory {b}: {dop853.STATUS_TEXT[code]}"
        # a blow-up is the trajectory's, not the scheme's: no fallback for it
        if not fallback or code not in (dop853.TOO_MANY_STEPS, dop853.STEP_UNDERFLOW):
            raise IntegrationError(info.name, reason)
        log.warning("%s: %s; falling back to Radau", info.name, reason)
        try:
            out[b] = _radau_fallback(
                info.name, f, ics[b], float(t_start[b]), t_out[b], rtol, atol, bound
            )
        except IntegrationError as exc:
            raise IntegrationError(info.name, f"{reason}; {exc.reason}") from exc
    return out


def simulate_delay(
    info: SystemInfo, ics: np.ndarray, grid_len: int, tlim: float, delay_step: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """dysts' DynSysDelay.make_trajectory semantics: constant history ``ic[0]``,
    solution on ``linspace(0, tlim + tau, n)``, sampled at ``linspace(tau, tlim + tau, n)``
    and at ``embedding_dimension`` lags spread evenly over [0, tau]."""
    from dsrbench.integration.delay import hermite_sample, integrate_delay
    from dsrbench.integration.rhs import compiled_rhs

    tau = float(info.parameters["tau"])
    sample_t = np.linspace(tau, tlim + tau, grid_len)
    lags = np.linspace(0.0, tau, info.dimension)
    spacing = tlim / (grid_len - 1)
    h_target = delay_step if delay_step is not None else min(spacing / 4, tau / 16)
    x, dx, h = integrate_delay(compiled_rhs(info.name), ics[:, 0], tau, tlim + tau, h_target)
    out = hermite_sample(x, dx, h, sample_t[:, None] - lags[None, :])
    if not np.all(np.isfinite(out)):
        raise IntegrationError(info.name, "non-finite values in the delay integration")
    return sample_t, out
