"""The compiled random-forest predictor against scikit-learn's own ``predict``."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import xarray as xr
from sklearn.ensemble import RandomForestRegressor

from dsrbench import methods
from dsrbench.methods._fast_forest import FastForest, compiled_forest


def _lagged(x: np.ndarray, lags: int) -> tuple[np.ndarray, np.ndarray]:
    rows = np.stack([x[i : i + lags].ravel() for i in range(x.shape[0] - lags)])
    return rows, x[lags:]


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_compiled_forest_is_bit_for_bit_sklearn(lorenz_splits, n_outputs: int) -> None:
    x = np.asarray(lorenz_splits["train"]["x"].values[0, :800])
    X, y = _lagged(x, 4)
    forest = RandomForestRegressor(n_estimators=20, random_state=0).fit(
        X[:600], y[:600, 0] if n_outputs == 1 else y[:600]
    )
    fast = FastForest(forest)
    rows = np.concatenate([X[600:], X[600:] + 0.37])  # unseen rows, and off the attractor
    expected = forest.predict(rows)
    got = fast.predict(rows)
    assert got.shape == expected.shape
    assert np.array_equal(got, expected)
    rows[3, 2] = np.nan  # a non-finite row goes through scikit-learn's missing-value rules
    assert np.array_equal(fast.predict(rows), forest.predict(rows), equal_nan=True)


def test_random_forest_forecast_is_sklearns_and_leaves_the_forest_picklable(
    lorenz_splits: dict[str, xr.Dataset],
) -> None:
    model = methods.get("random_forest")(lags=5, n_estimators=10)
    model.fit(lorenz_splits["train"], seed=0)
    ctx = np.asarray(lorenz_splits["test"]["x"].values[:1, :200])
    fast = model.forecast(ctx, 150)
    forest = model.model_.model
    assert "predict" not in vars(forest)  # darts' save pickles the plain forest
    model._predicting = contextlib.nullcontext  # scikit-learn's predict at every step
    assert np.array_equal(model.forecast(ctx, 150), fast)
    with compiled_forest(forest, {}):
        assert "predict" in vars(forest)
    assert "predict" not in vars(forest)
