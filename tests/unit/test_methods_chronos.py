"""The ``chronos`` adapter over the chronos-forecasting package, through tiny randomly
initialised models of each pipeline kind saved locally (the tiny_chronos fixture): a (T, 3)
context with horizon 300 (past the models' 64 steps: the autoregressive path) equals three
direct per-coordinate calls of the package, and is deterministic for a seed; missing
weights stop a job at once with the fix; forecasts of random weights are labelled
``weights=random-smoke`` and the leaderboard and index leave them out. Skipped where the
chronos extra is not installed (`make install` installs it)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support.chronos_models import H, check_forecast_equals_three_direct_calls, context

from dsrbench import layout, methods
from dsrbench.methods import MissingWeightsError

pytest.importorskip("chronos", reason="the chronos extra is not installed")


@pytest.mark.parametrize(
    ("kind", "horizon"),
    [
        ("bolt", H),
        ("chronos2", H),
        # Chronos samples token by token (about 2.5 s per 300-step call here): 70 steps (past
        # its 64: the autoregressive path) in the default tier, 300 in the end-to-end tier
        # (e2e/test_methods_chronos_e2e.py)
        ("chronos", 70),
    ],
)
def test_forecast_equals_three_direct_per_coordinate_calls(
    kind, horizon, tiny_chronos, lorenz_splits
):
    check_forecast_equals_three_direct_calls(kind, horizon, tiny_chronos[kind], lorenz_splits)


def test_chronos_samples_differ_between_seeds(tiny_chronos, lorenz_splits):
    ctx = context(lorenz_splits)[None, :, :1]
    a = methods.get("chronos")(model=str(tiny_chronos["chronos"]), device="cpu", seed=0)
    b = methods.get("chronos")(model=str(tiny_chronos["chronos"]), device="cpu", seed=1)
    assert not np.array_equal(a.forecast(ctx, 20), b.forecast(ctx, 20))


def test_save_then_load_and_the_contract_shape(tiny_chronos, lorenz_splits, tmp_path):
    model = methods.get("chronos")(model=str(tiny_chronos["bolt"]), device="cpu")
    ctx = np.stack([context(lorenz_splits), context(lorenz_splits, 256)[-128:]])
    model.save(tmp_path / "m")
    loaded = methods.get("chronos").load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.forecast(ctx, 30), model.forecast(ctx, 30))
    assert model.generate(ctx[:1], 500).shape == (1, 500, 3)
    assert model.weights_ == "random-smoke"
    traits = methods.traits("chronos")
    assert not traits.needs_fit and traits.uses_torch and traits.pretrained_on == "unknown"


def test_missing_weights_fail_at_once_naming_what_to_place_where(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    with pytest.raises(MissingWeightsError, match="config.json and model.safetensors"):
        methods.get("chronos")(model=str(tmp_path))  # a directory without weights
    with pytest.raises(MissingWeightsError) as err:
        methods.get("chronos")(model="amazon/chronos-t5-small")
    message = str(err.value)
    assert "'amazon/chronos-t5-small' not found locally" in message
    assert "huggingface-cli download amazon/chronos-t5-small" in message
    assert "evaluation.hyperparameters.chronos.model" in message and str(tmp_path / "hf") in message


def test_a_predict_job_with_missing_weights_stops_without_a_record(tiny_run, tmp_path):
    """Not recorded as failed (a rerun with the weights in place would keep that record):
    the job stops with the message."""
    from support.tiny_run import DATASET, SYSTEM

    from dsrbench.pipeline import predict_job

    job = {
        "evaluation": {
            "context_length": 20,
            "horizon": 60,
            "contexts_per_trajectory": 2,
            "long_run_length": 300,
        },
        "hyperparameters": {"model": str(tmp_path / "no-weights")},
    }
    record = tmp_path / "record.json"
    with pytest.raises(MissingWeightsError, match="no-weights"):
        predict_job.predict(
            job,
            dataset_record=layout.dataset_record(tiny_run, DATASET, SYSTEM),
            model_record=None,
            method="chronos",
            seed=0,
            out=tmp_path / "p.zarr",
            record=record,
        )
    assert not record.exists()


def test_random_weights_are_labelled_and_left_out_of_leaderboard_and_index(tiny_chronos, tmp_path):
    from support.tiny_run import CONFIG, make_run

    from dsrbench.reports import open_run
    from dsrbench.reports.render import _systems_table

    cfg = json.loads(json.dumps(CONFIG))
    cfg["evaluation"]["methods"] = ["truth", "persistence", "chronos"]
    cfg["evaluation"]["hyperparameters"] = {
        "chronos": {"model": str(tiny_chronos["bolt"]), "device": "cpu"}
    }
    results = make_run(tmp_path / "results", cfg)
    import pandas as pd

    table = pd.read_parquet(layout.merged_metrics(results))
    rows = table[table.method == "chronos"]
    assert len(rows) > 10 and rows.reason.str.contains("weights=random-smoke").all()
    assert not table[table.method != "chronos"].reason.fillna("").str.contains("smoke").any()
    run = open_run(results)
    assert "chronos" not in run.methods and "persistence" in run.methods
    assert any("chronos" in n and "random-smoke" in n for n in run.notes)
    assert "chronos" in open_run(results, include_random_smoke=True).methods
    page = results / "reports" / "systems" / "Lorenz.html"
    page.parent.mkdir(parents=True)
    page.write_text("<html></html>")
    html, _ = _systems_table([page], results / "reports", results)
    assert "persistence" in html and "chronos" not in html.lower()
