"""The Gilpin 2023 training protocol (dsrbench.pipeline.tuning,
dsrbench.pipeline.train.train_many): grid search on the validation points after the training
points, refit on the test trajectory, the data-limited sweep; on a real Lorenz-63 store, each
checked against a by-hand computation (fit, forecast, sMAPE on the 0-200 scale written out
here)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dsrbench import methods, splits, stores
from dsrbench.datasets import build_dataset
from dsrbench.methods import FitTask
from dsrbench.pipeline.config import ConfigError, load_config
from dsrbench.pipeline.plan import train_slice
from dsrbench.pipeline.train import TrainItem, train_many
from dsrbench.pipeline.tuning import Protocol, data_limited_sweep, grid_points, tune

TRAIN, VAL = 300, 100
SETTING = {
    "pts_per_period": 100,
    "timescale": "fourier",
    "length": 600,
    "n_train": 1,
    "n_val": 0,
    "n_test": 1,
}
PROTOCOL = Protocol(validation="train_tail", tune=True, refit_on="test")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tuning") / "Lorenz.zarr"
    res = build_dataset(
        "Lorenz",
        "fine",
        {**SETTING, "burn_in": 1000},
        seed=1,
        integration={"rtol": 1e-10, "atol": 1e-10},
        config={},
        out=out,
    )
    assert res.status == "ok", res.reason
    return out


def _smape200(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(200 * np.abs(a - b) / (np.abs(a) + np.abs(b))))


def test_grid_points_are_the_product_of_the_grid() -> None:
    points = grid_points({"b": [1, 2], "a": ["x", "y", "z"]})
    assert len(points) == 6
    assert {"a": "z", "b": 2} in points
    assert grid_points(None) == [{}]


def test_train_tail_validates_on_the_points_after_the_training_points(store) -> None:
    ds = stores.open_dataset(store)
    train, val = splits.protocol_splits(ds, TRAIN, VAL, PROTOCOL.validation)
    x = ds["x"].values[splits.indices(ds, "train")]
    np.testing.assert_array_equal(train["x"].values, x[:, :TRAIN])
    np.testing.assert_array_equal(val["x"].values, x[:, TRAIN : TRAIN + VAL])
    np.testing.assert_allclose(train["train_mean"].values, x[:, :TRAIN].mean(axis=(0, 1)))
    np.testing.assert_allclose(val["train_std"].values, x[:, :TRAIN].std(axis=(0, 1)))


def test_tune_keeps_the_grid_point_with_the_lowest_validation_smape(store) -> None:
    ds = stores.open_dataset(store)
    train, val = splits.protocol_splits(ds, TRAIN, VAL, PROTOCOL.validation)
    cls = methods.get("linear_regression")
    grid = {"lags": [2, 5, 10]}
    (result,) = tune(cls, [FitTask(train, val, name="Lorenz")], grid, device="cpu")
    by_hand = {}
    for lags in grid["lags"]:
        model = cls(lags=lags).fit(train, val, device="cpu")
        pred = model.forecast(train["x"].values[:1], VAL)
        by_hand[lags] = _smape200(val["x"].values[:1], pred)
    scores = {s["hyperparameters"]["lags"]: s["score"] for s in result.scores}
    for lags, value in by_hand.items():
        assert scores[lags] == pytest.approx(value, rel=1e-9)
    assert result.best == {"lags": min(by_hand, key=by_hand.get)}
    assert len(set(np.round(list(by_hand.values()), 6))) == 3  # the choice is a real one


def test_a_grid_where_every_point_fails_keeps_the_given_settings(store) -> None:
    ds = stores.open_dataset(store)
    train, val = splits.protocol_splits(ds, TRAIN, VAL, PROTOCOL.validation)
    cls = methods.get("esn")
    (result,) = tune(cls, [FitTask(train, val)], {"washout": [TRAIN + 5]}, device="cpu")
    assert result.best == {} and "no grid point scored" in result.error


def test_data_limited_sweep_fits_the_last_points_before_the_forecast(store) -> None:
    ds = stores.open_dataset(store)
    test = ds["x"].values[splits.indices(ds, "test")[0]]
    cls = methods.get("linear_regression")
    task = FitTask(ds, None, hyperparameters={"lags": 3}, name="Lorenz")
    (rows,) = data_limited_sweep(cls, [ds], [task], [50, TRAIN], TRAIN, 40, device="cpu")
    assert [r["train_length"] for r in rows] == [50, TRAIN]
    for row in rows:
        n = row["train_length"]
        data = test[TRAIN - n : TRAIN]
        model = cls(lags=3).fit(_as_train(data), None, device="cpu")
        expect = _smape200(test[None, TRAIN : TRAIN + 40], model.forecast(data[None], 40))
        assert row["smape"] == pytest.approx(expect, rel=1e-9)


def _as_train(x: np.ndarray):
    from support.method_data import as_dataset

    return as_dataset(x[None], standardize=True)


def test_train_many_tunes_refits_on_test_and_records_it(store, tmp_path) -> None:
    item = TrainItem(
        dataset_path=store,
        out=tmp_path / "model",
        train_length=TRAIN,
        val_length=VAL,
        protocol={
            "validation": "train_tail",
            "tune": True,
            "grid": {"lags": [2, 10]},
            "refit_on": "test",
            "data_limited": [120, TRAIN],
            "fixed_horizon": 50,
        },
    )
    (outcome,) = train_many("linear_regression", [item], device="cpu")
    assert outcome.error is None, outcome.traceback
    record = json.loads((tmp_path / "model" / "training.json").read_text())
    best = record["tuning"]["best"]
    assert record["hyperparameters"]["lags"] == best["lags"]
    assert len(record["tuning"]["scores"]) == 2
    assert record["refit"] == {"on": "test", "points": TRAIN}
    assert [r["train_length"] for r in record["data_limited"]] == [120, TRAIN]
    # the saved model was fitted on the test trajectory's first TRAIN points
    ds = stores.open_dataset(store)
    test = ds["x"].values[splits.indices(ds, "test")[0]]
    model = methods.get("linear_regression").load(tmp_path / "model")
    np.testing.assert_allclose(model.mean_, test[:TRAIN].mean(axis=0))
    # the sweep's full length is the saved model's own 50-step forecast
    full = record["data_limited"][-1]["smape"]
    pred = model.forecast(test[None, :TRAIN], 50)
    assert full == pytest.approx(_smape200(test[None, TRAIN : TRAIN + 50], pred), rel=1e-9)


def _config(tmp_path: Path, training: dict) -> Path:
    path = tmp_path / "c.yaml"
    cfg = {
        "systems": ["Lorenz"],
        "datasets": {"fine": {**SETTING}},
        "training": {"train_length": TRAIN, "val_length": VAL, **training},
        "evaluation": {"methods": ["persistence"], "context_length": 50, "horizon": 100},
    }
    path.write_text(json.dumps(cfg))
    return path


def test_config_rejects_a_sweep_without_refit_on_test(tmp_path) -> None:
    with pytest.raises(ConfigError, match="refit_on: test"):
        load_config(_config(tmp_path, {"data_limited": [100]}))


def test_config_rejects_a_grid_of_unknown_hyperparameters(tmp_path) -> None:
    with pytest.raises(ConfigError, match="training.grids.arima.*'pp'"):
        load_config(
            _config(
                tmp_path,
                {"tune": True, "validation": "train_tail", "grids": {"arima": {"pp": [3]}}},
            )
        )


def test_protocol_keys_enter_the_train_slice_only_when_used(tmp_path) -> None:
    plain = load_config(_config(tmp_path, {}))
    assert set(train_slice(plain, "arima", "Lorenz")["training"]) == {
        "device",
        "budget_seconds",
        "train_length",
        "val_length",
    }
    tuned = load_config(
        _config(
            tmp_path,
            {
                "tune": True,
                "validation": "train_tail",
                "refit_on": "test",
                "grids": {"arima": {"p": [3, 5]}},
            },
        )
    )
    training = train_slice(tuned, "arima", "Lorenz")["training"]
    assert training["grid"] == {"p": [3, 5]} and training["refit_on"] == "test"
    assert "grid" not in train_slice(tuned, "theta", "Lorenz")["training"]


def test_the_sweep_runs_only_for_the_methods_named(tmp_path) -> None:
    cfg = load_config(
        _config(
            tmp_path,
            {"refit_on": "test", "data_limited": [100], "data_limited_methods": ["arima"]},
        )
    )
    assert train_slice(cfg, "arima", "Lorenz")["training"]["data_limited"] == [100]
    assert "data_limited" not in train_slice(cfg, "nbeats", "Lorenz")["training"]
    with pytest.raises(ConfigError, match="data_limited_methods.*'arma'"):
        load_config(
            _config(
                tmp_path,
                {"refit_on": "test", "data_limited": [100], "data_limited_methods": ["arma"]},
            )
        )


def test_config_rejects_tuning_without_validation_points(tmp_path) -> None:
    with pytest.raises(ConfigError, match="n_val' is 0"):
        load_config(_config(tmp_path, {"tune": True}))
