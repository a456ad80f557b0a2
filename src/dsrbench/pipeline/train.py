"""Training jobs: fit one method on the training split of one dataset and save the model.

:func:`train_many` is what the workflow's ``train`` rule runs over a chunk of systems (all
their models fitted by one ``Method.fit_many`` call); :func:`train_to_directory` trains one
model the same way. It fits the method
(checkpoints and the per-epoch log go where :class:`~dsrbench.methods.RunFiles` says, so a
killed job resumes when rerun), saves the model into a temporary sibling directory with a
``training.json`` (timing, device, epochs, provenance), and renames it onto the output, so a
killed job never leaves a directory that looks like a finished model.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from traceback import format_exc
from typing import Any

import numpy as np
import xarray as xr

from dsrbench import methods, splits, stores
from dsrbench.atomic import atomic_path, write_json_atomic
from dsrbench.methods import FitContext, FitTask, Method, RunFiles
from dsrbench.provenance import hardware, provenance

__all__ = [
    "TRAINING_RECORD",
    "TrainItem",
    "TrainOutcome",
    "TrainingError",
    "load_context_models",
    "load_model",
    "per_context",
    "save_model",
    "train",
    "train_many",
    "train_to_directory",
    "training_info",
]

TRAINING_RECORD = "training.json"


@dataclass(frozen=True)
class TrainItem:
    """One model to train and save: its dataset store, output directory and settings."""

    dataset_path: Path
    out: Path
    seed: int = 0
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    run: RunFiles | None = None
    config: dict[str, Any] | None = None
    train_length: int | None = None
    val_length: int | None = None
    name: str = ""
    #: the protocol keys of the training slice (tuning, refit, data-limited sweep):
    #: :class:`dsrbench.pipeline.tuning.Protocol`; empty: fit on the training split
    protocol: dict[str, Any] = field(default_factory=dict)
    #: with ``refit_on: context``: where the forecast contexts lie (the ``contexts`` of the
    #: train slice, :func:`dsrbench.splits.protocol_contexts`)
    contexts: dict[str, Any] | None = None


@dataclass
class TrainOutcome:
    """What :func:`train_many` made of one :class:`TrainItem`: its training record (the
    model is saved), or the error ``"Type: message"`` and its traceback."""

    record: dict[str, Any] | None
    error: str | None = None
    traceback: str | None = None


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
    """Fit ``method`` on ``ds``'s training split (cut as :func:`dsrbench.splits.training_splits`
    says);
    returns the model and what the fit did."""
    model = methods.get(method)(**(hyperparameters or {}))
    train_split, val_split = splits.training_splits(ds, train_length, val_length)
    type(model).check_sampling(train_split)
    start = time.perf_counter()
    model.fit(train_split, val_split, FitContext(device, seed, budget, run))
    return model, training_info(model, time.perf_counter() - start)


def training_info(model: Method, fit_seconds: float) -> dict[str, Any]:
    """What the fit of ``model`` did: its seconds, for the torch methods what the training loop
    did (``training_result_``: epochs, best validation score, what stopped it), and a
    method's own ``fit_details_`` (a JSON-able dict) as ``fit_details``."""
    info: dict[str, Any] = {"fit_seconds": float(fit_seconds)}
    result = getattr(model, "training_result_", None)
    if result is not None:  # torch methods: what the training loop did
        info.update(
            epochs_run=int(result.epochs_run),
            resumed_from_epoch=int(result.resumed_from),
            best_validation_stsp=_finite_or_none(result.best_score),
            best_epoch=int(result.best_epoch),
            stopped_by_budget=bool(result.stopped_by_budget),
            stopped_by=str(result.stopped_by),
            training_seconds_total=float(result.seconds),
        )
    details = getattr(model, "fit_details_", None)
    if details:  # what a method's fit chose by itself (ARIMA's fallback per coordinate)
        info["fit_details"] = details
    info["device"] = str(getattr(model, "device_", "cpu"))
    info["hardware"] = hardware(info["device"])
    return info


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def train_many(
    method: str,
    items: Sequence[TrainItem],
    *,
    device: str = "auto",
    budget: float | None = None,
) -> list[TrainOutcome]:
    """Train one model per item with ONE call of ``Method.fit_many`` (the torch methods
    train them together) and save each at its ``out`` atomically with its
    ``training.json``; one outcome per item, in order. An item whose data are invalid,
    whose fit raises or whose model cannot be saved gets an outcome with the error; the
    others go on. A dataset store that is not sound and a full disk raise
    (:func:`dsrbench.stores.is_fault`): they are not a model's result. ``fit_seconds`` of
    a record is its share of the call's wall time (``fit_many_seconds`` over
    ``fit_many_models``)."""
    from dsrbench.pipeline.tuning import Protocol

    outcomes: list[TrainOutcome | None] = [None] * len(items)
    tasks, where, attrs, datasets = [], [], [], []
    protocol = Protocol.from_training(items[0].protocol if items else {})
    if any(Protocol.from_training(item.protocol) != protocol for item in items):
        raise ValueError("train_many: the items of one call must share their protocol")
    if protocol.refit_on == "context":
        return _train_per_context(method, items, device=device, budget=budget)
    for i, item in enumerate(items):
        try:
            ds = stores.open_dataset(item.dataset_path)
            train_split, val_split = splits.protocol_splits(
                ds, item.train_length, item.val_length, protocol.validation
            )
            methods.get(method).check_sampling(train_split)  # dropped points: refused
        except Exception as exc:  # this model fails, the others go on
            if stores.is_fault(exc):
                raise  # a store that is not sound, a full disk: the job stops
            outcomes[i] = TrainOutcome(None, f"{type(exc).__name__}: {exc}", format_exc())
            continue
        datasets.append(ds)
        tasks.append(
            FitTask(
                train=train_split,
                val=val_split,
                seed=item.seed,
                hyperparameters=dict(item.hyperparameters),
                run=item.run,
                name=item.name or f"{ds.attrs.get('system')}/seed{item.seed}",
            )
        )
        where.append(i)
        attrs.append(dict(ds.attrs))
    if tasks:
        cls = methods.get(method)
        extra: list[dict[str, Any]] = [{} for _ in tasks]
        if protocol.active:
            tasks, extra = _protocol_tasks(
                cls, tasks, datasets, items, where, protocol, device, budget
            )
        start = time.perf_counter()
        fitted = cls.fit_many(tasks, device=device, budget=budget)
        seconds = time.perf_counter() - start
        if protocol.data_limited:
            _data_limited(cls, tasks, datasets, items, where, protocol, extra, device, budget)
        for k, (i, ds_attrs, fit) in enumerate(zip(where, attrs, fitted, strict=True)):
            if not fit.ok:
                outcomes[i] = TrainOutcome(None, fit.error, fit.traceback)
                continue
            info = {
                **training_info(fit.model, seconds / len(tasks)),
                "fit_many_seconds": seconds,
                "fit_many_models": len(tasks),
                **extra[k],
            }
            try:
                record = save_model(method, fit.model, items[i], ds_attrs, info)
            except Exception as exc:
                if stores.is_fault(exc):
                    raise  # e.g. a full disk: not this model's result
                outcomes[i] = TrainOutcome(None, f"{type(exc).__name__}: {exc}", format_exc())
                continue
            outcomes[i] = TrainOutcome(record)
    return [o for o in outcomes if o is not None]


def _protocol_tasks(
    cls: type[Method],
    tasks: list[FitTask],
    datasets: list[xr.Dataset],
    items: Sequence[TrainItem],
    where: list[int],
    protocol: Any,
    device: str,
    budget: float | None,
) -> tuple[list[FitTask], list[dict[str, Any]]]:
    """The final fits of the protocol: tuned hyperparameters (grid search on the validation
    points), on the test trajectory's first points with ``refit_on: test``; and what the
    training record keeps of it (``tuning``, ``refit``)."""
    from dsrbench.pipeline.tuning import tune

    extra: list[dict[str, Any]] = [{} for _ in tasks]
    best = [dict(t.hyperparameters) for t in tasks]
    grid = protocol.grid if protocol.grid else getattr(cls, "grid", None)
    if protocol.tune and grid:
        for k, result in enumerate(tune(cls, tasks, grid, device=device, budget=budget)):
            best[k].update(result.best)
            extra[k]["tuning"] = result.record("smape (0-200) on the validation points", grid)
    final = []
    for k, task in enumerate(tasks):
        train = task.train
        if protocol.refit_on == "test":
            item = items[where[k]]
            train = splits.refit_data(datasets[k], item.train_length)
            extra[k]["refit"] = {"on": "test", "points": int(train.sizes["time"])}
        final.append(FitTask(train, task.val, task.seed, best[k], task.run, task.name))
    return final, extra


def _data_limited(
    cls: type[Method],
    tasks: list[FitTask],
    datasets: list[xr.Dataset],
    items: Sequence[TrainItem],
    where: list[int],
    protocol: Any,
    extra: list[dict[str, Any]],
    device: str,
    budget: float | None,
) -> None:
    """The data-limited sweep of the final models' settings, into ``extra[k]``."""
    from dsrbench.pipeline.tuning import data_limited_sweep

    train_length = int(items[where[0]].train_length or datasets[0].sizes["time"])
    sweep = data_limited_sweep(
        cls,
        datasets,
        tasks,
        protocol.data_limited,
        train_length,
        protocol.fixed_horizon,
        device=device,
        budget=budget,
    )
    for k, rows in enumerate(sweep):
        extra[k]["data_limited"] = rows


#: the directory of context ``k``'s model inside a per-context model directory
CONTEXT_DIR = "context{:03d}"


def _train_per_context(
    method: str,
    items: Sequence[TrainItem],
    *,
    device: str = "auto",
    budget: float | None = None,
) -> list[TrainOutcome]:
    """``refit_on: context`` (the zero-shot protocol's trained baselines, Zhang & Gilpin
    2025): one model per forecast context, fitted on that context's ``context_length``
    points alone (mean and scale recomputed on them; no validation), all of the call in
    ONE ``fit_many``. Each item's directory holds a model per context
    (:data:`CONTEXT_DIR`, each with its own ``training.json``: the per-(system, context)
    record) and a ``training.json`` listing them (``contexts``). A context whose fit fails
    is recorded as failed (its forecasts are NaN); an item none of whose fits succeeds
    fails."""
    outcomes: list[TrainOutcome | None] = [None] * len(items)
    tasks: list[FitTask] = []
    owner: list[tuple[int, int]] = []
    placed: dict[int, tuple[xr.Dataset, Any, Any]] = {}
    for i, item in enumerate(items):
        try:
            if not item.contexts:
                raise ValueError(
                    "training.refit_on: context needs the contexts of the train slice "
                    "(dsrbench.pipeline.plan.train_slice writes them)"
                )
            ds = stores.open_dataset(item.dataset_path)
            traj, start = splits.protocol_contexts(ds, item.contexts)
            length = int(item.contexts["context_length"])
            windows = [
                splits.cut(ds.isel(trajectory=[int(j)]), int(s) - length, int(s), rescale=True)
                for j, s in zip(traj, start, strict=True)
            ]
        except Exception as exc:  # this model fails, the others go on
            if stores.is_fault(exc):
                raise
            outcomes[i] = TrainOutcome(None, f"{type(exc).__name__}: {exc}", format_exc())
            continue
        placed[i] = (ds, traj, start)
        name = item.name or f"{ds.attrs.get('system')}/seed{item.seed}"
        for k, window in enumerate(windows):
            tasks.append(
                FitTask(window, None, item.seed, dict(item.hyperparameters), None, f"{name}/c{k}")
            )
            owner.append((i, k))
    clock = time.perf_counter()
    fitted = methods.get(method).fit_many(tasks, device=device, budget=budget) if tasks else []
    share = (time.perf_counter() - clock) / max(len(tasks), 1)
    for i, (ds, traj, start) in placed.items():
        fits = [f for (owner_i, _), f in zip(owner, fitted, strict=True) if owner_i == i]
        entries = []
        for k, fit in enumerate(fits):
            entry: dict[str, Any] = {
                "context": k,
                "trajectory": int(traj[k]),
                "start": int(start[k]),
                "status": "ok" if fit.ok else "failed",
            }
            if fit.ok:
                entry["fit_seconds"] = share
            else:
                entry["reason"] = fit.error
            entries.append(entry)
        if not any(f.ok for f in fits):
            outcomes[i] = TrainOutcome(None, fits[0].error, fits[0].traceback)
            continue
        item = items[i]
        info = {
            "refit": {
                "on": "context",
                "points": int(item.contexts["context_length"]),  # type: ignore[index]
                "contexts": len(fits),
                "failed": sum(not f.ok for f in fits),
            },
            "fit_seconds": share * len(fits),
            "fit_seconds_per_context": share,
            "fit_many_seconds": share * len(tasks),
            "fit_many_models": len(tasks),
            "device": str(getattr(next(f.model for f in fits if f.ok), "device_", "cpu")),
            "contexts": entries,
        }
        try:
            record = _save_context_models(method, [f.model for f in fits], item, ds.attrs, info)
        except Exception as exc:
            if stores.is_fault(exc):
                raise
            outcomes[i] = TrainOutcome(None, f"{type(exc).__name__}: {exc}", format_exc())
            continue
        outcomes[i] = TrainOutcome(record)
    return [o for o in outcomes if o is not None]


def _save_context_models(
    method: str,
    models: Sequence[Method | None],
    item: TrainItem,
    ds_attrs: dict[str, Any],
    info: dict[str, Any],
) -> dict[str, Any]:
    """Save per-context models at ``item.out`` atomically: each in :data:`CONTEXT_DIR`
    with its own training record, and the record listing them."""
    record = {
        "method": method,
        "system": ds_attrs["system"],
        "dataset": ds_attrs["dataset"],
        "seed": int(item.seed),
        "hyperparameters": next(m for m in models if m is not None).params,
        "dataset_config_hash": ds_attrs.get("config_hash", ""),
        "train_length": None,
        "val_length": None,
        **info,
        "hardware": hardware(info["device"]),
        "provenance": provenance(item.config or {}),
    }
    with atomic_path(item.out) as tmp:
        for entry, model in zip(info["contexts"], models, strict=True):
            if model is None:
                continue
            sub = tmp / CONTEXT_DIR.format(entry["context"])
            model.save(sub)
            own = {k: record[k] for k in ("method", "system", "dataset", "seed")}
            write_json_atomic(sub / TRAINING_RECORD, {**own, **entry, "params": model.params})
        write_json_atomic(tmp / TRAINING_RECORD, record)
    return record


def per_context(directory: str | Path) -> bool:
    """Whether ``directory`` holds one model per context (``refit_on: context``)."""
    path = Path(directory) / TRAINING_RECORD
    return path.exists() and "contexts" in json.loads(path.read_text())


def load_context_models(directory: str | Path) -> tuple[list[Method | None], dict[str, Any]]:
    """The per-context models saved by :func:`_train_per_context` (None where a context's
    fit failed), in context order, and the record listing them."""
    directory = Path(directory)
    record = json.loads((directory / TRAINING_RECORD).read_text())
    cls = methods.get(record["method"])
    models = [
        cls.load(directory / CONTEXT_DIR.format(e["context"])) if e["status"] == "ok" else None
        for e in record["contexts"]
    ]
    return models, record


def save_model(
    method: str,
    model: Method,
    item: TrainItem,
    ds_attrs: dict[str, Any],
    info: dict[str, Any],
) -> dict[str, Any]:
    """Save a fitted model at ``item.out`` atomically (a temporary sibling renamed onto it)
    with its ``training.json``; returns that training record."""
    record = {
        "method": method,
        "system": ds_attrs["system"],
        "dataset": ds_attrs["dataset"],
        "seed": int(item.seed),
        "hyperparameters": model.params,
        "dataset_config_hash": ds_attrs.get("config_hash", ""),
        "train_length": item.train_length,
        "val_length": item.val_length,
        **info,
        "provenance": provenance(item.config or {}),
    }
    with atomic_path(item.out) as tmp:
        model.save(tmp)
        write_json_atomic(tmp / TRAINING_RECORD, record)
    return record


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
    """Train and save one model at ``out`` atomically (:func:`train_many` of one item);
    returns the training record. A failure raises :class:`TrainingError`."""
    item = TrainItem(
        dataset_path=Path(dataset_path),
        out=Path(out),
        seed=seed,
        hyperparameters=dict(hyperparameters or {}),
        run=run,
        config=config,
        train_length=train_length,
        val_length=val_length,
    )
    (outcome,) = train_many(method, [item], device=device, budget=budget)
    if outcome.record is None:
        raise TrainingError(f"{outcome.error}\n{outcome.traceback or ''}".rstrip())
    return outcome.record


class TrainingError(RuntimeError):
    """A model that could not be trained or saved; the message holds the cause."""


def load_model(directory: str | Path) -> tuple[Method, dict[str, Any]]:
    """A model saved by :func:`train_to_directory` and its training record."""
    directory = Path(directory)
    record_path = directory / TRAINING_RECORD
    if not record_path.exists():
        raise FileNotFoundError(
            f"{directory} is not a trained model (no {TRAINING_RECORD}); rerun its train job"
        )
    record = json.loads(record_path.read_text())
    return methods.get(record["method"]).load(directory), record
