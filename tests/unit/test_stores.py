"""Dataset store I/O: round trip, bit-identical writes, detection of bad stores."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

from dsrbench.datasets import system_metadata
from dsrbench.provenance import (
    canonical_json,
    config_hash,
    git_revision,
    package_versions,
    provenance,
)
from dsrbench.stores import (
    DatasetError,
    StoreIntegrityError,
    open_dataset,
    write_dataset,
)

CONFIG = {"datasets": {"tiny": {"length": 50}}, "seed": 3}


def make_dataset(n_traj: int = 4, n_time: int = 50, noise: bool = True) -> xr.Dataset:
    """A small schema-complete dataset (Lorenz-like numbers, real metadata and provenance)."""
    rng = np.random.default_rng(0)
    clean = rng.normal(size=(n_traj, n_time, 3)).cumsum(axis=1)
    x = clean + 0.1 * rng.normal(size=clean.shape) if noise else clean
    split = np.array([0, 0, 1, 2][:n_traj], dtype=np.int8)
    train = x[split == 0]
    variables = {
        "x": (("trajectory", "time", "dim"), x),
        "split": (("trajectory",), split),
        "t0": (("trajectory",), np.arange(n_traj) * 1.5),
        "initial_condition": (("trajectory", "state"), clean[:, 0, :]),
        "train_mean": (("dim",), train.mean(axis=(0, 1))),
        "train_std": (("dim",), train.std(axis=(0, 1))),
    }
    if noise:
        variables["x_clean"] = (("trajectory", "time", "dim"), clean)
    return xr.Dataset(
        variables,
        coords={"time": np.arange(n_time) * 0.01},
        attrs={
            "system": "Lorenz",
            "dataset": "tiny",
            "dsrbench_schema_version": 1,
            "system_metadata": system_metadata("Lorenz"),
            "generation": {"setting": {"length": n_time, "observation_noise": 0.1}, "seed": 3},
            "provenance": provenance(CONFIG),
            "config_hash": config_hash(CONFIG),
        },
    )


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return write_dataset(make_dataset(), tmp_path / "Lorenz" / "tiny.zarr")


def test_round_trip(store: Path) -> None:
    original = make_dataset()
    ds = open_dataset(store)
    for name in ("x", "x_clean", "split", "t0", "initial_condition", "train_mean", "train_std"):
        assert ds[name].dtype == original[name].dtype, name
        np.testing.assert_array_equal(ds[name].values, original[name].values)
        assert ds[name].dims == original[name].dims
    np.testing.assert_array_equal(ds["time"].values, original["time"].values)
    assert "time" in ds.coords
    expected = {**original.attrs, "dsrbench_complete": True}
    assert ds.attrs == json.loads(canonical_json(expected))
    assert set(ds.attrs["provenance"]) == {"packages", "git_revision", "config_hash"}
    assert {"dsrbench", "dysts", "numpy", "xarray", "zarr", "python"} <= set(
        ds.attrs["provenance"]["packages"]
    )
    assert ds.attrs["system_metadata"]["period"] == pytest.approx(1.5008)
    assert ds["split"].attrs["flag_meanings"] == "train val test"
    assert list(ds["split"].attrs["flag_values"]) == [0, 1, 2]
    # loaded into memory: the data survive the deletion of the store
    shutil.rmtree(store)
    np.testing.assert_array_equal(ds["x_clean"].values, original["x_clean"].values)
    assert float(ds["time"][-1]) == pytest.approx(0.49)


def test_store_layout(store: Path) -> None:
    group = zarr.open_group(store, mode="r", zarr_format=3)
    x = group["x"]
    assert x.chunks == (1, 50, 3)  # one trajectory per chunk
    codec, checksum = x.compressors  # zstd, then a CRC-32C of the compressed bytes
    assert type(codec).__name__ == "ZstdCodec" and codec.level == 3
    assert type(checksum).__name__ == "Crc32cCodec"
    assert group.attrs["dsrbench_complete"] is True
    assert not list(store.parent.glob("*.tmp-*")) and not list(store.parent.glob("*.old-*"))
    assert json.loads((store / "zarr.json").read_text()).get("consolidated_metadata") is None


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_writes_are_bit_identical_and_replace(tmp_path: Path) -> None:
    a = write_dataset(make_dataset(), tmp_path / "a.zarr")
    b = write_dataset(make_dataset(), tmp_path / "b.zarr")
    assert _files(a) == _files(b)
    # replacing an existing store: new content, no leftovers
    write_dataset(make_dataset(noise=False), a)
    assert "x_clean" not in open_dataset(a)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zarr", "b.zarr"]


def test_write_rejects_schema_violations(tmp_path: Path) -> None:
    bad = make_dataset().drop_vars("train_std")
    with pytest.raises(ValueError, match="train_std"):
        write_dataset(bad, tmp_path / "bad.zarr")
    bad = make_dataset()
    bad["split"] = bad["split"].astype(np.int64)
    with pytest.raises(ValueError, match="dtype"):
        write_dataset(bad, tmp_path / "bad.zarr")
    assert not list(tmp_path.iterdir())


def test_missing_chunk_is_partial(store: Path) -> None:
    (store / "x" / "c" / "1" / "0" / "0").unlink()
    with pytest.raises(DatasetError, match="partial") as info:
        open_dataset(store)
    assert str(store) in str(info.value) and "snakemake" in str(info.value)


def test_corrupt_chunk(store: Path) -> None:
    (store / "x" / "c" / "2" / "0" / "0").write_bytes(b"not zstd at all")
    with pytest.raises(DatasetError, match="could not be loaded") as info:
        open_dataset(store)
    assert str(store) in str(info.value)


def test_a_few_overwritten_bytes_are_a_corrupt_chunk_not_other_numbers(store: Path) -> None:
    """zstd alone can decode changed bytes into other numbers; the checksum of every chunk
    turns them into an error naming the store."""
    chunk = store / "x" / "c" / "1" / "0" / "0"
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 4] = b"\x00\xff\x00\xff"
    chunk.write_bytes(bytes(data))
    with pytest.raises(StoreIntegrityError, match="corrupt") as info:
        open_dataset(store)
    assert str(store) in str(info.value) and "checksum" in str(info.value)


def test_non_finite_values_are_invalid_data_not_a_broken_store(store: Path) -> None:
    """A sound store holding NaN: a DatasetError (the jobs record that system as failed),
    not a StoreIntegrityError (the jobs stop)."""
    zarr.open_array(store / "x", mode="r+")[0, 5, 1] = np.nan
    with pytest.raises(DatasetError, match="'x' holds non-finite values") as info:
        open_dataset(store)
    assert not isinstance(info.value, StoreIntegrityError)
    assert str(store) in str(info.value)


def test_the_fix_names_the_chunk_record_of_the_job_that_wrote_the_store(tmp_path: Path) -> None:
    from dsrbench import layout

    results = tmp_path / "results"
    path = write_dataset(make_dataset(), layout.dataset_store(results, "tiny", "Lorenz"))
    chunk = layout.dataset_chunk(results, "tiny", "c000")
    chunk.parent.mkdir(parents=True)
    chunk.write_text(json.dumps({"chunk_of": "simulate", "records": ["../Lorenz.json"]}))
    assert layout.owning_chunk(path) == chunk
    shutil.rmtree(path / "train_std")
    with pytest.raises(StoreIntegrityError, match="train_std") as info:
        open_dataset(path)
    assert f"`--forcerun {chunk}`" in str(info.value)
    chunk.unlink()  # no chunk record lists it: deleting it and rerunning builds it
    with pytest.raises(StoreIntegrityError, match=f"delete {path} and run snakemake again"):
        open_dataset(path)


def test_missing_completion_marker(store: Path) -> None:
    meta = json.loads((store / "zarr.json").read_text())
    del meta["attributes"]["dsrbench_complete"]
    (store / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="dsrbench_complete") as info:
        open_dataset(store)
    assert str(store) in str(info.value)


def test_leftover_temporary_directory(store: Path) -> None:
    leftover = store.with_name(store.name + ".tmp-0123abcd")
    store.rename(leftover)
    with pytest.raises(DatasetError, match="interrupted") as info:
        open_dataset(store)
    assert str(leftover) in str(info.value)


def test_missing_variable(store: Path) -> None:
    shutil.rmtree(store / "train_std")
    with pytest.raises(DatasetError, match="train_std"):
        open_dataset(store)


def test_wrong_dims(tmp_path: Path) -> None:
    ds = make_dataset()
    ds["x"] = ds["x"].transpose("trajectory", "dim", "time")
    ds.attrs["dsrbench_complete"] = True
    path = tmp_path / "wrong.zarr"
    ds.to_zarr(path, zarr_format=3, consolidated=False)
    with pytest.raises(DatasetError, match="dims"):
        open_dataset(path)


def test_foreign_store(tmp_path: Path) -> None:
    path = tmp_path / "foreign.zarr"
    foreign = xr.Dataset({"x": (("a", "b"), np.zeros((2, 3)))}, attrs={"title": "other"})
    foreign.to_zarr(path, zarr_format=3, consolidated=False)
    with pytest.raises(DatasetError, match="not a dsrbench dataset") as info:
        open_dataset(path)
    assert str(path) in str(info.value)


def test_garbage(tmp_path: Path) -> None:
    path = tmp_path / "garbage.zarr"
    path.write_bytes(b"\x00garbage")
    with pytest.raises(DatasetError, match="not a zarr store"):
        open_dataset(path)
    path.unlink()
    path.mkdir()
    (path / "zarr.json").write_text("{not json")
    with pytest.raises(DatasetError, match="corrupt"):
        open_dataset(path)
    empty = tmp_path / "empty.zarr"
    empty.mkdir()
    with pytest.raises(DatasetError, match="not a zarr v3 store"):
        open_dataset(empty)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist") as info:
        open_dataset(tmp_path / "nope.zarr")
    assert "snakemake" in str(info.value)


def test_provenance_helpers(tmp_path: Path) -> None:
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})
    assert len(config_hash({})) == 16
    assert config_hash({"a": np.float64(0.5)}) == config_hash({"a": 0.5})
    versions = package_versions()
    assert versions["numpy"] == np.__version__ and "python" in versions
    assert git_revision(tmp_path) == "unknown"  # not a repository
    assert git_revision() == git_revision()  # whatever the state of the checkout: stable
    assert provenance(CONFIG) == provenance(CONFIG)


def test_the_short_revision_is_the_git_revision_cut_to_seven_digits(tmp_path) -> None:
    """The evidence pages' commit (benchmarks/accuracy, benchmarks/speed): git_revision with
    the hash cut to 7 hex digits, ``-dirty`` kept; outside a work tree, ``unknown``."""
    from dsrbench.provenance import git_revision, short_revision

    full, short = git_revision(), short_revision()
    assert short.removesuffix("-dirty") == full.removesuffix("-dirty")[:7]
    assert short.endswith("-dirty") == full.endswith("-dirty")
    assert short_revision(tmp_path) == git_revision(tmp_path)
