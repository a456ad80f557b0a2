"""Training jobs: model directories written atomically, loaded back for prediction, and
per-system hyperparameters from the config."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support import LORENZ_SETTING

from dsrbench import stores
from dsrbench.cli import main
from dsrbench.pipeline.config import ConfigError, load_config
from dsrbench.pipeline.plan import method_hyperparameters
from dsrbench.pipeline.predict import predict_to_store
from dsrbench.pipeline.train import TRAINING_RECORD, load_model, train_to_directory


def test_train_writes_a_complete_model_directory_and_nothing_else(lorenz_store, tmp_path):
    out = tmp_path / "models" / "mean"
    record = train_to_directory("mean", lorenz_store, out, seed=1)
    assert (out / TRAINING_RECORD).is_file() and (out / "hyperparameters.json").is_file()
    assert record["method"] == "mean" and record["system"] == "Lorenz" and record["seed"] == 1
    assert record["fit_seconds"] >= 0 and "git_revision" in record["provenance"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["mean"]  # no temporary left
    model, saved = load_model(out)
    ds = stores.open_dataset(lorenz_store)
    train = ds["x"].values[ds["split"].values == 0]
    np.testing.assert_allclose(model.mean_, train.mean(axis=(0, 1)))
    assert saved["dataset_config_hash"] == ds.attrs["config_hash"]


def test_load_model_of_an_unfinished_directory_says_how_to_fix(tmp_path):
    (tmp_path / "half").mkdir()
    with pytest.raises(FileNotFoundError, match="rerun its train job"):
        load_model(tmp_path / "half")


def test_predict_uses_the_trained_model_and_keeps_its_record(lorenz_store, tmp_path):
    model_dir = tmp_path / "model"
    train_to_directory("mean", lorenz_store, model_dir, seed=0)
    store = predict_to_store(
        "mean",
        lorenz_store,
        tmp_path / "pred.zarr",
        model_dir=model_dir,
        context_length=10,
        horizon=20,
        contexts_per_trajectory=2,
        long_run_length=200,
    )
    pred = stores.open_predictions(store)
    assert pred.attrs["training"]["method"] == "mean"
    assert "fit_seconds" not in pred.attrs["timing"]  # not refitted
    model, _ = load_model(model_dir)
    np.testing.assert_array_equal(pred["forecast"].values[0, 0], model.mean_)
    with pytest.raises(ValueError, match="holds a 'mean' model"):
        predict_to_store(
            "persistence",
            lorenz_store,
            tmp_path / "p2.zarr",
            model_dir=model_dir,
            context_length=10,
            horizon=20,
            contexts_per_trajectory=1,
        )


def test_predict_never_trains_a_method_that_needs_a_fit(lorenz_store, tmp_path):
    """Without a model, a method that needs a fit is refused (with the fix in the message);
    one that needs none (persistence) predicts from its hyperparameters."""
    from dsrbench import methods

    unfitted = {m for m in methods.available() if not methods.get(m).needs_fit}
    # they forecast from the context (chronos after its pretraining)
    assert unfitted == {"persistence", "context_parroting", "chronos"}
    settings = {"context_length": 10, "horizon": 20, "contexts_per_trajectory": 1}
    with pytest.raises(ValueError, match="'mean' must be trained.*train job"):
        predict_to_store("mean", lorenz_store, tmp_path / "mean.zarr", **settings)
    assert not (tmp_path / "mean.zarr").exists()
    store = predict_to_store(
        "persistence", lorenz_store, tmp_path / "p.zarr", long_run_length=200, **settings
    )
    pred = stores.open_predictions(store)
    ds = stores.open_dataset(lorenz_store)
    traj, start = pred["context_trajectory"].values, pred["context_start"].values
    last = ds["x"].values[traj, start - 1]
    np.testing.assert_array_equal(pred["forecast"].values[:, -1], last)
    assert "fit_seconds" not in pred.attrs["timing"]


def _config(**hyper):
    return load_config(
        {
            "systems": ["Lorenz", "Rossler"],
            "datasets": {
                "d": {"pts_per_period": 50, "length": 500, "n_train": 1, "n_val": 0, "n_test": 1}
            },
            "evaluation": {"methods": ["mean"], "hyperparameters": hyper},
        }
    )


def test_per_system_hyperparameters_override_the_method_ones():
    from dsrbench import methods

    name, key, default = "var", "lags", methods.get("var").hyperparameters["lags"]
    cfg = _config(**{name: {key: default, "by_system": {"Rossler": {key: "x"}}}})
    assert method_hyperparameters(cfg, name, "Lorenz") == {key: default}
    assert method_hyperparameters(cfg, name, "Rossler") == {key: "x"}
    assert method_hyperparameters(cfg, "mean", "Lorenz") == {}


def test_bad_per_system_hyperparameters_name_the_key_and_the_fix():

    name = "var"
    with pytest.raises(ConfigError, match=r"by_system\.Lorenz.*unknown hyperparameter 'nope'"):
        _config(**{name: {"by_system": {"Lorenz": {"nope": 1}}}})
    with pytest.raises(ConfigError, match=r"by_system\.Lorenzz.*Lorenz"):
        _config(**{name: {"by_system": {"Lorenzz": {}}}})
    with pytest.raises(ConfigError, match=r"unknown method 'meen' \(did you mean 'mean'"):
        _config(meen={})


def test_train_cli_records_a_skipped_dataset_and_a_failed_fit(
    lorenz_store, lorenz_nan_store, tmp_path
):
    cfg = json.dumps(
        {
            "systems": ["Lorenz"],
            "datasets": {"methods": LORENZ_SETTING},
            "evaluation": {"methods": ["mean"]},  # the command trains configured methods only
        }
    )
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {"system": "Lorenz", "dataset": "methods", "status": "failed", "reason": "blow-up"}
        )
    )
    rec = tmp_path / "rec.json"
    args = ["train", "--config-json", cfg, "--method", "mean", "--out", str(tmp_path / "m")]
    assert main([*args, "--dataset-record", str(bad), "--record", str(rec)]) == 0
    out = json.loads(rec.read_text())
    assert out["status"] == "skipped" and "blow-up" in out["reason"]
    assert not (tmp_path / "m").exists()

    good = tmp_path / "good.json"
    good.write_text(
        json.dumps(
            {"system": "Lorenz", "dataset": "methods", "status": "ok", "path": str(lorenz_store)}
        )
    )
    assert main([*args, "--dataset-record", str(good), "--record", str(rec)]) == 0
    out = json.loads(rec.read_text())
    assert out["status"] == "ok" and Path(out["model_path"]).is_dir()

    # a model that cannot be fitted (its data hold a NaN) is recorded as failed, with the
    # reason; a store that is not sound stops the job instead (tests/unit/test_jobs.py)
    bad_data = {"system": "Lorenz", "dataset": "methods", "status": "ok"}
    good.write_text(json.dumps({**bad_data, "path": str(lorenz_nan_store)}))
    assert main([*args, "--dataset-record", str(good), "--record", str(rec)]) == 0
    out = json.loads(rec.read_text())
    assert out["status"] == "failed" and "non-finite values" in out["reason"]


@pytest.mark.parametrize("model_lyapunov", [True, False])
def test_model_lyapunov_is_computed_only_when_asked(lorenz_store, tmp_path, model_lyapunov):
    """evaluation.model_lyapunov: a model with a Jacobian gets its QR exponent (ESN here)
    unless the config turns it off, as Gilpin 2023's does."""
    model_dir = tmp_path / "esn"
    train_to_directory("esn", lorenz_store, model_dir, seed=0, hyperparameters={"units": 50})
    store = predict_to_store(
        "esn",
        lorenz_store,
        tmp_path / "pred.zarr",
        model_dir=model_dir,
        context_length=50,
        horizon=20,
        contexts_per_trajectory=1,
        long_run_length=100,
        model_lyapunov=model_lyapunov,
    )
    attrs = stores.open_predictions(store).attrs
    assert ("model_lyapunov" in attrs) is model_lyapunov
    assert ("lyapunov_seconds" in attrs["timing"]) is model_lyapunov
    if model_lyapunov:
        assert np.isfinite(attrs["model_lyapunov"]["value"])
