"""The long true runs are integrated once (dsrbench.truth.write_true_runs) and read back
by the truth oracle and the evaluation with the same bits as integrating them there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dsrbench import stores
from dsrbench.pipeline.evaluate import evaluate_prediction, truth_floor
from dsrbench.pipeline.predict import predict_to_store
from dsrbench.truth import TrueRuns, regenerate_run, true_run_keys, write_true_runs

LENGTH = 2500  # longer than the store's 2000 points: every run is re-integrated
EVALUATION = {
    "context_length": 20,
    "horizon": 40,
    "contexts_per_trajectory": 2,
    "context_splits": ["test"],
    "context_lengths": [],
    "long_run_length": LENGTH,
    "long_run_transient": 0.25,
}


@pytest.fixture(scope="module")
def runs_file(lorenz_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    ds = stores.open_dataset(lorenz_store)
    keys = true_run_keys(ds, EVALUATION, [0, 1])
    return write_true_runs(ds, keys, tmp_path_factory.mktemp("runs") / "Lorenz.npz")


def test_the_runs_are_those_of_the_oracle_the_floor_and_each_free_run(lorenz_store) -> None:
    ds = stores.open_dataset(lorenz_store)
    # oracle (last training trajectory, 1.25 T points, seed + 1), floor (first test and
    # first training trajectory, seeds 0 and 1), each free run's truth (first test, seed)
    assert true_run_keys(ds, EVALUATION, [0, 1]) == [
        (1, 3125, 1),
        (1, 3125, 2),
        (3, LENGTH, 0),
        (0, LENGTH, 1),
        (3, LENGTH, 1),
    ]
    short = {**EVALUATION, "long_run_length": 1000}  # within the store: only the oracle's
    assert true_run_keys(ds, short, [0]) == [(1, 1250, 1)]


def test_a_run_read_back_has_the_bits_of_a_new_integration(lorenz_store, runs_file) -> None:
    ds = stores.open_dataset(lorenz_store)
    runs = TrueRuns.load(runs_file)
    assert sorted(runs.runs) == sorted(true_run_keys(ds, EVALUATION, [0, 1]))
    for (index, n, seed), run in runs.runs.items():
        again = regenerate_run(ds, index, n, seed=seed)
        assert run.x.dtype == again.x.dtype and np.array_equal(run.x, again.x)
        assert run.fallback == again.fallback
    other = TrueRuns(runs.runs, "another dataset store")
    assert other.get(ds, 1, 3125, 1) is None  # the runs of another store are never used


def test_the_oracle_and_the_evaluation_score_the_same_with_the_runs(
    lorenz_store, runs_file, tmp_path
) -> None:
    kwargs = {k: EVALUATION[k] for k in ("context_length", "horizon", "contexts_per_trajectory")}
    kwargs |= {"long_run_length": LENGTH, "seed": 0}
    with_runs = predict_to_store(
        "truth", lorenz_store, tmp_path / "a.zarr", true_runs=runs_file, **kwargs
    )
    alone = predict_to_store("truth", lorenz_store, tmp_path / "b.zarr", **kwargs)
    a, b = stores.open_predictions(with_runs), stores.open_predictions(alone)
    assert np.array_equal(a["generated"].values, b["generated"].values)
    floor = truth_floor(lorenz_store, LENGTH, true_runs=runs_file)
    assert floor == truth_floor(lorenz_store, LENGTH)
    rows = evaluate_prediction(lorenz_store, with_runs, floor, runs_file)
    again = evaluate_prediction(lorenz_store, alone, floor)
    assert len(rows) == len(again) > 10
    for r, s in zip(rows, again, strict=True):
        assert r.keys() == s.keys()
        for k in r:
            same = r[k] == s[k] or (isinstance(r[k], float) and np.isnan(r[k]) and np.isnan(s[k]))
            assert same, (k, r[k], s[k])
