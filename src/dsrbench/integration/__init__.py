"""Fast batched integration of the dysts systems, with dysts' sampling semantics.

:func:`simulate` mirrors ``dysts.base.DynSys.make_trajectory`` (same time grid,
same post-processing, same default initial conditions) but integrates a batch of
initial conditions at once with a compiled adaptive Dormand-Prince 8(5,3) scheme
(:mod:`dsrbench.integration.dop853`), delay equations by the method of steps
(:mod:`dsrbench.integration.delay`), and falls back to SciPy's implicit Radau
method for any trajectory the explicit scheme cannot finish (stiffness, stalls).

:func:`simulate_robust` adds a documented fallback chain for runs that must not fail (the
true long runs behind ``truth`` and the floors): looser tolerances, then SciPy's LSODA and
BDF, then a fixed-step Heun scheme (:data:`FALLBACK_CHAIN`), and reports the one used.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from dsrbench.systems import SystemInfo, get_system_info
from dsrbench.systems import dysts_system as _new_dysts_system

log = logging.getLogger(__name__)

__all__ = [
    "FALLBACK_CHAIN",
    "IntegrationError",
    "RobustRun",
    "sampling_period",
    "simulate",
    "simulate_robust",
    "time_grid",
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
#: :func:`simulate_robust`'s chain after the given settings fail, in order:
#: (solver, tolerance); a tolerance is used only when looser than the given one. Delay
#: equations (fixed-step method of steps) instead halve the largest step, twice.
FALLBACK_CHAIN: tuple[tuple[str, float], ...] = (
    ("dop853", 1e-9),
    ("dop853", 1e-8),
    ("dop853", 1e-6),
    ("LSODA", 1e-8),
    ("BDF", 1e-6),
    ("heun", math.nan),
)


class IntegrationError(RuntimeError):
    """Integration of a system failed, the stiff fallback included."""

    def __init__(self, system: str, reason: str) -> None:
        self.system = system
        self.reason = reason
        super().__init__(f"integration of {system} failed: {reason}")


def sampling_period(info: SystemInfo, timescale: str) -> float:
    """The time unit that ``pts_per_period`` divides: dominant period or Lyapunov time."""
    ts = timescale.lower()
    if ts == "fourier":
        if info.period is None:
            raise ValueError(f"{info.name} has no period in the dysts metadata")
        return float(info.period)
    if ts == "lyapunov":
        lam = info.maximum_lyapunov_estimated
        if lam is None or not lam > 0:
            raise ValueError(
                f"{info.name} has a non-positive largest Lyapunov exponent ({lam}) in the dysts "
                "metadata, so it has no Lyapunov time: use timescale='fourier'"
            )
        return 1.0 / float(lam)
    raise ValueError(f"timescale must be 'fourier' or 'lyapunov', got {timescale!r}")


def time_grid(info: SystemInfo, n: int, pts_per_period: int, timescale: str) -> np.ndarray:
    """dysts' output grid: ``linspace(0, period * n / pts_per_period, n)``."""
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    if pts_per_period <= 0:
        raise ValueError(f"pts_per_period must be positive, got {pts_per_period}")
    return np.linspace(0.0, sampling_period(info, timescale) * n / pts_per_period, n)


def _initial_states(info: SystemInfo, initial_conditions: Any) -> np.ndarray:
    default = np.atleast_1d(np.asarray(info.initial_conditions, dtype=np.float64))
    if initial_conditions is None:
        return default[None, :].copy()
    ics = np.asarray(initial_conditions, dtype=np.float64)
    if ics.ndim == 1:
        ics = ics[None, :]
    if ics.ndim != 2:
        raise ValueError(f"initial_conditions must be (D,) or (B, D), got shape {ics.shape}")
    if not info.is_delay and ics.shape[1] != default.size:
        raise ValueError(
            f"{info.name} has {default.size} state variables; initial_conditions has "
            f"{ics.shape[1]} columns"
        )
    if not np.all(np.isfinite(ics)):
        raise ValueError("initial_conditions contain non-finite values")
    return np.ascontiguousarray(ics)


@cache
def dysts_system(name: str) -> Any:
    """One shared dysts instance per system (default parameters)."""
    return _new_dysts_system(name)


def _postprocess(name: str, x: np.ndarray) -> np.ndarray:
    system = dysts_system(name)
    fn = getattr(system, "_postprocessing", None)
    if fn is None:
        return x
    comps = fn(*[np.ascontiguousarray(x[..., i]) for i in range(x.shape[-1])])
    return np.stack(
        [np.broadcast_to(np.asarray(c, dtype=np.float64), x.shape[:-1]) for c in comps], axis=-1
    )


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


def _simulate_ode(
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


def _simulate_delay(
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


def simulate(
    system: str,
    n: int,
    *,
    initial_conditions: Any = None,
    t0: float | np.ndarray | None = None,
    transient: int = 0,
    pts_per_period: int = 100,
    timescale: str = "fourier",
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    dynamical_noise: float = 0.0,
    seed: int = 0,
    postprocess: bool = True,
    return_times: bool = False,
    max_steps: int = DEFAULT_MAX_STEPS,
    fallback: bool = True,
    delay_step: float | None = None,
    solver: str = "dop853",
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Integrate a dysts system from a batch of initial conditions.

    Mirrors ``dysts.flows.<system>().make_trajectory(n, pts_per_period=...,
    timescale=...)``: ``n`` points on ``linspace(0, P * n / pts_per_period, n)``
    with P the dominant period (``timescale="fourier"``) or the Lyapunov time
    1 / ``maximum_lyapunov_estimated`` (``"lyapunov"``), then dysts'
    post-processing of unbounded coordinates. Delay equations return dysts'
    10-dimensional delay embedding of their scalar state, starting from the
    constant history ``initial_conditions[:, 0]``.

    Args:
        system: dysts name, e.g. ``"Lorenz"``.
        n: output points per trajectory.
        initial_conditions: raw states, (D,) or (B, D); ``None`` uses dysts' default.
        t0: start time(s) (matter for non-autonomous systems); default 0.
        transient: output points integrated and discarded before the ``n`` returned.
        rtol, atol: error tolerances of the adaptive scheme (and of the fallback).
        dynamical_noise: additive Brownian noise, as a fraction of dysts' per-coordinate
            std (Gilpin 2023 uses 0.025); integrated by the stochastic Heun scheme.
        seed: seeds the noise.
        postprocess: apply dysts' mapping of unbounded coordinates (default, as dysts).
        return_times: also return the absolute output times, shape (B, n).
        max_steps: step budget per trajectory before the Radau fallback takes over.
        fallback: use the Radau fallback (else raise at once).
        delay_step: largest step of the delay integrator (default min(spacing/4, tau/16)).
        solver: ``"dop853"`` (default; Radau on stalls), ``"LSODA"``, ``"BDF"``,
            ``"Radau"`` (SciPy, stepped with a budget) or ``"heun"`` (fixed-step Heun at
            dysts' ``dt`` / :data:`HEUN_STEPS_PER_DT`); ODE flows without noise only.

    Returns:
        ``x`` of shape (B, n, D), or ``(times, x)`` with ``return_times``.

    Raises:
        UnknownSystemError: unknown system name (with the closest matches).
        IntegrationError: a trajectory failed, fallback included.
    """
    info = get_system_info(system)
    if transient < 0:
        raise ValueError(f"transient must be >= 0, got {transient}")
    total = n + transient
    grid = time_grid(info, total, pts_per_period, timescale)
    ics = _initial_states(info, initial_conditions)
    batch = ics.shape[0]
    t_start = (
        np.zeros(batch)
        if t0 is None
        else np.broadcast_to(np.asarray(t0, dtype=np.float64), (batch,)).copy()
    )

    if info.is_delay:
        if dynamical_noise > 0:
            raise ValueError(f"{system} is a delay equation: dynamical noise is not supported")
        sample_t, out = _simulate_delay(info, ics, total, float(grid[-1]), delay_step)
        times = t_start[:, None] + sample_t[None, :]
    else:
        out = _simulate_ode(
            info, ics, t_start, grid, rtol, atol, max_steps, fallback, dynamical_noise, seed, solver
        )
        times = t_start[:, None] + grid[None, :]
        if postprocess:
            out = _postprocess(system, out)
    out = np.ascontiguousarray(out[:, transient:, :])
    times = np.ascontiguousarray(times[:, transient:])
    if not np.all(np.isfinite(out)):
        raise IntegrationError(system, "non-finite values in the output")
    return (times, out) if return_times else out


@dataclass(frozen=True)
class RobustRun:
    """Outcome of :func:`simulate_robust`: the trajectories, and the fallback used (None
    when the given settings worked) with the failures that led to it."""

    x: np.ndarray
    fallback: str | None
    attempts: tuple[str, ...] = ()
    times: np.ndarray | None = None  # with ``return_times=True``


def simulate_robust(system: str, n: int, **kwargs: Any) -> RobustRun:
    """:func:`simulate`, falling back along :data:`FALLBACK_CHAIN` when it fails.

    For runs that must exist (true long runs): with the given settings first; then, for ODE
    flows, DOP853 at rtol = atol = 1e-9, 1e-8, 1e-6 (only tolerances looser than the given
    ones), SciPy's LSODA at 1e-8, BDF at 1e-6, and a fixed-step Heun scheme; for delay
    equations the largest step halved, twice. ``fallback`` names the one that worked.
    Raises :class:`IntegrationError` listing every attempt when all fail.
    """
    info = get_system_info(system)
    rtol = float(kwargs.pop("rtol", DEFAULT_RTOL))
    atol = float(kwargs.pop("atol", DEFAULT_ATOL))
    kwargs.pop("solver", None)
    attempts: list[str] = []

    def attempt(label: str, **extra: Any) -> RobustRun | None:
        try:
            res = simulate(system, n, **{**kwargs, "rtol": rtol, "atol": atol, **extra})
        except IntegrationError as exc:
            attempts.append(f"{label}: {exc.reason}")
            log.warning("%s: %s failed (%s)", system, label, exc.reason)
            return None
        times, x = res if isinstance(res, tuple) else (None, res)
        return RobustRun(x, None if not attempts else label, tuple(attempts), times)

    run = attempt(f"dop853 rtol={rtol:g} atol={atol:g}" if not info.is_delay else "method of steps")
    if run is not None:
        return run
    if info.is_delay:
        pts = float(kwargs.get("pts_per_period", 100))
        spacing = sampling_period(info, str(kwargs.get("timescale", "fourier"))) / pts
        step = kwargs.pop("delay_step", None) or min(
            spacing / 4, float(info.parameters["tau"]) / 16
        )
        for k in (2, 4):
            run = attempt(f"method of steps, largest step / {k}", delay_step=step / k)
            if run is not None:
                return run
    else:
        for solver, tol in FALLBACK_CHAIN:
            if math.isnan(tol):
                label = f"heun fixed step dt={info.dt:g}/{HEUN_STEPS_PER_DT}"
                run = attempt(label, solver=solver)
            elif tol > max(rtol, atol):
                label = f"{solver} rtol=atol={tol:g}"
                run = attempt(label, solver=solver, rtol=tol, atol=tol)
            else:
                continue
            if run is not None:
                return run
    raise IntegrationError(system, "every fallback failed: " + "; ".join(attempts))
