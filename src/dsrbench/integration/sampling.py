"""dysts' sampling semantics (``dysts.base.DynSys.make_trajectory``): the time unit that
``pts_per_period`` divides, the output grid, the default initial conditions and dysts'
post-processing of a trajectory."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from dsrbench.systems import SystemInfo
from dsrbench.systems import dysts_system as _new_dysts_system

__all__ = [
    "dysts_postprocessing",
    "dysts_system",
    "initial_states",
    "sampling_period",
    "time_grid",
]


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


def initial_states(info: SystemInfo, initial_conditions: Any) -> np.ndarray:
    """The (B, D) initial states of a run: dysts' default one when ``initial_conditions`` is
    None, else the given ones (checked: their width, finite values)."""
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


def dysts_postprocessing(name: str, x: np.ndarray) -> np.ndarray:
    """``x`` mapped by the system's ``_postprocessing`` in dysts (e.g. unbounded phases to
    their sine), or unchanged when it has none."""
    system = dysts_system(name)
    fn = getattr(system, "_postprocessing", None)
    if fn is None:
        return x
    comps = fn(*[np.ascontiguousarray(x[..., i]) for i in range(x.shape[-1])])
    return np.stack(
        [np.broadcast_to(np.asarray(c, dtype=np.float64), x.shape[:-1]) for c in comps], axis=-1
    )
