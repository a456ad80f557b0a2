"""Irregular sampling: the dataset setting ``missing_fraction`` (KoVAE, Naiman et al. 2024).

Each training trajectory drops the stated fraction of its time points, drawn from the
dataset's seed; the store records the kept points (``observed``); the training split hides
the dropped ones (NaN) and takes its mean and scale from the kept ones; validation and test
data stay regular. Unset or 0, the store is the one built without the setting. A method
that needs regular sampling refuses such data, naming itself and the option.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from dsrbench import methods, splits, stores
from dsrbench.datasets import build_dataset
from dsrbench.pipeline.train import train

SETTING = {"pts_per_period": 30, "length": 200, "n_train": 2, "n_val": 1, "n_test": 1}
INTEGRATION = {"rtol": 1e-9, "atol": 1e-9}


def _build(tmp: Path, name: str, seed: int = 0, **extra: float) -> xr.Dataset:
    result = build_dataset(
        "Lorenz",
        "irregular",
        {**SETTING, **extra},
        seed=seed,
        integration=INTEGRATION,
        config={},
        out=tmp / f"{name}.zarr",
    )
    assert result.status == "ok", result
    return stores.open_dataset(result.path)


@pytest.fixture(scope="module")
def stores_built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, xr.Dataset]:
    tmp = tmp_path_factory.mktemp("irregular")
    return {
        "unset": _build(tmp, "unset"),
        "zero": _build(tmp, "zero", missing_fraction=0.0),
        "half": _build(tmp, "half", missing_fraction=0.5),
        "half_again": _build(tmp, "half_again", missing_fraction=0.5),
        "half_seed1": _build(tmp, "half_seed1", seed=1, missing_fraction=0.5),
    }


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.5, 0.7])
def test_mask_drops_the_stated_fraction_of_training_points_only(fraction: float) -> None:
    seed = np.random.SeedSequence(7)
    mask = splits.missing_mask(3, 1, 2, 100, fraction, seed)
    assert mask.shape == (6, 100) and mask.dtype == bool
    assert (mask[:3].sum(axis=1) == 100 - round(fraction * 100)).all()
    assert mask[3:].all()  # validation and test stay regular
    again = splits.missing_mask(3, 1, 2, 100, fraction, np.random.SeedSequence(7))
    np.testing.assert_array_equal(mask, again)
    if fraction:
        other = splits.missing_mask(3, 1, 2, 100, fraction, np.random.SeedSequence(8))
        assert (mask != other).any()


def test_mask_refuses_a_fraction_outside_its_range() -> None:
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="missing_fraction"):
            splits.missing_mask(1, 0, 0, 50, bad, np.random.SeedSequence(0))


def test_zero_builds_the_store_built_without_the_setting(stores_built) -> None:
    unset, zero = stores_built["unset"], stores_built["zero"]
    assert set(unset.variables) == set(zero.variables)
    assert splits.OBSERVED not in zero
    xr.testing.assert_identical(unset, zero)


def test_store_records_the_kept_points_and_is_reproducible(stores_built) -> None:
    half, unset = stores_built["half"], stores_built["unset"]
    kept = half[splits.OBSERVED].values
    train = splits.indices(half, "train")
    assert (kept[train].sum(axis=1) == 100).all()
    assert kept[splits.indices(half, "test")].all() and kept[splits.indices(half, "val")].all()
    # the values are those of the regular store: only the record of kept points is new
    np.testing.assert_array_equal(half["x"].values, unset["x"].values)
    assert half.attrs["generation"]["setting"]["missing_fraction"] == 0.5
    np.testing.assert_array_equal(kept, stores_built["half_again"][splits.OBSERVED].values)
    assert (kept != stores_built["half_seed1"][splits.OBSERVED].values).any()


def test_training_split_hides_the_dropped_points(stores_built) -> None:
    half = stores_built["half"]
    tr, val = splits.training_splits(half)
    x = tr["x"].values
    assert splits.missing_fraction(tr) == pytest.approx(0.5)
    assert np.isnan(x).any(axis=2).mean() == pytest.approx(0.5)
    assert (np.isnan(x).all(axis=2) == np.isnan(x).any(axis=2)).all()  # whole time rows
    kept = x[tr[splits.OBSERVED].values]
    np.testing.assert_allclose(tr["train_mean"].values, kept.mean(axis=0))
    np.testing.assert_allclose(tr["train_std"].values, kept.std(axis=0))
    assert val is not None and splits.OBSERVED not in val and np.isfinite(val["x"].values).all()
    # a cut to the first points keeps the mask of those points
    cut, _ = splits.training_splits(half, train_length=120)
    np.testing.assert_array_equal(
        cut[splits.OBSERVED].values,
        half[splits.OBSERVED].values[splits.indices(half, "train"), :120],
    )
    # the regular store's splits are unchanged
    reg, _ = splits.training_splits(stores_built["unset"])
    xr.testing.assert_identical(reg, splits.split_of(stores_built["unset"], "train"))


def test_a_regular_method_refuses_dropped_points_naming_itself_and_the_option(
    stores_built, tmp_path: Path
) -> None:
    half = stores_built["half"]
    tr, val = splits.training_splits(half)
    assert not methods.traits("var").irregular_sampling
    with pytest.raises(splits.IrregularSamplingError, match=r"'var'.*missing_fraction"):
        methods.get("var")().fit(tr, val)
    with pytest.raises(splits.IrregularSamplingError, match=r"'koopman_ae'.*missing_fraction"):
        methods.get("koopman_ae").check_sampling(tr)
    with pytest.raises(splits.IrregularSamplingError, match="'sindy'"):
        train("sindy", half)
    methods.get("var").check_sampling(splits.training_splits(stores_built["unset"])[0])


def test_kovae_trains_on_dropped_points_with_its_cde_encoder(stores_built) -> None:
    tr, val = splits.training_splits(stores_built["half"])
    assert methods.traits("kovae").irregular_sampling
    cls = methods.get("kovae")
    hp = {**cls.quick_hyperparameters, "epochs": 1, "batches_per_epoch": 2, "batch_size": 8}
    model = cls(**hp).fit(tr, val, device="cpu", seed=0)
    assert bool(model.ncde_)
    ctx = splits.split_of(stores_built["half"], "test")["x"].values[:, :50]
    assert np.isfinite(model.forecast(ctx, 10)).all()
    assert model.generate(ctx, 30).shape == (1, 30, 3)


def test_kovae_fills_dropped_points_linearly_in_time() -> None:
    import torch

    from dsrbench.methods.kovae import fill_gaps

    tau = torch.tensor([0.0, 0.1, 0.4, 0.5, 1.0], dtype=torch.float64)
    x = torch.tensor([[np.nan, 1.0, np.nan, 2.0, np.nan]], dtype=torch.float64)[..., None]
    out = fill_gaps(x, tau)[0, :, 0]
    np.testing.assert_allclose(out.numpy(), [1.0, 1.0, 1.0 + 0.3 / 0.4, 2.0, 2.0])
