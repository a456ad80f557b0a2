"""Building datasets with the real integrator on small, real dysts systems."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dsrbench import integration
from dsrbench.datasets import SUMMARY_COLUMNS, BuildResult, build_dataset, summarize
from dsrbench.integration import trajectories
from dsrbench.splits import split_of
from dsrbench.stores import open_dataset
from dsrbench.systems import UnknownSystemError

SETTING = {
    "pts_per_period": 30,
    "timescale": "fourier",
    "length": 200,
    "n_train": 2,
    "n_val": 1,
    "n_test": 1,
    "burn_in": 200,
}
INTEGRATION = {"rtol": 1e-10, "atol": 1e-10}
CONFIG = {"datasets": {"tiny": SETTING}, "integration": INTEGRATION}


def build(out: Path, system: str = "Lorenz", seed: int = 0, **overrides) -> BuildResult:
    return build_dataset(
        system,
        "tiny",
        {**SETTING, **overrides},
        seed=seed,
        integration=INTEGRATION,
        config=CONFIG,
        out=out,
    )


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def lorenz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = build(tmp_path_factory.mktemp("lorenz") / "Lorenz.zarr")
    assert result.status == "ok", result.reason
    return Path(result.path)


def test_result_and_schema(lorenz: Path) -> None:
    ds = open_dataset(lorenz)
    assert dict(ds.sizes) == {"trajectory": 4, "time": 200, "dim": 3, "state": 3}
    assert ds["split"].values.tolist() == [0, 0, 1, 2]
    assert ds.attrs["system"] == "Lorenz" and ds.attrs["dataset"] == "tiny"
    assert ds.attrs["generation"]["setting"]["burn_in"] == 200
    assert ds.attrs["generation"]["seed"] == 0
    assert "x_clean" not in ds
    assert ds["time"].values[0] == 0.0
    np.testing.assert_allclose(np.diff(ds["time"].values), 1.5008 / 30, rtol=1e-2)


def test_bit_identical_for_same_seed(lorenz: Path, tmp_path: Path) -> None:
    again = build(tmp_path / "again.zarr")
    assert again.status == "ok"
    a, b = open_dataset(lorenz), open_dataset(again.path)
    assert a["x"].values.tobytes() == b["x"].values.tobytes()
    assert a.attrs == b.attrs
    assert _files(lorenz) == _files(Path(again.path))  # the stores themselves, byte for byte


def test_different_seed_differs(lorenz: Path, tmp_path: Path) -> None:
    other = build(tmp_path / "other.zarr", seed=1)
    a, b = open_dataset(lorenz), open_dataset(other.path)
    assert not np.array_equal(a["initial_condition"].values, b["initial_condition"].values)
    assert not np.array_equal(a["x"].values, b["x"].values)


def test_distinct_initial_conditions(lorenz: Path) -> None:
    ds = open_dataset(lorenz)
    ic = ds["initial_condition"].values
    assert len(np.unique(ic, axis=0)) == ic.shape[0]
    # starts are at least one trajectory length apart in the pool: no split retraces another
    starts = np.sort(ds.attrs["generation"]["pool_indices"])
    assert np.all(np.diff(starts) >= 200)
    # the stored initial condition and t0 reproduce the stored trajectory
    x = integration.simulate(
        "Lorenz", 200, initial_conditions=ic[3], t0=ds["t0"].values[3], pts_per_period=30
    )
    np.testing.assert_allclose(x[0], ds["x"].values[3], atol=1e-6)


def test_train_statistics(lorenz: Path) -> None:
    ds = open_dataset(lorenz)
    train = split_of(ds, "train")["x"].values
    np.testing.assert_allclose(ds["train_mean"].values, train.mean(axis=(0, 1)), rtol=1e-12)
    np.testing.assert_allclose(ds["train_std"].values, train.std(axis=(0, 1)), rtol=1e-12)


def test_observation_noise(tmp_path: Path) -> None:
    result = build(tmp_path / "noisy.zarr", observation_noise=0.05)
    ds = open_dataset(result.path)
    x, clean = ds["x"].values, ds["x_clean"].values
    split = ds["split"].values
    np.testing.assert_array_equal(x[split == 2], clean[split == 2])  # test stays clean
    assert np.all(x[split == 1] != clean[split == 1])  # val is noisy too
    scale = 0.05 * clean[split == 0].std(axis=(0, 1))
    residual = (x - clean)[split == 0].std(axis=(0, 1))
    np.testing.assert_allclose(residual / scale, 1.0, atol=0.1)
    np.testing.assert_allclose(ds["train_std"].values, x[split == 0].std(axis=(0, 1)))
    # the clean data are those of the noise-free build
    plain = open_dataset(build(tmp_path / "plain.zarr").path)
    np.testing.assert_array_equal(clean, plain["x"].values)


def test_nonautonomous_keeps_phase(tmp_path: Path) -> None:
    result = build(tmp_path / "Duffing.zarr", system="Duffing")
    assert result.status == "ok", result.reason
    ds = open_dataset(result.path)
    t0 = ds["t0"].values
    assert np.all(t0 > 0) and len(np.unique(t0)) == 4
    x = integration.simulate(
        "Duffing",
        200,
        initial_conditions=ds["initial_condition"].values[:1],
        t0=t0[:1],
        pts_per_period=30,
    )
    np.testing.assert_allclose(x[0], ds["x"].values[0], atol=1e-6)


def test_failure_writes_no_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(system: str, *args, **kwargs):
        raise integration.IntegrationError(system, "step size underflow")

    monkeypatch.setattr(trajectories, "simulate", fail)  # what simulate_robust calls
    out = tmp_path / "failed.zarr"
    result = build(out)
    assert result.status == "failed" and "step size underflow" in result.reason
    assert result.path is None and result.n_trajectories == 0
    assert not out.exists() and not list(tmp_path.iterdir())


def test_unknown_system(tmp_path: Path) -> None:
    with pytest.raises(UnknownSystemError):
        build(tmp_path / "x.zarr", system="Lorenz64")


def test_delay_system(tmp_path: Path) -> None:
    result = build(tmp_path / "MackeyGlass.zarr", system="MackeyGlass")
    assert result.status == "ok", result.reason
    assert (result.n_trajectories, result.n_time, result.n_dim) == (4, 200, 10)
    ds = open_dataset(result.path)
    assert ds.sizes["dim"] == 10 and ds.sizes["state"] == 10
    assert ds.attrs["generation"]["trajectory_transient"] == 20
    assert np.all(np.isfinite(ds["x"].values))


def test_summarize(lorenz: Path) -> None:
    ok = BuildResult("Lorenz", "tiny", "ok", None, 1.0, 4, 200, 3, str(lorenz))
    bad = BuildResult("Torus", "tiny", "failed", "boom", 0.5, 0, 0, 0, None)
    frame = summarize([ok.to_json(), bad])
    assert list(frame.columns) == SUMMARY_COLUMNS
    assert frame["status"].tolist() == ["ok", "failed"]
    assert frame.loc[1, "reason"] == "boom"


def test_a_per_system_sampling_applies_to_its_system_only(lorenz: Path, tmp_path: Path) -> None:
    """``by_system`` changes the sampling of the named system (the DSR papers' Roessler data
    at 74 points per period beside Lorenz at 150) and leaves every other system's store
    bit-identical to a build without it."""
    per_system = {"by_system": {"Rossler": {"pts_per_period": 15}}}
    same = build(tmp_path / "Lorenz.zarr", **per_system)
    assert _files(Path(same.path)) == _files(lorenz)
    spacing = {}
    for name, extra in (("coarse", per_system), ("plain", {})):
        ds = open_dataset(build(tmp_path / f"{name}.zarr", system="Rossler", **extra).path)
        spacing[name] = float(ds["time"].values[1] - ds["time"].values[0])
        setting = ds.attrs["generation"]["setting"]
        assert "by_system" not in setting
        assert setting["pts_per_period"] == (15 if extra else 30)
    # dysts' grid: period * n / (pts_per_period * (n - 1)), so 30 -> 15 doubles the step
    assert spacing["coarse"] == pytest.approx(2 * spacing["plain"], rel=1e-12)
