"""The workflow's jobs: what each ``dsrbench`` job command does once its arguments are parsed.

Every per-(system, dataset, method, seed) job runs in :func:`run_job`, the one wrapper that
times it, turns a failure into a record with status ``failed`` and the reason (the
traceback goes to the log), skips it when an upstream job did not succeed (dataset not
available -> ``skipped``; training ``failed``/``skipped`` -> the same for the prediction)
and writes its record atomically: a record that exists is complete, and a killed job leaves
none. A failing job still exits 0, so one system's failure does not stop the run. Two kinds
of error are not a system's result and stop the job instead (:func:`is_fault`): an input
store that is not sound (:class:`dsrbench.stores.StoreIntegrityError`, whose message names
the command that regenerates it) and a full disk or an exceeded file size limit
(:func:`dsrbench.atomic.environment_error`), and pretrained weights that are not on this
machine (:class:`dsrbench.methods.MissingWeightsError`, whose message says which weights to
place where); recorded as ``failed``, each would be kept by every rerun (its ``job_key`` is
unchanged).

The workflow runs these jobs over a chunk of systems (:func:`simulate_chunk`,
:func:`train_chunk`, :func:`predict_chunk`): each system (and seed) still gets its own
record at its layout path, carrying a ``job_key`` (:func:`job_key`: the hash of its slice
and of its upstream records). The chunk job's only declared output is a chunk record
listing them (:func:`write_chunk_record`), written last; a rerun of a killed chunk job skips
every system whose record holds the same key (:func:`finished_record`) and redoes the rest.

Bad input (an unreadable record, an unknown system, an invalid slice) raises
:class:`JobInputError` with a message naming the problem and the fix (exit status 2).
Heavy modules (torch, xarray, the integrators) are imported inside the jobs.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import logging
import os
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dsrbench import layout, references
from dsrbench.atomic import (
    atomic_path,
    environment_error,
    write_json_atomic,
    write_text_atomic,
)
from dsrbench.config import (
    ConfigError,
    check_slice,
    is_trained,
    load_config,
    predict_slice,
    simulate_slice,
    train_slice,
)
from dsrbench.faults import PAUSE_AFTER_RECORD_ENV, pause_after_record

__all__ = [
    "CHUNK_KEY",
    "JobInputError",
    "evaluate",
    "finished_record",
    "is_fault",
    "job_key",
    "load_chunk_slices",
    "load_slice",
    "merge",
    "predict",
    "predict_chunk",
    "read_record",
    "record_paths",
    "run_job",
    "simulate",
    "simulate_chunk",
    "summary",
    "train",
    "train_chunk",
    "upstream_problem",
    "write_chunk_record",
    "write_metrics_table",
]

log = logging.getLogger("dsrbench")

Body = Callable[[], Mapping[str, Any] | None]


class JobInputError(ValueError):
    """Bad input of a job; reported without a traceback (exit status 2)."""


def is_fault(exc: BaseException) -> bool:
    """Whether ``exc`` stops the job rather than becoming a ``failed`` record: an input
    store that is not sound (:class:`dsrbench.stores.StoreIntegrityError`) or a full disk,
    an exceeded file size limit, a read-only or failing file system
    (:func:`dsrbench.atomic.environment_error`). Neither says anything about the system or
    the method, and a recorded failure would be kept by every rerun."""
    base = sys.modules.get("dsrbench.methods.base")  # pretrained weights not on this machine
    if base is not None and isinstance(exc, base.MissingWeightsError):
        return True
    stores = sys.modules.get("dsrbench.stores")  # only an imported module raises its errors
    if stores is not None:
        return bool(stores.is_fault(exc))
    return environment_error(exc) is not None


# --------------------------------------------------------------------------- the wrapper


def run_job(
    name: str,
    record: str | Path,
    base: Mapping[str, Any],
    body: Body,
    *,
    skip: tuple[str, str] | None = None,
    extra_seconds: float = 0.0,
) -> dict[str, Any]:
    """Run one job and write its record atomically; returns the record.

    ``base``: the record's identifying fields (and defaults of the others). ``body``: the
    work; its returned fields are merged into the record (it may set ``status`` itself, e.g.
    a simulation that diverged). ``skip``: (status, reason) when an upstream job did not
    succeed: the body does not run. An exception of the body gives status ``failed`` with
    the exception as the reason; ``wall_time_s`` is always set (the body's time plus
    ``extra_seconds``, e.g. a model's share of a chunk's joint fit).
    """
    result: dict[str, Any] = {**base, "status": "ok", "reason": None}
    start = time.perf_counter()
    if skip is not None:
        result["status"], result["reason"] = skip
    else:
        try:
            result.update(body() or {})
        except Exception as exc:  # a failing job is recorded, the run goes on
            if is_fault(exc):
                raise  # not the system's result: the job stops (see is_fault)
            log.error("%s raised:\n%s", name, traceback.format_exc())
            result["status"] = "failed"
            result["reason"] = f"{type(exc).__name__}: {exc}"
    result["wall_time_s"] = time.perf_counter() - start + extra_seconds
    write_json_atomic(record, result)
    what = " / ".join(str(base[k]) for k in ("system", "dataset", "method", "seed") if k in base)
    if result["status"] == "ok":
        log.info("%s %s: ok in %.1f s", name, what, result["wall_time_s"])
    else:
        log.warning("%s %s: %s: %s", name, what, result["status"].upper(), result["reason"])
    return result


def upstream_problem(
    dataset_record: Mapping[str, Any], model_record: Mapping[str, Any] | None = None
) -> tuple[str, str] | None:
    """(status, reason) for a job whose dataset or model is not there; None when both are."""
    if dataset_record.get("status") != "ok":
        return "skipped", f"dataset not available: {dataset_record.get('reason')}"
    if model_record is not None and model_record.get("status") != "ok":
        status = "skipped" if model_record.get("status") == "skipped" else "failed"
        return status, f"training {model_record.get('status')}: {model_record.get('reason')}"
    return None


def read_record(path: str | Path, what: str = "record") -> dict[str, Any]:
    """A job record (JSON object with a ``status``); :class:`JobInputError` otherwise."""
    path = Path(path)
    try:
        rec = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        if environment_error(exc) is not None:
            raise
        chunk = layout.owning_chunk(path)
        fix = (
            f"run snakemake again with `--forcerun {chunk}` added to this run's arguments"
            if chunk is not None
            else "delete it and run snakemake again"
        )
        raise JobInputError(f"cannot read {what} {path}: {exc}; {fix}") from None
    if not isinstance(rec, dict) or "status" not in rec:
        raise JobInputError(f"{path} is not a {what} (no 'status' key)")
    return rec


# --------------------------------------------------------------------------- slices


def load_slice(
    kind: str,
    *,
    config: str | None = None,
    config_json: str | None = None,
    job_json: str | None = None,
    system: str,
    dataset: str | None = None,
    method: str | None = None,
) -> dict[str, Any]:
    """The checked slice of a ``kind`` job: given as JSON (``job_json``, as the rules pass
    it) or cut from a whole config (a YAML file ``config`` or the JSON ``config_json``)."""
    from dsrbench.systems import UnknownSystemError, get_system_info

    try:
        if job_json is not None:
            job = _json_object(job_json, "--job-json")
        else:
            cfg = load_config(
                _json_object(config_json, "--config-json") if config_json is not None else config
            )
        try:
            get_system_info(system)
        except UnknownSystemError as exc:
            raise JobInputError(f"--system: {exc}") from None
        if job_json is None:
            if kind == "simulate":
                if dataset not in cfg["datasets"]:
                    raise JobInputError(
                        f"--dataset {dataset!r} is not a dataset setting of the config; "
                        f"choose one of: {', '.join(cfg['datasets'])}"
                    )
                job = simulate_slice(cfg, system, dataset)
            elif kind == "train":
                job = train_slice(cfg, method, system)
            else:
                job = predict_slice(cfg, method, system)
        return check_slice(kind, job, method=method)
    except ConfigError as exc:
        raise JobInputError(str(exc)) from None


def _json_object(text: str, option: str) -> dict[str, Any]:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JobInputError(f"{option} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise JobInputError(f"{option} must be a JSON object")
    return raw


# --------------------------------------------------------------------------- simulate


def simulate(
    job: Mapping[str, Any],
    system: str,
    dataset: str,
    *,
    out: Path,
    record: Path,
    key: str | None = None,
) -> dict:
    """Build one dataset (``job``: its simulate slice) and write its record (with the
    ``job_key`` ``key`` when given)."""

    def body() -> dict[str, Any]:
        from dsrbench.datasets import build_dataset

        log.info("simulating %s / %s: %s", system, dataset, job["setting"])
        return build_dataset(
            system,
            dataset,
            job["setting"],
            seed=job["seed"],
            integration=job["integration"],
            # what defines the data (hashed into the store); not where it is written
            config={"system": system, "dataset": dataset, **job},
            out=Path(out),
        ).to_json()

    base = {
        "system": system,
        "dataset": dataset,
        "n_trajectories": 0,
        "n_time": 0,
        "n_dim": 0,
        "path": None,
        **({"job_key": key} if key else {}),
    }
    return run_job("simulate", record, base, body)


# --------------------------------------------------------------------------- train


def train(
    job: Mapping[str, Any],
    *,
    dataset_record: Path,
    method: str,
    seed: int,
    out: Path,
    record: Path,
    checkpoint_dir: Path | None = None,
    epoch_log: Path | None = None,
    threads: int = 1,
) -> dict:
    """Train ``method`` on one dataset (``job``: its train slice); write the model and a
    record."""
    from dsrbench.methods import RunFiles

    dataset = read_record(dataset_record, "dataset record")
    model = _Model(job, dataset, seed, Path(out), Path(record), RunFiles(checkpoint_dir, epoch_log))
    (rec,) = _train_models(method, [model], threads=threads)
    return rec


class _Model:
    """One model of a train job: its slice, dataset record, seed and where it goes."""

    def __init__(
        self,
        job: Mapping[str, Any],
        dataset: Mapping[str, Any],
        seed: int,
        out: Path,
        record: Path,
        run: Any,
        key: str | None = None,
        log_file: Path | None = None,
    ) -> None:
        self.job, self.dataset, self.seed, self.out, self.record = job, dataset, seed, out, record
        self.run, self.key, self.log_file = run, key, log_file


def _train_models(method: str, models: Sequence[_Model], *, threads: int = 1) -> list[dict]:
    """Train ``models`` of ``method``: those whose dataset is there in one
    :func:`dsrbench.train.train_many` call per (device, budget) (one in a config: the
    training section is shared), then write every record (a failed model: status
    ``failed`` with its error; a missing dataset: ``skipped``)."""
    from dsrbench.train import TrainItem, train_many

    def base(m: _Model) -> dict[str, Any]:
        return {
            "system": m.dataset.get("system"),
            "dataset": m.dataset.get("dataset"),
            "method": method,
            "seed": m.seed,
            "model_path": None,
            **({"job_key": m.key} if m.key else {}),
        }

    records: dict[int, dict] = {}
    groups: dict[tuple, list[int]] = {}
    for i, m in enumerate(models):
        problem = upstream_problem(m.dataset)
        if problem is not None:
            with _log_to(m.log_file):
                records[i] = run_job("train", m.record, base(m), lambda: None, skip=problem)
            continue
        training = m.job["training"]
        groups.setdefault((training["device"], training["budget_seconds"]), []).append(i)
    if groups and _declared_by(method).uses_torch:
        import torch

        torch.set_num_threads(threads)
        with contextlib.suppress(RuntimeError):  # settable once, before any parallel work
            torch.set_num_interop_threads(threads)
    for (device, budget), members in groups.items():
        items = [
            TrainItem(
                dataset_path=Path(models[i].dataset["path"]),
                out=models[i].out,
                seed=models[i].seed,
                hyperparameters=dict(models[i].job["hyperparameters"]),
                run=models[i].run,
                config=dict(models[i].job),
                train_length=models[i].job["training"]["train_length"],
                val_length=models[i].job["training"]["val_length"],
                name=f"{models[i].dataset.get('system')}/seed{models[i].seed}",
                protocol=_protocol(models[i].job["training"]),
                contexts=models[i].job.get("contexts"),
            )
            for i in members
        ]
        log.info("training %d %s model(s) in one fit_many call", len(items), method)
        start = time.perf_counter()
        outcomes = train_many(method, items, device=device, budget=budget)
        share = (time.perf_counter() - start) / len(items)  # each model's share
        for i, outcome in zip(members, outcomes, strict=True):
            m = models[i]

            def body(outcome: Any = outcome, m: _Model = m) -> dict[str, Any]:
                if outcome.record is None:
                    log.error("training %s raised:\n%s", m.dataset.get("system"), outcome.traceback)
                    return {"status": "failed", "reason": outcome.error}
                info = outcome.record
                return {
                    **{k: v for k, v in info.items() if k != "provenance"},
                    "model_path": str(m.out),
                }

            with _log_to(m.log_file):
                records[i] = run_job("train", m.record, base(m), body, extra_seconds=share)
            pause_after_record()
    return [records[i] for i in range(len(models))]


def _protocol(training: Mapping[str, Any]) -> dict[str, Any]:
    """The protocol keys of a training slice (:class:`dsrbench.tuning.Protocol`)."""
    keys = ("validation", "tune", "grid", "refit_on", "data_limited", "fixed_horizon")
    return {k: training[k] for k in keys if k in training}


#: environment variable (tests): seconds a train job waits after writing each model's record
#: (:data:`dsrbench.faults.PAUSE_AFTER_RECORD_ENV`)
PAUSE_ENV = PAUSE_AFTER_RECORD_ENV


def _declared_by(method: str) -> Any:
    from dsrbench import methods

    return methods.traits(method)


# --------------------------------------------------------------------------- predict


def predict(
    job: Mapping[str, Any],
    *,
    dataset_record: Path,
    model_record: Path | None,
    method: str,
    seed: int,
    out: Path,
    record: Path,
    key: str | None = None,
) -> dict:
    """Predict with ``method`` on one dataset (``job``: its predict slice) using its trained
    model (``model_record``; a method that is not trained is built here from its
    hyperparameters); write the prediction store and a record."""
    dataset = read_record(dataset_record, "dataset record")
    model = read_record(model_record, "model record") if model_record is not None else None
    ev = job["evaluation"]
    base = {
        "system": dataset.get("system"),
        "dataset": dataset.get("dataset"),
        "method": method,
        "seed": seed,
        "dataset_path": dataset.get("path"),
        "prediction_path": None,
        "long_run_length": ev["long_run_length"],
        **({"job_key": key} if key else {}),
    }

    def body() -> dict[str, Any]:
        from dsrbench import stores
        from dsrbench.predict import predict_to_store

        if not references.is_truth(method) and _declared_by(method).uses_torch:
            import torch

            torch.set_num_threads(1)  # a predict job has one thread (the workflow's rule)

        path = predict_to_store(
            method,
            Path(dataset["path"]),
            Path(out),
            context_length=ev["context_length"],
            horizon=ev["horizon"],
            contexts_per_trajectory=ev["contexts_per_trajectory"],
            long_run_length=ev["long_run_length"],
            fixed_horizon=ev.get("fixed_horizon"),
            lyapunov_horizons=ev.get("lyapunov_horizons"),
            long_run_transient=ev.get("long_run_transient", 0.25),
            model_lyapunov=ev.get("model_lyapunov", True),
            context_splits=ev.get("context_splits", ["test"]),
            context_lengths=ev.get("context_lengths", []),
            seed=seed,
            hyperparameters=job.get("hyperparameters", {}),
            model_dir=Path(model["model_path"]) if model is not None else None,
            config=dict(job),
        )
        attrs = stores.open_predictions(path).attrs
        return {
            "prediction_path": str(path),
            "model_lyapunov": bool(attrs.get("model_lyapunov")),
            "timing": attrs.get("timing", {}),
        }

    return run_job("predict", record, base, body, skip=upstream_problem(dataset, model))


# --------------------------------------------------------------------------- chunk jobs

#: the key that marks a chunk record (its value: the stage, simulate / train / predict)
CHUNK_KEY = "chunk_of"


def job_key(job: Mapping[str, Any], *upstream: Mapping[str, Any] | None, **names: Any) -> str:
    """The completion key of one system's job: a SHA-256 of its slice ``job``, its names
    (system, dataset, method, seed) and the content of its upstream records (dataset
    record; model record of a prediction). A record holding the same key is finished."""
    payload = {"job": job, "names": names, "upstream": list(upstream)}
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def finished_record(
    record: str | Path,
    key: str,
    output_field: str | None = None,
    store: str | None = None,
) -> dict[str, Any] | None:
    """The record at ``record`` when it finished the job of ``key``: it exists, holds that
    ``job_key`` and, when its status is ``ok``, the output its ``output_field`` names
    exists (and, with ``store``, the name of a :mod:`dsrbench.stores` opener such as
    ``"open_dataset"``, opens as a sound store: a corrupt or deleted part is redone). Any
    status counts (ok, diverged, failed, skipped): a rerun does not retry a system that
    failed with the same inputs. None when the job must run."""
    try:
        rec = json.loads(Path(record).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get("job_key") != key or "status" not in rec:
        return None
    if rec["status"] == "ok" and output_field is not None:
        out = rec.get(output_field)
        if not out or not Path(out).exists():
            return None
        if store is not None:
            from dsrbench import stores

            try:
                getattr(stores, store)(out)
            except stores.DatasetError as exc:
                log.warning("%s: its output is not sound, redoing it: %s", record, exc)
                return None
    return rec


def write_chunk_record(
    path: str | Path, stage: str, records: Sequence[str | Path], **names: Any
) -> dict[str, Any]:
    """Write the chunk record of a ``stage`` job (atomically, last): its names and its
    members' record files (relative to the chunk record) with a count of their statuses."""
    path = Path(path)
    statuses = Counter(read_record(r)["status"] for r in records)
    rec = {
        CHUNK_KEY: stage,
        **names,
        "records": [os.path.relpath(r, path.parent) for r in records],
        "statuses": dict(sorted(statuses.items())),
    }
    write_json_atomic(path, rec)
    log.info("%s chunk %s: %s", stage, path, rec["statuses"])
    return rec


def _chunk_members(path: Path) -> list[Path] | None:
    """The member records of a chunk record (None when ``path`` is not one)."""
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or CHUNK_KEY not in rec:
        return None
    return [Path(os.path.normpath(path.parent / r)) for r in rec["records"]]


@contextmanager
def _log_to(path: Path | None) -> Iterator[None]:
    """Copy the log to ``path`` (a system's own log inside a chunk job) while inside."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()


def load_chunk_slices(
    kind: str, job_json: str, systems: Sequence[str], *, method: str | None = None
) -> dict[str, dict[str, Any]]:
    """The checked slices of a chunk job: ``job_json`` maps every system of ``systems``
    to its ``kind`` slice (as the rules pass it)."""
    from dsrbench.systems import UnknownSystemError, get_system_info

    raw = _json_object(job_json, "--job-json")
    missing = [s for s in systems if s not in raw]
    extra = [s for s in raw if s not in systems]
    if missing or extra:
        raise JobInputError(
            "--job-json must map each system of --systems to its slice: "
            + "; ".join(
                f"{what}: {', '.join(names)}"
                for what, names in (("missing", missing), ("not in --systems", extra))
                if names
            )
        )
    out = {}
    for system in systems:
        try:
            get_system_info(system)
        except UnknownSystemError as exc:
            raise JobInputError(f"--systems: {exc}") from None
        try:
            out[system] = check_slice(kind, raw[system], method=method)
        except ConfigError as exc:
            raise JobInputError(f"{system}: {exc}") from None
    return out


def _skip(name: str, record: Path, what: str) -> None:
    log.info("%s %s: finished before with the same inputs (%s), kept", name, what, record)


def simulate_chunk(
    jobs: Mapping[str, Mapping[str, Any]], dataset: str, *, results: Path, chunk_record: Path
) -> dict[str, Any]:
    """Simulate the dataset setting ``dataset`` of each system of ``jobs`` (system -> its
    simulate slice) at its layout paths under ``results``; systems finished before with the
    same key are kept. Writes the chunk record last."""
    records = []
    for system, job in jobs.items():
        record = layout.dataset_record(results, dataset, system)
        records.append(record)
        key = job_key(job, system=system, dataset=dataset)
        if finished_record(record, key, "path", "open_dataset") is not None:
            _skip("simulate", record, f"{system} / {dataset}")
            continue
        with _log_to(layout.simulate_log(results, dataset, system)):
            simulate(
                job,
                system,
                dataset,
                out=layout.dataset_store(results, dataset, system),
                record=record,
                key=key,
            )
    return write_chunk_record(
        chunk_record, "simulate", records, dataset=dataset, systems=list(jobs)
    )


def train_chunk(
    jobs: Mapping[str, Mapping[str, Any]],
    *,
    dataset: str,
    method: str,
    seeds: Sequence[int],
    results: Path,
    chunk_record: Path,
    threads: int = 1,
) -> dict[str, Any]:
    """Train ``method`` on the setting ``dataset`` of each system of ``jobs`` (system -> its
    train slice) with every seed: the models not finished before (same key) are fitted
    together by one ``fit_many`` call (:func:`dsrbench.train.train_many`), each saved with
    its record at its layout paths. Writes the chunk record last."""
    from dsrbench.methods import RunFiles

    records, todo = [], []
    for system, job in jobs.items():
        dataset_rec = read_record(layout.dataset_record(results, dataset, system), "dataset record")
        for seed in seeds:
            record = layout.model_record(results, dataset, method, system, seed)
            records.append(record)
            names = {"system": system, "dataset": dataset, "method": method, "seed": seed}
            key = job_key(job, dataset_rec, **names)
            if finished_record(record, key, "model_path") is not None:
                _skip("train", record, f"{system} / {dataset} / {method} / {seed}")
                continue
            run = RunFiles(
                layout.checkpoint_dir(results, dataset, method, system, seed),
                layout.epoch_log(results, dataset, method, system, seed),
                layout.snapshot_dir(results, dataset, method, system, seed),
                tuple(int(s) for s in job["training"].get("snapshot_steps") or ()),
            )
            out = layout.model_dir(results, dataset, method, system, seed)
            log_file = layout.train_log(results, dataset, method, system, seed)
            todo.append(_Model(job, dataset_rec, seed, out, record, run, key, log_file))
    _train_models(method, todo, threads=threads)
    return write_chunk_record(
        chunk_record,
        "train",
        records,
        dataset=dataset,
        method=method,
        systems=list(jobs),
        seeds=list(seeds),
    )


def predict_chunk(
    jobs: Mapping[str, Mapping[str, Any]],
    *,
    dataset: str,
    method: str,
    seeds: Sequence[int],
    results: Path,
    chunk_record: Path,
) -> dict[str, Any]:
    """Predict with ``method`` on the setting ``dataset`` of each system of ``jobs`` (system
    -> its predict slice) with every seed, one after another, using the trained models of
    the layout (none for truth and the methods that need no fit); those finished before
    (same key) are kept. Writes the chunk record last."""
    trained = is_trained(method)
    records = []
    for system, job in jobs.items():
        dataset_path = layout.dataset_record(results, dataset, system)
        dataset_rec = read_record(dataset_path, "dataset record")
        for seed in seeds:
            model_path = layout.model_record(results, dataset, method, system, seed)
            model_rec = read_record(model_path, "model record") if trained else None
            record = layout.prediction_record(results, dataset, method, system, seed)
            records.append(record)
            names = {"system": system, "dataset": dataset, "method": method, "seed": seed}
            key = job_key(job, dataset_rec, model_rec, **names)
            if finished_record(record, key, "prediction_path", "open_predictions") is not None:
                _skip("predict", record, f"{system} / {dataset} / {method} / {seed}")
                continue
            with _log_to(layout.predict_log(results, dataset, method, system, seed)):
                predict(
                    job,
                    dataset_record=dataset_path,
                    model_record=model_path if trained else None,
                    method=method,
                    seed=seed,
                    out=layout.prediction_store(results, dataset, method, system, seed),
                    record=record,
                    key=key,
                )
    return write_chunk_record(
        chunk_record,
        "predict",
        records,
        dataset=dataset,
        method=method,
        systems=list(jobs),
        seeds=list(seeds),
    )


# --------------------------------------------------------------------------- records, tables


def record_paths(items: Sequence[str | Path]) -> list[Path]:
    """Record files from files, directories (searched recursively) and glob patterns; a
    chunk record (:func:`write_chunk_record`) stands for its member records."""
    paths: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            paths.extend(sorted(p.rglob("*.json")))
        elif p.is_file():
            paths.append(p)
        else:
            matches = sorted(glob.glob(str(item), recursive=True))
            if not matches:
                raise JobInputError(
                    f"no record matches {str(item)!r} (expected a .json file, "
                    "a directory or a glob pattern)"
                )
            paths.extend(Path(m) for m in matches)
    out: list[Path] = []
    for p in paths:
        members = _chunk_members(p)
        out.extend([p] if members is None else members)
    return list(dict.fromkeys(out))


def summary(items: Sequence[str], out: Path | None = None) -> Any:
    """One CSV row per dataset record (written to ``out`` atomically); returns the table."""
    from dsrbench.datasets import summarize

    records = [read_record(p) for p in record_paths(items)]
    table = summarize(records)
    if out is not None:
        write_text_atomic(out, table.to_csv(index=False))
    n_ok = int((table["status"] == "ok").sum()) if len(table) else 0
    log.info(
        "%d records: %d ok, %d failed%s",
        len(table),
        n_ok,
        len(table) - n_ok,
        f" -> {out}" if out else "",
    )
    return table


def write_metrics_table(table: Any, out: str | Path) -> Path:
    """Write a metric table as parquet atomically; the file's schema metadata carries
    dsrbench's provenance (``dsrbench_provenance``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dsrbench.provenance import provenance

    arrow = pa.Table.from_pandas(table, preserve_index=False)
    meta = dict(arrow.schema.metadata or {})
    meta[b"dsrbench_provenance"] = json.dumps(provenance({}), sort_keys=True).encode()
    arrow = arrow.replace_schema_metadata(meta)
    with atomic_path(out) as tmp:
        pq.write_table(arrow, tmp)
    return Path(out)


def evaluate(
    items: Sequence[str],
    out: Path,
    *,
    workers: int | None = None,
    scheduler_address: str | None = None,
) -> Any:
    """Every metric of the ``ok`` prediction records (on Dask) and one row per prediction
    that was skipped or failed; writes the table to ``out``."""
    import pandas as pd

    from dsrbench.evaluate import COLUMNS, metric_row, run_evaluation

    jobs, rows = [], []
    for path in record_paths(items):
        rec = read_record(path, "prediction record")
        if rec["status"] == "ok":
            jobs.append(rec)
        else:
            rows.append(
                metric_row(
                    rec["system"],
                    rec["dataset"],
                    rec["method"],
                    rec["seed"],
                    "predict",
                    status=rec["status"],
                    reason=rec["reason"],
                )
            )
    table = run_evaluation(jobs, n_workers=workers, scheduler_address=scheduler_address)
    if rows:
        table = pd.concat([table, pd.DataFrame(rows, columns=COLUMNS)], ignore_index=True)
    write_metrics_table(table, out)
    bad = table[~table.status.isin(["ok", "diverged"])]
    log.info("%d rows (%d not ok) -> %s", len(table), len(bad), out)
    return table


def merge(tables: Sequence[str | Path], out: Path) -> Any:
    """Concatenate per-dataset metric tables into one."""
    import pandas as pd

    table = pd.concat([pd.read_parquet(p) for p in tables], ignore_index=True)
    write_metrics_table(table, out)
    return table
