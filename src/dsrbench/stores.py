"""Dataset I/O: the one place where dsrbench reads and writes trajectory stores.

Each (system, dataset setting) pair is one zarr v3 store (a directory), written by
:func:`write_dataset` and read back, validated and loaded into memory, by :func:`open_dataset`.

Schema (version 1)
------------------
Dimensions: ``trajectory``, ``time``, ``dim`` (observed coordinates) and ``state`` (the raw
state handed to the integrator; kept separate from ``dim`` because the two need not agree:
for delay systems it is the 10-D delay embedding, of which only the first entry is used).

Data variables
    ``x(trajectory, time, dim)`` float64
        Observed values, observation noise included when there is any. Coordinates are the
        raw (post-processed, as dysts does by default) system coordinates, not standardised.
    ``x_clean(trajectory, time, dim)`` float64
        Noise-free values; present only when the observation noise is > 0.
    ``split(trajectory)`` int8
        0 = train, 1 = val, 2 = test, with CF attributes ``flag_values=[0, 1, 2]`` and
        ``flag_meanings="train val test"``. An integer code, not a string coordinate,
        because string coordinates are unreliable with zarr 3 + xarray (xarray issue #11267).
    ``t0(trajectory)`` float64
        Absolute model time of each trajectory's first point (matters for non-autonomous
        systems).
    ``initial_condition(trajectory, state)`` float64
        Raw (un-post-processed) state each trajectory was integrated from. For delay systems
        the integrator starts from a constant history equal to its first entry.
    ``train_mean(dim)``, ``train_std(dim)`` float64
        Mean and standard deviation (ddof 0) of ``x`` over the training split (all its
        trajectories and times), for standardisation and metric scales.
    ``observed(trajectory, time)`` bool
        The time points that irregularly sampled training data keep (True); present only
        when the dataset setting ``missing_fraction`` is > 0 (:mod:`dsrbench.splits`).

Coordinate
    ``time(time)`` float64: time since each trajectory's start, in model time units
    (every trajectory shares the grid).

Attributes (plain JSON values; nested dicts are stored as JSON objects and come back as dicts)
    ``system`` (dysts name), ``dataset`` (setting name), ``dsrbench_schema_version`` (1),
    ``system_metadata`` (dysts metadata of the system), ``generation`` (settings that
    produced the data), ``provenance`` (:func:`dsrbench.provenance.provenance`),
    ``config_hash`` and ``dsrbench_complete`` (``True``, written last).

Stores are written to a temporary sibling (:func:`dsrbench.atomic.atomic_path`) whose group
attribute ``dsrbench_complete`` is set after every array, then renamed onto ``<path>``; a
store missing the marker, a missing chunk or a left-over temporary directory
(:func:`dsrbench.atomic.leftovers`, or the ``<path>.tmp-*`` of earlier versions) is reported
as a partial write. Every chunk carries a CRC-32C checksum after its zstd compression, so
bytes changed on disk are reported as a corrupt chunk rather than read as other numbers.
Consolidated metadata is not used (it is not part of the zarr v3 spec and warns).

Errors: :class:`StoreIntegrityError` (a :class:`DatasetError`) when the store on disk is not
a complete, readable dsrbench store (missing, partial, corrupt, foreign, another schema):
the jobs stop on it, since no result can come from it. A plain :class:`DatasetError` when a
sound store holds values the schema forbids (non-finite data, bad split codes): the jobs
record that system as failed with the message and go on. Both messages name the store and
the command that regenerates it (``snakemake --forcerun`` with the chunk record of the job
that wrote it, :func:`dsrbench.layout.owning_chunk`).
"""

from __future__ import annotations

import glob
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import zarr
from zarr.codecs import Crc32cCodec, ZstdCodec

from dsrbench import layout
from dsrbench.atomic import atomic_path, environment_error, leftovers, remove_path
from dsrbench.provenance import canonical_json
from dsrbench.splits import SPLIT_CODES, SPLITS

__all__ = [
    "SCHEMA_VERSION",
    "DatasetError",
    "StoreIntegrityError",
    "is_fault",
    "write_dataset",
    "open_dataset",
    "write_predictions",
    "open_predictions",
]

SCHEMA_VERSION = 1
SCHEMA_ATTR = "dsrbench_schema_version"
COMPLETE_ATTR = "dsrbench_complete"
ZSTD_LEVEL = 3

#: variable -> (dims, dtype); ``x_clean`` and ``observed`` are optional.
VARIABLES: dict[str, tuple[tuple[str, ...], np.dtype]] = {
    "x": (("trajectory", "time", "dim"), np.dtype("float64")),
    "x_clean": (("trajectory", "time", "dim"), np.dtype("float64")),
    "split": (("trajectory",), np.dtype("int8")),
    "time": (("time",), np.dtype("float64")),
    "t0": (("trajectory",), np.dtype("float64")),
    "initial_condition": (("trajectory", "state"), np.dtype("float64")),
    "train_mean": (("dim",), np.dtype("float64")),
    "train_std": (("dim",), np.dtype("float64")),
    "observed": (("trajectory", "time"), np.dtype("bool")),
}
OPTIONAL_VARIABLES = frozenset({"x_clean", "observed"})
#: attribute -> accepted type(s); ``dsrbench_complete`` is added by :func:`write_dataset`.
ATTRIBUTES: dict[str, type | tuple[type, ...]] = {
    "system": str,
    "dataset": str,
    SCHEMA_ATTR: int,
    "system_metadata": dict,
    "generation": dict,
    "provenance": dict,
    "config_hash": str,
}


class DatasetError(Exception):
    """A dataset or prediction store cannot be used; the message names it and the fix."""


class StoreIntegrityError(DatasetError):
    """The store on disk is not a complete, readable dsrbench store (missing, partial,
    corrupt, foreign, another schema version or layout): no result can come from it, so
    a job that reads it stops (it is not recorded as the system's failure)."""


def is_fault(exc: BaseException) -> bool:
    """Whether ``exc`` must stop a job rather than be recorded as a system's failure: a
    store that is not sound (:class:`StoreIntegrityError`) or a full disk, an exceeded file
    size limit, a read-only or failing file system
    (:func:`dsrbench.atomic.environment_error`)."""
    return isinstance(exc, StoreIntegrityError) or environment_error(exc) is not None


def _rebuild_hint(path: Path) -> str:
    """How to regenerate the store at ``path``: rerun the job that wrote it (the chunk
    record listing it, forced), or, outside a results directory, rewrite it."""
    chunk = layout.owning_chunk(path)
    if chunk is not None:
        return (
            f"regenerate it: run snakemake again with `--forcerun {chunk}` added to this "
            "run's arguments (the same --configfile and --config); that job rebuilds the "
            "stores of its chunk that are not sound and keeps the others"
        )
    if not path.exists():
        return "build it: run snakemake (no chunk record lists it, so its job runs)"
    return (
        f"regenerate it: delete {path} and run snakemake again (no chunk record lists it, "
        "so the job that writes it runs)"
    )


def _schema_problems(ds: xr.Dataset) -> list[str]:
    """Ways in which ``ds`` violates the schema (ignoring the completion marker)."""
    problems: list[str] = []
    for name, (dims, dtype) in VARIABLES.items():
        if name not in ds.variables:
            if name not in OPTIONAL_VARIABLES:
                problems.append(f"missing variable {name!r}")
            continue
        var = ds.variables[name]
        if var.dims != dims:
            problems.append(f"variable {name!r} has dims {var.dims}, expected {dims}")
        if var.dtype != dtype:
            problems.append(f"variable {name!r} has dtype {var.dtype}, expected {dtype}")
    if "time" in ds.variables and "time" not in ds.coords:
        problems.append("'time' must be a coordinate")
    for name, kind in ATTRIBUTES.items():
        if name not in ds.attrs:
            problems.append(f"missing attribute {name!r}")
        elif not isinstance(ds.attrs[name], kind) or isinstance(ds.attrs[name], bool):
            problems.append(
                f"attribute {name!r} is a {type(ds.attrs[name]).__name__}, expected {kind}"
            )
    if ds.attrs.get(SCHEMA_ATTR, SCHEMA_VERSION) != SCHEMA_VERSION:
        problems.append(f"schema version {ds.attrs[SCHEMA_ATTR]!r}, expected {SCHEMA_VERSION}")
    return problems


def _value_problems(ds: xr.Dataset) -> list[str]:
    """Checks on loaded values: split codes, finiteness, a monotonic time grid."""
    problems: list[str] = []
    if "split" in ds and ds["split"].dtype == np.int8:
        bad = np.setdiff1d(np.unique(ds["split"].values), list(SPLIT_CODES.values()))
        if bad.size:
            problems.append(f"split codes {bad.tolist()} outside {list(SPLIT_CODES.values())}")
    for name in ("x", "x_clean", "time", "t0", "initial_condition"):
        if name in ds.variables and ds[name].dtype.kind == "f":
            if not np.all(np.isfinite(ds[name].values)):
                problems.append(f"variable {name!r} holds non-finite values")
    if "time" in ds.variables and ds["time"].size > 1:
        if not np.all(np.diff(ds["time"].values) > 0):
            problems.append("the time coordinate is not strictly increasing")
    return problems


def _json_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """Attributes as plain JSON values (numpy values -> lists/scalars, sorted nested keys)."""
    out = {}
    for key, value in attrs.items():
        out[str(key)] = json.loads(canonical_json(value))
    return out


def _prepared(ds: xr.Dataset) -> xr.Dataset:
    """An in-memory copy ready to write: no stale encodings, split flags, JSON attributes."""
    ds = ds.copy(deep=False).load()
    for var in ds.variables.values():
        var.encoding = {}
    attrs = dict(ds.attrs)
    attrs.pop(COMPLETE_ATTR, None)
    attrs.setdefault(SCHEMA_ATTR, SCHEMA_VERSION)
    ds.attrs = _json_attrs(attrs)
    if "split" in ds:
        ds["split"].attrs.update(
            flag_values=list(SPLIT_CODES.values()), flag_meanings=" ".join(SPLITS)
        )
    return ds


def _encoding(ds: xr.Dataset) -> dict[str, dict[str, Any]]:
    """zstd level 3 and a CRC-32C checksum everywhere; one trajectory per chunk along
    ``trajectory`` for 3-D data."""
    encoding = {}
    for name, var in ds.variables.items():
        chunks = tuple(var.shape)
        if var.ndim == 3 and var.dims[0] == "trajectory":
            chunks = (1, *var.shape[1:])
        encoding[name] = {
            # the checksum comes last: it covers the compressed bytes on disk
            "compressors": (ZstdCodec(level=ZSTD_LEVEL), Crc32cCodec()),
            "chunks": tuple(max(c, 1) for c in chunks),
            "_FillValue": None,
        }
    return encoding


def _atomic_write(ds: xr.Dataset, path: Path) -> None:
    """Write ``ds`` to a temporary sibling, mark it complete, rename it onto ``path``."""
    with atomic_path(path) as tmp:
        ds.to_zarr(
            tmp,
            mode="w-",
            zarr_format=3,
            consolidated=False,
            encoding=_encoding(ds),
            write_empty_chunks=True,
        )
        group = zarr.open_group(tmp, mode="r+", zarr_format=3)
        group.attrs.update({COMPLETE_ATTR: True})  # the completion marker, written last
        if path.is_symlink() or path.is_file():  # not a store: a directory cannot replace it
            remove_path(path)


def write_dataset(ds: xr.Dataset, path: str | os.PathLike[str]) -> Path:
    """Write ``ds`` as a zarr v3 store at ``path``, replacing any existing store.

    The data go to a temporary sibling first; the attribute ``dsrbench_complete = True``
    is written after all arrays, then the directory is renamed onto ``path`` (an existing
    store is renamed away first and deleted afterwards). Raises ``ValueError`` when ``ds``
    does not follow the schema of this module. Returns ``path``.
    """
    path = Path(path)
    ds = _prepared(ds)
    problems = _schema_problems(ds) + _value_problems(ds)
    if problems:
        raise ValueError(f"refusing to write {path}: " + "; ".join(problems))
    _atomic_write(ds, path)
    return path


def _leftovers(path: Path) -> list[Path]:
    """Temporary siblings a killed write left: :func:`dsrbench.atomic.leftovers`, and the
    ``<path>.tmp-*`` / ``<path>.old-*`` names that earlier versions wrote."""
    pattern = glob.escape(path.name)
    legacy = [*path.parent.glob(f"{pattern}.tmp-*"), *path.parent.glob(f"{pattern}.old-*")]
    return sorted({*leftovers(path), *legacy})


def _open_store(path: Path, schema_attr: str, version: int, what: str) -> xr.Dataset:
    """Checks shared by every dsrbench store (see :func:`open_dataset`); returns it loaded."""
    path = Path(path)
    if not path.exists():
        leftovers = _leftovers(path)
        if leftovers:
            names = ", ".join(str(p) for p in leftovers)
            raise StoreIntegrityError(
                f"{path} does not exist, but {names} does: a write of this {what} was "
                f"interrupted and left a partial store; {_rebuild_hint(path)}"
            )
        raise StoreIntegrityError(f"{path} does not exist; {_rebuild_hint(path)}")
    if not path.is_dir():
        raise StoreIntegrityError(
            f"{path} is not a zarr store (it is a file); {_rebuild_hint(path)}"
        )
    if not (path / "zarr.json").is_file():
        kind = "a zarr v2 store" if (path / ".zgroup").exists() else "not a zarr v3 store"
        raise StoreIntegrityError(
            f"{path} is {kind} (no zarr.json), not a dsrbench {what}; {_rebuild_hint(path)}"
        )
    try:
        with warnings.catch_warnings():  # a directory without zarr.json: reported below
            warnings.filterwarnings("ignore", "Object at .* is not recognized")
            group = zarr.open_group(path, mode="r", zarr_format=3)
            attrs = dict(group.attrs)
            arrays = dict(group.arrays())
    except Exception as exc:  # any failure here means unreadable metadata
        raise StoreIntegrityError(
            f"{path} has corrupt or unreadable zarr metadata ({type(exc).__name__}: {exc}); "
            + _rebuild_hint(path)
        ) from exc
    if schema_attr not in attrs:
        raise StoreIntegrityError(
            f"{path} is a zarr store but not a dsrbench {what} (no {schema_attr!r} "
            f"attribute); move it away, or {_rebuild_hint(path)}"
        )
    if attrs[schema_attr] != version:
        raise StoreIntegrityError(
            f"{path} has dsrbench {what} schema version {attrs[schema_attr]!r}, but this "
            f"dsrbench reads version {version}; {_rebuild_hint(path)}"
        )
    if attrs.get(COMPLETE_ATTR) is not True:
        raise StoreIntegrityError(
            f"{path} is a partial store (no {COMPLETE_ATTR!r} marker: its write did not "
            f"finish); {_rebuild_hint(path)}"
        )
    for name, array in arrays.items():
        try:
            missing = array.nchunks - array.nchunks_initialized
        except Exception as exc:
            raise StoreIntegrityError(
                f"{path}: cannot list chunks of {name!r} ({exc}); {_rebuild_hint(path)}"
            ) from exc
        if missing:
            raise StoreIntegrityError(
                f"{path} is a partial store: {missing} of {array.nchunks} chunks of "
                f"{name!r} are missing; {_rebuild_hint(path)}"
            )
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Object at .* is not recognized")
            with xr.open_zarr(path, consolidated=False, zarr_format=3, chunks=None) as lazy:
                ds = lazy.load()
    except Exception as exc:  # corrupt chunks surface as codec errors
        raise StoreIntegrityError(
            f"{path} could not be loaded ({type(exc).__name__}: {exc}); it is partial or "
            f"corrupt; {_rebuild_hint(path)}"
        ) from exc
    return ds


def open_dataset(path: str | os.PathLike[str]) -> xr.Dataset:
    """Open, validate and load (into memory) the dsrbench store at ``path``.

    Raises :class:`StoreIntegrityError`, naming the path and the command that regenerates
    it, when the store is missing, is not a zarr v3 store or has corrupt metadata, was not
    written by dsrbench, is partial (interrupted write, no completion marker, missing
    variable or chunk), holds a corrupt chunk (checksum or codec error) or does not follow
    the schema (dims, dtypes, attributes); :class:`DatasetError` when its values do not
    (non-finite data, split codes, a time grid that does not increase).
    """
    path = Path(path)
    ds = _open_store(path, SCHEMA_ATTR, SCHEMA_VERSION, "dataset")
    problems = _schema_problems(ds)
    if problems:
        raise StoreIntegrityError(
            f"{path} does not follow the dsrbench schema: "
            + "; ".join(problems)
            + f"; {_rebuild_hint(path)}"
        )
    problems = _value_problems(ds)
    if problems:  # a sound store with bad values: that system fails, the others go on
        raise DatasetError(
            f"{path} holds invalid data: " + "; ".join(problems) + f"; {_rebuild_hint(path)}"
        )
    return ds


# --------------------------------------------------------------------------------------------
# prediction stores
# --------------------------------------------------------------------------------------------

PREDICTION_SCHEMA_ATTR = "dsrbench_prediction_schema_version"
PREDICTION_SCHEMA_VERSION = 1
#: variable -> (dims, dtype) of a prediction store. Values may be non-finite: a diverging
#: model is recorded as it is and judged by the evaluation.
PREDICTION_VARIABLES: dict[str, tuple[tuple[str, ...], np.dtype]] = {
    "forecast": (("context", "step", "dim"), np.dtype("float64")),
    "context_trajectory": (("context",), np.dtype("int64")),
    "context_start": (("context",), np.dtype("int64")),
    "generated": (("run", "gen_time", "dim"), np.dtype("float64")),
    "generated_trajectory": (("run",), np.dtype("int64")),
}
PREDICTION_ATTRIBUTES: dict[str, type | tuple[type, ...]] = {
    "method": str,
    "system": str,
    "dataset": str,
    "seed": int,
    "context_length": int,
    "horizon": int,
    "generation_discard": int,
    "hyperparameters": dict,
    "timing": dict,
    "provenance": dict,
}


def _prediction_problems(ds: xr.Dataset) -> list[str]:
    problems = []
    for name, (dims, dtype) in PREDICTION_VARIABLES.items():
        if name not in ds.variables:
            problems.append(f"missing variable {name!r}")
        elif ds.variables[name].dims != dims or ds.variables[name].dtype != dtype:
            var = ds.variables[name]
            problems.append(f"variable {name!r} is {var.dims} {var.dtype}, expected {dims} {dtype}")
    for name, kind in PREDICTION_ATTRIBUTES.items():
        if name not in ds.attrs:
            problems.append(f"missing attribute {name!r}")
        elif not isinstance(ds.attrs[name], kind) or isinstance(ds.attrs[name], bool):
            problems.append(f"attribute {name!r} is a {type(ds.attrs[name]).__name__}")
    return problems


def write_predictions(ds: xr.Dataset, path: str | os.PathLike[str]) -> Path:
    """Write a prediction store (forecasts from test contexts and long free runs).

    Variables: ``forecast(context, step, dim)`` (the ``horizon`` states after each context),
    ``context_trajectory(context)`` and ``context_start(context)`` (dataset trajectory index
    and index of the first forecast step: the context is ``[start - context_length, start)``),
    ``generated(run, gen_time, dim)`` (free runs started from the first state of
    ``generated_trajectory(run)``; the first ``generation_discard`` steps are transient).
    Written atomically like :func:`write_dataset`.
    """
    path = Path(path)
    ds = ds.copy(deep=False).load()
    for var in ds.variables.values():
        var.encoding = {}
    attrs = dict(ds.attrs)
    attrs.pop(COMPLETE_ATTR, None)
    attrs[PREDICTION_SCHEMA_ATTR] = PREDICTION_SCHEMA_VERSION
    ds.attrs = _json_attrs(attrs)
    problems = _prediction_problems(ds)
    if problems:
        raise ValueError(f"refusing to write {path}: " + "; ".join(problems))
    _atomic_write(ds, path)
    return path


def open_predictions(path: str | os.PathLike[str]) -> xr.Dataset:
    """Open, validate and load a prediction store; :class:`StoreIntegrityError` (naming the
    store and the command that regenerates it) if it is not sound."""
    path = Path(path)
    ds = _open_store(path, PREDICTION_SCHEMA_ATTR, PREDICTION_SCHEMA_VERSION, "prediction store")
    problems = _prediction_problems(ds)
    if problems:
        raise StoreIntegrityError(
            f"{path} does not follow the prediction schema: "
            + "; ".join(problems)
            + f"; {_rebuild_hint(path)}"
        )
    return ds
