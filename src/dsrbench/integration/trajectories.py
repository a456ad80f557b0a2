"""Trajectories of the dysts systems: :func:`simulate` (a batch of initial conditions, with
dysts' sampling semantics) and :func:`simulate_robust` (the fallback chain of the runs that
must exist, :data:`FALLBACK_CHAIN`)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from dsrbench.integration.sampling import (
    dysts_postprocessing,
    initial_states,
    sampling_period,
    time_grid,
)
from dsrbench.integration.solvers import (
    DEFAULT_ATOL,
    DEFAULT_MAX_STEPS,
    DEFAULT_RTOL,
    HEUN_STEPS_PER_DT,
    IntegrationError,
    simulate_delay,
    simulate_ode,
)
from dsrbench.systems import get_system_info

log = logging.getLogger("dsrbench.integration")

__all__ = ["FALLBACK_CHAIN", "RobustRun", "simulate", "simulate_robust"]


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
    ics = initial_states(info, initial_conditions)
    batch = ics.shape[0]
    t_start = (
        np.zeros(batch)
        if t0 is None
        else np.broadcast_to(np.asarray(t0, dtype=np.float64), (batch,)).copy()
    )

    if info.is_delay:
        if dynamical_noise > 0:
            raise ValueError(f"{system} is a delay equation: dynamical noise is not supported")
        sample_t, out = simulate_delay(info, ics, total, float(grid[-1]), delay_step)
        times = t_start[:, None] + sample_t[None, :]
    else:
        out = simulate_ode(
            info, ics, t_start, grid, rtol, atol, max_steps, fallback, dynamical_noise, seed, solver
        )
        times = t_start[:, None] + grid[None, :]
        if postprocess:
            out = dysts_postprocessing(system, out)
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
