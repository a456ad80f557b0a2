"""Snapshots of a latent RNN at given optimiser steps (``training.snapshot_steps``), scored
as the evaluation scores the trained model (dsrbench.pipeline.snapshots)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.tiny_run import CONFIG as TINY
from support.tiny_run import DATASET, SYSTEM, make_run

from dsrbench import layout
from dsrbench.methods import get as get_method
from dsrbench.pipeline.config import load_config
from dsrbench.pipeline.plan import train_slice
from dsrbench.pipeline.snapshots import floor_fractions, score_snapshot, score_snapshots

METHOD = "alrnn"
CONFIG = {
    **TINY,  # tests/support/tiny_run.py's system and dataset setting
    "evaluation": {
        "methods": [METHOD],
        "seeds": [0, 1],
        "context_length": 20,
        "horizon": 40,
        "contexts_per_trajectory": 2,
        "long_run_length": 300,
        "hyperparameters": {
            METHOD: {
                "epochs": 3,
                "batches_per_epoch": 2,
                "batch_size": 4,
                "seq_len": 10,
                "latent_dim": 5,
                "forcing_interval": 4,
                "validate_every": 100,  # validated once, at the last epoch: best = last
                "code_steps": 100,
            }
        },
    },
    "training": {"device": "cpu", "snapshot_steps": [2, 6]},
}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("snapshots") / "run", CONFIG)


def _snapshot(results: Path, seed: int, step: int) -> dict[str, np.ndarray]:
    directory = layout.snapshot_dir(results, DATASET, METHOD, SYSTEM, seed)
    with np.load(layout.snapshot_file(directory, step)) as z:
        return {k: z[k] for k in z.files}


def test_training_saves_the_weights_after_each_listed_step(run: Path) -> None:
    for seed in (0, 1):
        directory = layout.snapshot_dir(run, DATASET, METHOD, SYSTEM, seed)
        assert sorted(p.name for p in directory.glob("*.npz")) == [
            "step0000002.npz",
            "step0000006.npz",
        ]
        early, last = _snapshot(run, seed, 2), _snapshot(run, seed, 6)
        model = get_method(METHOD).load(layout.model_dir(run, DATASET, METHOD, SYSTEM, seed))
        # 6 steps = the whole training, validated once at its end: the trained weights
        for name, value in model.weights_.items():
            np.testing.assert_array_equal(last[f"w_{name}"], value)
        assert any(not np.array_equal(early[k], last[k]) for k in early if k.startswith("w_"))
        assert not bool(last["diverged"])
    # the two seeds are different models
    assert not np.array_equal(_snapshot(run, 0, 6)["w_W"], _snapshot(run, 1, 6)["w_W"])


def test_a_snapshot_is_scored_as_the_evaluation_scores_the_trained_model(run: Path) -> None:
    metrics = pd.read_parquet(layout.merged_metrics(run))
    for seed in (0, 1):
        row = score_snapshot(run, DATASET, METHOD, SYSTEM, seed, 6)
        ours = metrics[(metrics["method"] == METHOD) & (metrics["seed"] == seed)]
        for metric in ("D_stsp", "D_H"):
            expected = float(ours.loc[ours["metric"] == metric, "value"].iloc[0])
            assert row[metric] == expected


def test_every_snapshot_is_scored_beside_the_floor_and_summarised(run: Path) -> None:
    scores = score_snapshots(run)
    assert len(scores) == 4 and set(scores["step"]) == {2, 6}
    metrics = pd.read_parquet(layout.merged_metrics(run))
    floor = metrics[(metrics["method"] == "floor") & (metrics["metric"] == "D_stsp")]
    assert (scores["floor_D_stsp"] == float(floor["value"].iloc[0])).all()
    # the true run integrated once per system and seed gives the evaluation's values
    for r in scores[scores["step"] == 6].itertuples():
        ours = metrics[(metrics["method"] == METHOD) & (metrics["seed"] == r.seed)]
        assert r.D_stsp == float(ours.loc[ours["metric"] == "D_stsp", "value"].iloc[0])
    fractions = floor_fractions(scores)
    assert list(fractions["step"]) == [2, 6]
    for r in fractions.itertuples():
        g = scores[scores["step"] == r.step]
        within = ((g["status"] == "ok") & (g["D_stsp"] <= 5 * g["floor_D_stsp"])).mean()
        assert r.within_5x_floor == within


def test_a_config_without_snapshot_steps_keeps_its_train_slice() -> None:
    plain = {**CONFIG, "training": {"device": "cpu"}}
    sliced = train_slice(load_config(plain), METHOD, SYSTEM)
    assert "snapshot_steps" not in sliced["training"]
    with_steps = train_slice(load_config(CONFIG), METHOD, SYSTEM)
    assert with_steps["training"]["snapshot_steps"] == [2, 6]
