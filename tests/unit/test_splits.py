"""Every split of a dataset store (dsrbench.splits) on a real Lorenz-63 store: which
trajectories each stage reads, the cuts of the training protocols and where the forecast
contexts and the long runs start, checked against the store's split codes directly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dsrbench import splits, stores


@pytest.fixture(scope="module")
def ds(lorenz_store: Path):
    return stores.open_dataset(lorenz_store)


def test_split_codes_and_selection_follow_the_store_order(ds) -> None:
    # LORENZ_SETTING: 2 train, 1 val, 1 test, stored in that order
    assert splits.SPLITS == ("train", "val", "test")
    np.testing.assert_array_equal(splits.split_codes(2, 1, 1), ds["split"].values)
    assert splits.split_codes(2, 1, 1).dtype == np.int8
    assert splits.indices(ds, "train").tolist() == [0, 1]
    np.testing.assert_array_equal(splits.split_of(ds, "val")["x"].values, ds["x"].values[2:3])
    assert splits.split_of(ds, "test").sizes["trajectory"] == 1
    with pytest.raises(ValueError, match="unknown split 'validation'"):
        splits.split_of(ds, "validation")


def test_training_splits_cut_and_rescale_on_the_cut_points_only(ds) -> None:
    train, val = splits.training_splits(ds, train_length=500, val_length=200)
    x = ds["x"].values[:2, :500]
    assert train.sizes["time"] == 500 and val.sizes["time"] == 200
    np.testing.assert_array_equal(train["x"].values, x)
    np.testing.assert_allclose(train["train_mean"].values, x.mean(axis=(0, 1)), rtol=1e-12)
    np.testing.assert_allclose(train["train_std"].values, x.std(axis=(0, 1)), rtol=1e-12)
    whole, _ = splits.training_splits(ds)  # uncut: the store's own statistics
    np.testing.assert_array_equal(whole["train_mean"].values, ds["train_mean"].values)
    with pytest.raises(ValueError, match="training.train_length = 9999 exceeds"):
        splits.training_splits(ds, train_length=9999)


def test_train_tail_validates_on_the_points_after_training(ds) -> None:
    train, val = splits.protocol_splits(ds, 300, 100, "train_tail")
    np.testing.assert_array_equal(val["x"].values, ds["x"].values[:2, 300:400])
    np.testing.assert_array_equal(val["train_mean"].values, train["train_mean"].values)
    with pytest.raises(ValueError, match="training.validation must be one of"):
        splits.protocol_splits(ds, 300, 100, "tail")


def test_refit_data_and_its_continuation_are_the_first_test_trajectory(ds) -> None:
    test = ds["x"].values[3]
    data = splits.refit_data(ds, 400, start=100)
    np.testing.assert_array_equal(data["x"].values[0], test[100:400])
    np.testing.assert_array_equal(splits.refit_continuation(ds, 400, 50)[0], test[400:450])


def test_contexts_are_evenly_spaced_on_every_test_trajectory(ds) -> None:
    traj, start = splits.context_indices(ds, 50, 200, 3)
    assert traj.tolist() == [3, 3, 3]
    # evenly spaced from the context length to the last start that leaves the horizon
    assert start.tolist() == [50, 925, 1800]
    with pytest.raises(ValueError, match="context_length"):
        splits.context_indices(ds, 1900, 200, 3)


def test_long_runs_start_from_the_first_test_and_first_and_last_training_trajectories(
    ds,
) -> None:
    where = splits.long_run_trajectories(ds)
    assert (where.test, where.floor, where.oracle) == (3, 0, 1)
    assert splits.free_run_points(2000, 0.25) == 2500
    assert splits.free_run_points(300, 0.0) == 300
