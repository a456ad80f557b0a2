"""Small in-memory datasets in the schema of dsrbench's stores, for the method tests."""

from __future__ import annotations

import numpy as np
import xarray as xr


def as_dataset(x: np.ndarray, dt: float = 1.0, *, standardize: bool = False) -> xr.Dataset:
    """Trajectories ``x (N, T, D)`` in the dataset schema, sampled every ``dt``. The stored
    training moments are those of ``x`` itself with ``standardize``, else mean 0 and std 1
    (the methods then work on raw coordinates)."""
    mean = x.mean(axis=(0, 1)) if standardize else np.zeros(x.shape[2])
    std = x.std(axis=(0, 1)) if standardize else np.ones(x.shape[2])
    return xr.Dataset(
        {
            "x": (("trajectory", "time", "dim"), x),
            "train_mean": (("dim",), mean),
            "train_std": (("dim",), std),
        },
        coords={"time": dt * np.arange(x.shape[1])},
    )
