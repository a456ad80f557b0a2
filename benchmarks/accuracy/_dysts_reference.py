"""Shared helpers of the benchmark scripts: dysts reference runs and comparison windows."""

from __future__ import annotations

import math
import time
import warnings

import numpy as np

from dsrbench.systems import get_system_info


def dysts_trajectory(
    name: str, n: int, pts_per_period: int = 100, **kwargs
) -> tuple[np.ndarray, float]:
    """dysts' ``make_trajectory`` (its defaults unless overridden) and its wall time."""
    import dysts.flows

    system = getattr(dysts.flows, name)()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        y = system.make_trajectory(n, pts_per_period=pts_per_period, **kwargs)
        elapsed = time.perf_counter() - start
    y = np.asarray(y, dtype=float)
    return (y[:, None] if y.ndim == 1 else y), elapsed


def lyapunov_window(name: str, pts_per_period: int = 100, cap: int = 100) -> int:
    """Points in the first Lyapunov time (1 / maximum_lyapunov_estimated), at most ``cap``."""
    info = get_system_info(name)
    lam = info.maximum_lyapunov_estimated
    if lam is None or not lam > 0:
        return cap
    points = pts_per_period / (lam * info.period)
    return int(max(2, min(cap, math.ceil(points))))


def scaled_error(ours: np.ndarray, ref: np.ndarray, window: int) -> float:
    """max over the window and coordinates of |ours - ref| / std(ref) per coordinate."""
    std = np.maximum(ref.std(axis=0), 1e-12)
    return float(np.max(np.abs(ours[:window] - ref[:window]) / std))
