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

This module is the face of the package; the bodies live in:

* :mod:`~dsrbench.integration.sampling`: dysts' time grid, initial states, post-processing;
* :mod:`~dsrbench.integration.solvers`: DOP853 with its Radau fallback, Heun, method of steps;
* :mod:`~dsrbench.integration.trajectories`: :func:`simulate`, :func:`simulate_robust`;
* :mod:`~dsrbench.integration.lyapunov`: the true systems' Lyapunov exponents;
* :mod:`~dsrbench.integration.dop853`, :mod:`~dsrbench.integration.delay`,
  :mod:`~dsrbench.integration.rhs`, :mod:`~dsrbench.integration.ported`: the compiled kernels
  and right-hand sides.
"""

from __future__ import annotations

from dsrbench.integration.sampling import dysts_system, sampling_period, time_grid
from dsrbench.integration.solvers import (
    BLOW_UP_FACTOR,
    DEFAULT_ATOL,
    DEFAULT_MAX_STEPS,
    DEFAULT_RTOL,
    FALLBACK_MAX_STEPS,
    HEUN_STEPS_PER_DT,
    SCIPY_SOLVERS,
    IntegrationError,
)
from dsrbench.integration.trajectories import (
    FALLBACK_CHAIN,
    RobustRun,
    simulate,
    simulate_robust,
)

__all__ = [
    "BLOW_UP_FACTOR",
    "DEFAULT_ATOL",
    "DEFAULT_MAX_STEPS",
    "DEFAULT_RTOL",
    "FALLBACK_CHAIN",
    "FALLBACK_MAX_STEPS",
    "HEUN_STEPS_PER_DT",
    "SCIPY_SOLVERS",
    "IntegrationError",
    "RobustRun",
    "dysts_system",
    "sampling_period",
    "simulate",
    "simulate_robust",
    "time_grid",
]
