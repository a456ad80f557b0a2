"""The fixtures every test may use (the one module of fixtures): a small real Lorenz-63
dataset for the method tests, finished tiny runs, the method contract's caches, tiny
Chronos models. Helpers that are not fixtures are in the ``support`` package beside this
file; tests/README.md says where a test goes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from support import LORENZ_SETTING, TESTS
from support.tiny_run import make_tiny_run, make_user_run

from dsrbench import methods, splits, stores
from dsrbench.cli import main
from dsrbench.datasets import build_dataset
from dsrbench.reports import export

E2E = Path(__file__).resolve().parent / "e2e"


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tier is the folder: an ``e2e`` marker outside tests/e2e/ is refused."""
    stray = [
        i.nodeid for i in items if i.get_closest_marker("e2e") and not i.path.is_relative_to(E2E)
    ]
    if stray:
        raise pytest.UsageError(
            "the e2e marker is set by tests/e2e/conftest.py; move these tests to tests/e2e/: "
            + ", ".join(stray)
        )


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
    import zarr

    out = tmp_path_factory.mktemp("lorenz-nan") / "Lorenz.zarr"
    shutil.copytree(lorenz_store, out)
    zarr.open_array(out / "x", mode="r+")[0, 10, 0] = np.nan
    return out


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny results directory (support/tiny_run.py): do not modify it."""
    return make_tiny_run(tmp_path_factory.mktemp("tiny") / "tinyrun")


@pytest.fixture(scope="module")
def shipped(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny run's export, as a shipped run's docs/results/<run>/<run>.parquet would be
    (the join tests)."""
    return export.export_run(tiny_run, tmp_path_factory.mktemp("shipped") / "tiny.parquet")


@pytest.fixture(scope="module")
def user_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's run of the tiny config with the oracle and ``var`` only
    (:func:`support.tiny_run.make_user_run`)."""
    return make_user_run(tmp_path_factory.mktemp("user") / "mine")


@pytest.fixture(scope="module")
def joined(user_run: Path, shipped: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``dsrbench report join`` of ``user_run`` and ``shipped``."""
    out = tmp_path_factory.mktemp("joined") / "joined"
    assert main(["report", "join", str(user_run), str(shipped), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def tiny_chronos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny random models of the three Chronos pipelines in local directories
    (dsrbench.methods.chronos.build_random_weights); skips where the chronos extra is not
    installed."""
    pytest.importorskip("chronos", reason="the chronos extra is not installed")
    from dsrbench.methods.chronos import RANDOM_KINDS, build_random_weights

    root = tmp_path_factory.mktemp("chronos")
    return {kind: build_random_weights(kind, root / kind) for kind in RANDOM_KINDS}


@pytest.fixture(scope="module")
def persistence_pe(lorenz_splits) -> float:
    """PE(20) of persistence on the Lorenz test split (the method contract)."""
    from support.contract import pe20  # its method sets import every method (darts, torch)

    return pe20(methods.get("persistence")(), lorenz_splits["test"])


@pytest.fixture(scope="module")
def fitted(lorenz_splits) -> dict[str, methods.Method]:
    """The methods fitted so far in a module of the method contract, by name
    (:func:`support.contract.fitted_model`)."""
    return {}


@pytest.fixture()
def old_run(tmp_path: Path) -> Path:
    """A copy of tests/fixtures/results_4901663/, a results directory written at commit
    4901663 (its records name paths relative to the fixture folder, so the copy keeps that
    folder's shape and the pages run from it)."""
    shutil.copytree(TESTS / "fixtures" / "results_4901663", tmp_path / "old")
    return tmp_path / "old" / "results"
