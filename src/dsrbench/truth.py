"""The true trajectories of a dataset store: its noise-free values, re-integrations of its
trajectories with the dataset's own settings, and the ``truth`` oracle's predictions.

The evaluation compares a model's free run with a true long run (:func:`true_long_run`),
and the reference predictor ``truth`` (:func:`truth_oracle`) forecasts the true
continuations and runs freely along an independent true trajectory, so it scores at the
truth floor (docs/protocols.md).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from dsrbench import stores

__all__ = ["regenerate", "true_long_run", "truth_oracle", "truth_values"]


def truth_values(ds: xr.Dataset) -> np.ndarray:
    """Noise-free trajectories (``x_clean`` when observation noise was added, else ``x``)."""
    return np.asarray((ds["x_clean"] if "x_clean" in ds else ds["x"]).values)


def regenerate(ds: xr.Dataset, index: int, n: int, *, seed: int = 0) -> np.ndarray:
    """Re-integrate trajectory ``index`` of a dataset for ``n`` points with its own settings.

    The output spacing is the dataset's (dysts' grid spacing, period * n /
    (pts_per_period * (n - 1)), depends on n, so the points per period are adjusted to
    keep it), so the first ``ds.sizes['time']`` points reproduce the stored clean
    trajectory up to the integration tolerance.
    """
    from dsrbench.integration import sampling_period, simulate
    from dsrbench.systems import get_system_info

    gen = ds.attrs["generation"]
    setting = gen["setting"]
    info = get_system_info(ds.attrs["system"])
    spacing = float(ds["time"].values[1] - ds["time"].values[0])
    transient_pts = int(gen.get("trajectory_transient", 0))
    total = n + transient_pts
    pts = sampling_period(info, str(setting["timescale"])) * total / (spacing * (total - 1))
    t0 = None if info.is_delay else float(ds["t0"].values[index])
    x = simulate(
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
    return x[0]


def true_long_run(ds: xr.Dataset, index: int, length: int, *, seed: int = 0) -> np.ndarray:
    """A noise-free true trajectory of ``length`` points from trajectory ``index``'s start:
    the stored one when long enough, else re-integrated (:func:`regenerate`)."""
    if length <= ds.sizes["time"]:
        return truth_values(ds)[index, :length]
    return regenerate(ds, index, length, seed=seed)


def truth_oracle(
    ds: xr.Dataset,
    traj: np.ndarray,
    start: np.ndarray,
    horizon: int,
    n_gen: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``truth`` oracle's ``(forecast (C, horizon, D), generated (1, n_gen, D))``: the
    true continuations of the contexts ending before ``start`` on trajectories ``traj``,
    and the last training trajectory re-integrated for ``n_gen`` points (an independent
    true free run)."""
    clean = truth_values(ds)
    forecast = np.stack([clean[i, s : s + horizon] for i, s in zip(traj, start, strict=True)])
    train = np.flatnonzero(ds["split"].values == stores.SPLIT_CODES["train"])
    generated = regenerate(ds, int(train[-1]), n_gen, seed=seed)[None]
    return forecast, generated
