"""Compiled right-hand sides of the dysts systems, in one calling convention.

The integrators take a right-hand side as a numba first-class function, so that
the integration kernels are compiled (and cached on disk) once for all systems;
only a small wrapper is compiled per system.

* ODE flows: ``f(t, y, out) -> None`` writes dy/dt into ``out``. It calls dysts'
  own numba-compiled ``_rhs(x, y, z, ..., t, *params)`` with the parameters in
  dysts' order (sorted by name) frozen as constants; the 17 systems whose
  right-hand side dysts writes in plain Python use our ports in
  :mod:`dsrbench.integration.ported` instead (and FluidTrampoline, whose plain
  ``_rhs`` uses ``np.heaviside``); IsothermalChemical and VallisElNino leave a
  numba-compatible ``_rhs`` uncompiled, which we compile.
* Delay equations: ``g(x, x_delayed, t) -> float``, dysts' scalar ``_rhs``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numba
import numpy as np
from numba import types

from dsrbench.systems import dysts_system, get_system_info

ODE_SIGNATURE = types.void(types.float64, types.float64[::1], types.float64[::1])
DELAY_SIGNATURE = types.float64(types.float64, types.float64, types.float64)
OdeRhs = types.FunctionType(ODE_SIGNATURE)
DelayRhs = types.FunctionType(DELAY_SIGNATURE)


def _frozen_params(system: Any) -> list[Any]:
    """dysts' parameter list (sorted by name), as float64 scalars or contiguous arrays."""
    out: list[Any] = []
    for value in system.param_list:
        arr = np.asarray(value, dtype=np.float64)
        out.append(float(arr) if arr.ndim == 0 else np.ascontiguousarray(arr))
    return out


def _generic_ode_rhs(system: Any, dim: int) -> Any:
    params = _frozen_params(system)
    names = [f"_p{i}" for i in range(len(params))]
    state = ", ".join(f"y[{i}]" for i in range(dim))
    stores = "\n".join(f"    out[{i}] = r[{i}]" for i in range(dim))
    args = ", ".join([state, "t", *names])
    source = f"def rhs(t, y, out):\n    r = _rhs({args})\n{stores}\n"
    fn = system._rhs
    if not isinstance(fn, numba.core.registry.CPUDispatcher):
        fn = numba.njit(fn)  # a few dysts systems leave a numba-compatible _rhs uncompiled
    namespace: dict[str, Any] = {"_rhs": fn, **dict(zip(names, params, strict=True))}
    exec(compile(source, f"<dsrbench rhs {system.name}>", "exec"), namespace)  # noqa: S102
    return numba.njit(ODE_SIGNATURE)(namespace["rhs"])


def _delay_rhs(system: Any) -> Any:
    params = _frozen_params(system)
    names = [f"_p{i}" for i in range(len(params))]
    args = ", ".join(["x", "xd", "t", *names])
    source = f"def rhs(x, xd, t):\n    return _rhs({args})\n"
    namespace: dict[str, Any] = {"_rhs": system._rhs, **dict(zip(names, params, strict=True))}
    exec(compile(source, f"<dsrbench delay rhs {system.name}>", "exec"), namespace)  # noqa: S102
    return numba.njit(DELAY_SIGNATURE)(namespace["rhs"])


@cache
def compiled_rhs(name: str) -> Any:
    """The compiled right-hand side of a dysts system (cached per process)."""
    from dsrbench.integration.ported import PORTED

    info = get_system_info(name)
    system = dysts_system(name)
    if info.is_delay:
        return _delay_rhs(system)
    if name in PORTED:
        return numba.njit(ODE_SIGNATURE)(PORTED[name](system).py_func)
    return _generic_ode_rhs(system, len(np.atleast_1d(system.ic)))
