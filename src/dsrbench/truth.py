"""The true trajectories of a dataset store: its noise-free values, re-integrations of its
trajectories with the dataset's own settings, and the ``truth`` oracle's predictions.

The evaluation compares a model's free run with a true long run (:func:`true_long_run`),
and the reference predictor ``truth`` (:func:`truth_oracle`) forecasts the true
continuations and runs freely along an independent true trajectory, so it scores at the
truth floor (docs/protocols.md).

A re-integration never leaves a gap: when the dataset's integrator and tolerances fail
(e.g. a discontinuous right-hand side stalls DOP853 at rtol = 1e-10), it falls back along
:data:`dsrbench.integration.FALLBACK_CHAIN` (looser tolerances, LSODA, BDF, fixed-step Heun)
and :class:`TrueRun` names the fallback used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from dsrbench import splits

__all__ = [
    "TrueRun",
    "pool_scale",
    "regenerate",
    "regenerate_run",
    "true_long_run",
    "true_run",
    "truth_oracle",
    "truth_values",
]


@dataclass(frozen=True)
class TrueRun:
    """A true trajectory (T, D) and the integration fallback behind it (None: the stored
    data or a re-integration with the dataset's own settings)."""

    x: np.ndarray
    fallback: str | None = None


def truth_values(ds: xr.Dataset) -> np.ndarray:
    """Noise-free trajectories (``x_clean`` when observation noise was added, else ``x``)."""
    return np.asarray((ds["x_clean"] if "x_clean" in ds else ds["x"]).values)


def pool_scale(ds: xr.Dataset) -> np.ndarray:
    """Per-coordinate range (max - min) of the noise-free data over all trajectories: the
    scale below which no divergence box may shrink (:func:`dsrbench.metrics.attractor.
    check_divergence`), so that a truth resting on an equilibrium has a usable box."""
    x = truth_values(ds)
    x = x.reshape(-1, x.shape[-1])
    with np.errstate(all="ignore"):
        return np.nan_to_num(np.nanmax(x, axis=0) - np.nanmin(x, axis=0))


def regenerate(ds: xr.Dataset, index: int, n: int, *, seed: int = 0) -> np.ndarray:
    """:func:`regenerate_run`'s trajectory."""
    return regenerate_run(ds, index, n, seed=seed).x


def regenerate_run(ds: xr.Dataset, index: int, n: int, *, seed: int = 0) -> TrueRun:
    """Re-integrate trajectory ``index`` of a dataset for ``n`` points with its own settings
    (or the first fallback of :func:`dsrbench.integration.simulate_robust` that works).

    The output spacing is the dataset's (dysts' grid spacing, period * n /
    (pts_per_period * (n - 1)), depends on n, so the points per period are adjusted to
    keep it), so the first ``ds.sizes['time']`` points reproduce the stored clean
    trajectory up to the integration tolerance.
    """
    from dsrbench.integration import sampling_period, simulate_robust
    from dsrbench.systems import get_system_info

    gen = ds.attrs["generation"]
    setting = gen["setting"]
    info = get_system_info(ds.attrs["system"])
    spacing = float(ds["time"].values[1] - ds["time"].values[0])
    transient_pts = int(gen.get("trajectory_transient", 0))
    total = n + transient_pts
    pts = sampling_period(info, str(setting["timescale"])) * total / (spacing * (total - 1))
    t0 = None if info.is_delay else float(ds["t0"].values[index])
    run = simulate_robust(
        ds.attrs["system"],
        n,
        initial_conditions=ds["initial_condition"].values[index],
        t0=t0,
        transient=transient_pts,
        pts_per_period=pts,
        timescale=str(setting["timescale"]),
        rtol=float(gen["integration"]["rtol"]),
        atol=float(gen["integration"]["atol"]),
        dynamical_noise=float(setting.get("dynamical_noise", 0.0)),
        seed=seed,
    )
    return TrueRun(run.x[0], run.fallback)


def true_long_run(ds: xr.Dataset, index: int, length: int, *, seed: int = 0) -> np.ndarray:
    """:func:`true_run`'s trajectory."""
    return true_run(ds, index, length, seed=seed).x


def true_run(ds: xr.Dataset, index: int, length: int, *, seed: int = 0) -> TrueRun:
    """A noise-free true trajectory of ``length`` points from trajectory ``index``'s start:
    the stored one when long enough, else re-integrated (:func:`regenerate_run`)."""
    if length <= ds.sizes["time"]:
        return TrueRun(truth_values(ds)[index, :length])
    return regenerate_run(ds, index, length, seed=seed)


def true_continuations(
    ds: xr.Dataset, traj: np.ndarray, start: np.ndarray, horizon: int
) -> np.ndarray:
    """``(C, horizon, D)``: the noise-free continuations of ``horizon`` points from each
    ``start`` on trajectory ``traj`` (the truth every forecast is scored against)."""
    clean = truth_values(ds)
    return np.stack([clean[i, s : s + horizon] for i, s in zip(traj, start, strict=True)])


def truth_oracle(
    ds: xr.Dataset,
    traj: np.ndarray,
    start: np.ndarray,
    horizon: int,
    n_gen: int,
    seed: int,
    record: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``truth`` oracle's ``(forecast (C, horizon, D), generated (1, n_gen, D))``: the
    true continuations of the contexts ending before ``start`` on trajectories ``traj``,
    and the last training trajectory re-integrated for ``n_gen`` points (an independent
    true free run). ``record``, if given, receives ``integration_fallback`` (the fallback
    of that re-integration, None when there was none)."""
    forecast = true_continuations(ds, traj, start, horizon)
    run = regenerate_run(ds, splits.long_run_trajectories(ds).oracle, n_gen, seed=seed)
    if record is not None:
        record["integration_fallback"] = run.fallback
    return forecast, run.x[None]
