"""Per-job slices of the config: a slice changes when, and only when, what its job depends
on changes (Snakemake reruns a job when the hash of its slices does), and a job command
given a bad config refuses it with a message naming the key and the fix."""

from __future__ import annotations

import copy
import json

import pytest

from dsrbench import methods
from dsrbench.cli import main
from dsrbench.pipeline.config import load_config
from dsrbench.pipeline.plan import (
    chunk_slices,
    is_trained,
    predict_slice,
    simulate_slice,
    slice_hash,
    train_slice,
)

TORCH_METHOD = next(m for m in methods.available() if methods.get(m).uses_torch)
BASE = {
    "systems": ["Lorenz", "Rossler"],
    "datasets": {
        "a": {"pts_per_period": 20, "length": 400, "n_train": 1, "n_val": 1, "n_test": 1},
        "b": {"pts_per_period": 30, "length": 500, "n_train": 2, "n_val": 1, "n_test": 1},
    },
    "evaluation": {
        "methods": ["truth", "persistence", "mean", "var", TORCH_METHOD],
        "context_length": 20,
        "horizon": 40,
        "hyperparameters": {"var": {"lags": 2}},
    },
    "training": {"device": "cpu", "budget_seconds": 10},
}


def changed(path: str, value) -> dict:
    """BASE with the key at the dotted ``path`` set to ``value``, loaded."""
    cfg = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node = cfg
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return load_config(cfg)


def slices(cfg: dict) -> dict[str, dict]:
    out = {"simulate": simulate_slice(cfg, "Lorenz", "a")}
    for m in BASE["evaluation"]["methods"]:
        if is_trained(m):
            out[f"train/{m}"] = train_slice(cfg, m, "Lorenz")
        out[f"predict/{m}"] = predict_slice(cfg, m, "Lorenz")
    return out


def differing(path: str, value) -> set[str]:
    """The slices (of Lorenz on setting a) that change when ``path`` becomes ``value``."""
    before, after = slices(load_config(copy.deepcopy(BASE))), slices(changed(path, value))
    return {k for k in before if before[k] != after[k]}


TRAINED = {"train/mean", "train/var", f"train/{TORCH_METHOD}"}
PREDICTED = {f"predict/{m}" for m in BASE["evaluation"]["methods"]}


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("seed", 5, {"simulate"}),
        ("integration.rtol", 1e-8, {"simulate"}),
        ("datasets.a.length", 450, {"simulate"}),
        ("datasets.b.length", 450, set()),  # another setting
        ("training.budget_seconds", 20, TRAINED),
        ("training.train_length", 100, TRAINED),
        ("training.val_length", 100, TRAINED),
        ("training.device", "auto", {*TRAINED, f"predict/{TORCH_METHOD}"}),
        ("training.threads", 4, set()),  # resources of the job, not inputs
        ("training.mem_mb", 9000, set()),
        ("training.runtime_minutes", 5, set()),
        ("evaluation.hyperparameters.var.lags", 3, {"train/var"}),
        ("evaluation.hyperparameters.var.by_system", {"Lorenz": {"lags": 4}}, {"train/var"}),
        ("evaluation.hyperparameters.var.by_system", {"Rossler": {"lags": 4}}, set()),
        ("evaluation.context_length", 10, PREDICTED),
        ("evaluation.horizon", 50, PREDICTED),
        ("evaluation.contexts_per_trajectory", 1, PREDICTED),
        ("evaluation.long_run_length", 300, PREDICTED),
        ("evaluation.seeds", [0, 1], set()),
        ("evaluation.dask.n_workers", 3, set()),
        ("reports.bootstrap_samples", 500, set()),
        ("results_dir", "elsewhere", set()),
    ],
)
def test_a_slice_changes_iff_what_its_job_depends_on_changes(path, value, expected):
    assert differing(path, value) == expected


def test_slices_hold_no_dummy_values_and_validate():
    cfg = load_config(copy.deepcopy(BASE))
    assert set(train_slice(cfg, "var", "Lorenz")) == {"hyperparameters", "training"}
    assert train_slice(cfg, "var", "Lorenz")["hyperparameters"] == {"lags": 2}
    assert set(predict_slice(cfg, "var", "Lorenz")) == {"evaluation"}  # the model carries the rest
    assert "hyperparameters" in predict_slice(cfg, "persistence", "Lorenz")  # built untrained
    assert predict_slice(cfg, TORCH_METHOD, "Lorenz")["training"] == {"device": "cpu"}


def test_the_slice_hash_follows_the_slices_and_the_seeds():
    cfg = load_config(copy.deepcopy(BASE))
    train = chunk_slices(cfg, "train", "a", "c000", "var")
    assert train == {s: train_slice(cfg, "var", s) for s in ("Lorenz", "Rossler")}
    planned = slice_hash(train, [0])
    assert planned == slice_hash(json.loads(json.dumps(train)), [0])  # JSON round trip
    assert planned != slice_hash(train, [0, 1])
    assert planned != slice_hash(
        chunk_slices(changed("training.budget_seconds", 20), "train", "a", "c000", "var"), [0]
    )
    assert planned == slice_hash(
        chunk_slices(changed("training.threads", 4), "train", "a", "c000", "var"), [0]
    )


def test_only_methods_that_need_a_fit_are_trained():
    assert not is_trained("truth") and not is_trained("persistence")
    assert is_trained("mean")  # predicts the training mean
    for name in methods.available():
        assert is_trained(name) == methods.get(name).needs_fit


def test_the_job_commands_refuse_a_bad_config_with_exit_status_2(tmp_path, capsys):
    dataset = tmp_path / "Lorenz.json"
    dataset.write_text(json.dumps({"system": "Lorenz", "dataset": "a", "status": "ok"}))
    common = ["--dataset-record", str(dataset), "--method", "var"]
    common += ["--out", str(tmp_path / "out"), "--record", str(tmp_path / "rec.json")]
    bad = copy.deepcopy(BASE)
    bad["training"]["budget_seconds"] = -1
    assert main(["train", "--config-json", json.dumps(bad), *common]) == 2
    assert "config key 'training.budget_seconds' must be > 0" in capsys.readouterr().err
    assert main(["predict", "--config-json", "{not json", *common]) == 2
    assert "--config-json is not valid JSON" in capsys.readouterr().err
    sim = ["--system", "Lorenz", "--dataset", "c", "--out", str(tmp_path / "x.zarr")]
    sim += ["--record", str(tmp_path / "rec.json")]
    assert main(["simulate", "--config-json", json.dumps(BASE), *sim]) == 2
    assert "--dataset 'c' is not a dataset setting of the config" in capsys.readouterr().err
    assert not (tmp_path / "rec.json").exists()
