"""Training jobs: fit one method on the training split of one dataset and save the model.

:func:`train_to_directory` is what the workflow's ``train`` rule runs. It fits the method
(checkpoints and the per-epoch log go where :class:`~dsrbench.methods.RunFiles` says, so a
killed job resumes when rerun), saves the model into a temporary sibling directory with a
``training.json`` (timing, device, epochs, provenance), and renames it onto the output, so a
killed job never leaves a directory that looks like a finished model.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from dsrbench import stores
from dsrbench.atomic import atomic_path, write_json_atomic
from dsrbench.methods import Method, RunFiles
from dsrbench.provenance import provenance

__all__ = ["TRAINING_RECORD", "load_model", "split_dataset", "train", "train_to_directory"]

TRAINING_RECORD = "training.json"


def split_dataset(
    ds: xr.Dataset, train_length: int | None = None, val_length: int | None = None
) -> tuple[xr.Dataset, xr.Dataset | None]:
    """The training and validation splits of a dataset store (val None when empty), cut to
    their first ``train_length`` / ``val_length`` points (Gilpin 2023 trains on 1000 points
    and validates on 200). ``train_mean`` and ``train_std`` are recomputed on the cut
    training data, so nothing outside it leaks into the model."""
    split = ds["split"].values
    train = ds.isel(trajectory=np.flatnonzero(split == stores.SPLIT_CODES["train"]))
    val_idx = np.flatnonzero(split == stores.SPLIT_CODES["val"])
    val = ds.isel(trajectory=val_idx) if val_idx.size else None
    for name, length in (("train_length", train_length), ("val_length", val_length)):
        if length is not None and length > ds.sizes["time"]:
            raise ValueError(
                f"training.{name} = {length} exceeds the trajectory length "
                f"{ds.sizes['time']} of dataset {ds.attrs.get('dataset')!r}"
            )
    if train_length is not None:
        train = train.isel(time=slice(0, train_length))
        x = train["x"].values
        train = train.assign(
            train_mean=("dim", x.mean(axis=(0, 1))), train_std=("dim", x.std(axis=(0, 1)))
        )
    if val is not None and val_length is not None:
        val = val.isel(time=slice(0, val_length))
    return train, val


def train(
    method: str,
    ds: xr.Dataset,
    *,
    seed: int = 0,
    hyperparameters: dict[str, Any] | None = None,
    device: str = "auto",
    budget: float | None = None,
    run: RunFiles | None = None,
    train_length: int | None = None,
    val_length: int | None = None,
) -> tuple[Method, dict[str, Any]]:
    """Fit ``method`` on ``ds``'s training split (cut as :func:`split_dataset` says);
    returns the model and what the fit did."""
    from dsrbench import methods

    model = methods.get(method)(**(hyperparameters or {}))
    train_split, val_split = split_dataset(ds, train_length, val_length)
    start = time.perf_counter()
    model.fit(train_split, val_split, device=device, seed=seed, budget=budget, run=run)
    info: dict[str, Any] = {"fit_seconds": time.perf_counter() - start}
    result = getattr(model, "training_result_", None)
    if result is not None:  # torch methods: what the Trainer did
        info.update(
            epochs_run=int(result.epochs_run),
            resumed_from_epoch=int(result.resumed_from),
            best_validation_stsp=_finite_or_none(result.best_score),
            best_epoch=int(result.best_epoch),
            stopped_by_budget=bool(result.stopped_by_budget),
            stopped_by=str(result.stopped_by),
            training_seconds_total=float(result.seconds),
        )
    info["device"] = str(getattr(model, "device_", "cpu"))
    return model, info


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def train_to_directory(
    method: str,
    dataset_path: str | Path,
    out: str | Path,
    *,
    seed: int = 0,
    hyperparameters: dict[str, Any] | None = None,
    device: str = "auto",
    budget: float | None = None,
    run: RunFiles | None = None,
    config: dict | None = None,
    train_length: int | None = None,
    val_length: int | None = None,
) -> dict[str, Any]:
    """Train and save the model at ``out`` atomically; returns the training record."""
    out = Path(out)
    ds = stores.open_dataset(dataset_path)
    model, info = train(
        method,
        ds,
        seed=seed,
        hyperparameters=hyperparameters,
        device=device,
        budget=budget,
        run=run,
        train_length=train_length,
        val_length=val_length,
    )
    record = {
        "method": method,
        "system": ds.attrs["system"],
        "dataset": ds.attrs["dataset"],
        "seed": int(seed),
        "hyperparameters": model.params,
        "dataset_config_hash": ds.attrs.get("config_hash", ""),
        "train_length": train_length,
        "val_length": val_length,
        **info,
        "provenance": provenance(config or {}),
    }
    with atomic_path(out) as tmp:
        model.save(tmp)
        write_json_atomic(tmp / TRAINING_RECORD, record)
    return record


def load_model(directory: str | Path) -> tuple[Method, dict[str, Any]]:
    """A model saved by :func:`train_to_directory` and its training record."""
    from dsrbench import methods

    directory = Path(directory)
    record_path = directory / TRAINING_RECORD
    if not record_path.exists():
        raise FileNotFoundError(
            f"{directory} is not a trained model (no {TRAINING_RECORD}); rerun its train job"
        )
    record = json.loads(record_path.read_text())
    return methods.get(record["method"]).load(directory), record
