"""Shared fixtures: a small real Lorenz-63 dataset for the method tests."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from dsrbench import splits, stores
from dsrbench.datasets import build_dataset

if os.environ.get("PYTEST_XDIST_WORKER"):
    # One thread per test worker: OpenBLAS (statsmodels, numpy), torch and xgboost threads of
    # two workers on two cores wait for each other for minutes (measured: a 5 s LSTM test
    # took 245 s beside an ARIMA one).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)

#: Lorenz-63 at about 0.030 time units per point (50 points per Fourier period),
#: close to the dt = 0.025 of Gauthier et al. 2021.
LORENZ_SETTING = {
    "pts_per_period": 50,
    "timescale": "fourier",
    "length": 2000,
    "n_train": 2,
    "n_val": 1,
    "n_test": 1,
}


@pytest.fixture(scope="session")
def lorenz_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lorenz") / "Lorenz.zarr"
    result = build_dataset(
        "Lorenz",
        "methods",
        LORENZ_SETTING,
        seed=3,
        integration={"rtol": 1e-10, "atol": 1e-10},
        config={"test": "methods"},
        out=out,
    )
    assert result.status == "ok", result
    return out


@pytest.fixture(scope="session")
def lorenz_splits(lorenz_store: Path) -> dict[str, xr.Dataset]:
    """The train, val and test splits of the Lorenz store (:func:`dsrbench.splits.split_of`)."""
    ds = stores.open_dataset(lorenz_store)
    return {name: splits.split_of(ds, name) for name in splits.SPLITS}


@pytest.fixture(scope="session")
def lorenz_nan_store(lorenz_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the Lorenz store with a NaN written into ``x`` through zarr: a sound store
    (every chunk's checksum holds) whose data are invalid, so the jobs that read it record
    that system as failed (:class:`dsrbench.stores.DatasetError`) and go on."""
    import shutil

    import zarr

    out = tmp_path_factory.mktemp("lorenz-nan") / "Lorenz.zarr"
    shutil.copytree(lorenz_store, out)
    zarr.open_array(out / "x", mode="r+")[0, 10, 0] = np.nan
    return out


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny results directory (tests/tiny_run.py): do not modify it."""
    from tiny_run import make_tiny_run

    return make_tiny_run(tmp_path_factory.mktemp("tiny") / "tinyrun")


@pytest.fixture(scope="session")
def tiny_chronos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny random models of the three Chronos pipelines in local directories
    (tests/chronos_models.py); skips where the chronos extra is not installed."""
    pytest.importorskip("chronos", reason="the chronos extra is not installed")
    from chronos_models import KINDS, build_tiny

    root = tmp_path_factory.mktemp("chronos")
    return {kind: build_tiny(kind, root / kind) for kind in KINDS}
