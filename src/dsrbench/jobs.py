"""The workflow's stage bodies: what each ``dsrbench`` job command does once its arguments
are parsed (records and job keys are :mod:`dsrbench.records`).

A chunk job (:func:`simulate_chunk`, :func:`train_chunk`, :func:`predict_chunk`) gets its
wildcards, the run's resolved config (:func:`dsrbench.plan.write_resolved_config`) and the
hash of its slices, and cuts its own slices (:func:`cut_chunk`): each system (and seed)
gets its own record at its layout path, with a ``job_key``, and the chunk record is written
last. The one-system commands (:func:`simulate`, :func:`train`, :func:`predict`) cut their
slice from a whole config (:func:`load_slice`).

Bad input (an unreadable record or config, a config that does not plan this job) raises
:class:`dsrbench.records.JobInputError` with a message naming the problem and the fix (exit
status 2). Heavy modules (torch, xarray, the integrators) are imported inside the jobs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dsrbench import layout, methods, plan, references
from dsrbench.atomic import write_text_atomic
from dsrbench.config import load_config
from dsrbench.faults import PAUSE_AFTER_RECORD_ENV, pause_after_record
from dsrbench.plan import EVALUATION_EXTRA_KEYS, is_trained
from dsrbench.records import (
    JobInputError,
    finished_record,
    job_key,
    log_to,
    read_record,
    record_paths,
    run_job,
    upstream_problem,
    write_chunk_record,
    write_metrics_table,
)
from dsrbench.schemas import ConfigError
from dsrbench.systems import UnknownSystemError, resolve_systems

__all__ = [
    "cut_chunk",
    "evaluate",
    "load_slice",
    "merge",
    "predict",
    "predict_chunk",
    "simulate",
    "simulate_chunk",
    "summary",
    "train",
    "train_chunk",
    "true_runs_chunk",
]

log = logging.getLogger("dsrbench")

# --------------------------------------------------------------------------- slices


def load_slice(
    kind: str,
    *,
    config: str | None = None,
    config_json: str | None = None,
    system: str,
    dataset: str | None = None,
    method: str | None = None,
) -> dict[str, Any]:
    """The slice of a one-system ``kind`` job, cut from a whole config (a YAML file
    ``config`` or the JSON ``config_json``), which is validated first."""
    try:
        cfg = load_config(
            _json_object(config_json, "--config-json") if config_json is not None else config
        )
        if kind == "simulate":
            resolve_systems([system])  # an unknown name: the error lists the closest ones
            if dataset not in cfg["datasets"]:
                raise JobInputError(
                    f"--dataset {dataset!r} is not a dataset setting of the config; "
                    f"choose one of: {', '.join(cfg['datasets'])}"
                )
            return plan.simulate_slice(cfg, system, dataset)
        if method not in cfg["evaluation"]["methods"]:
            raise JobInputError(
                f"--method {method!r} is not in the config's evaluation.methods "
                f"({', '.join(cfg['evaluation']['methods']) or 'none'})"
            )
        if kind == "train":
            if not is_trained(method):
                raise JobInputError(f"method {method!r} is not trained (it needs no fit)")
            return plan.train_slice(cfg, method, system)
        return plan.predict_slice(cfg, method, system)
    except (ConfigError, UnknownSystemError) as exc:
        raise JobInputError(exc.args[0] if isinstance(exc, KeyError) else str(exc)) from None


def cut_chunk(
    kind: str,
    resolved_config: str | Path,
    dataset: str,
    chunk: str,
    *,
    method: str | None = None,
    slice_hash: str | None = None,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The resolved config at ``resolved_config`` and the slices of the ``kind`` job of
    ``chunk`` (system -> slice) cut from it; with ``slice_hash`` (what the workflow planned
    the job with), a config whose slices hash otherwise is refused: the file was rewritten
    by another run since this one was planned."""
    try:
        cfg = plan.read_resolved_config(resolved_config)
        slices = plan.chunk_slices(cfg, kind, dataset, chunk, method)
    except ConfigError as exc:
        raise JobInputError(str(exc)) from None
    seeds = None if kind in ("simulate", "truth") else cfg["evaluation"]["seeds"]
    if slice_hash is not None and plan.slice_hash(slices, seeds) != slice_hash:
        raise JobInputError(
            f"the {kind} job of {dataset}/{method + '/' if method else ''}{chunk} was planned "
            f"with slice hash {slice_hash}, but {resolved_config} gives "
            f"{plan.slice_hash(slices, seeds)}: another run rewrote it; run snakemake again"
        )
    return cfg, slices


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
            with log_to(m.log_file):
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

            with log_to(m.log_file):
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


#: evaluation keys of a predict slice passed to the prediction as they are (their schema
#: default where the slice leaves them out)
_RUN_KEYS = ("long_run_transient", "model_lyapunov", "context_splits", "context_lengths")


def _declared_by(method: str) -> Any:
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
    true_runs: Path | None = None,
) -> dict:
    """Predict with ``method`` on one dataset (``job``: its predict slice) using its trained
    model (``model_record``; a method that is not trained is built here from its
    hyperparameters); write the prediction store and a record. ``true_runs``: the dataset
    store's long true runs integrated once (the ``truth`` oracle reads its free run there
    when the file exists)."""
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
            # absent: None, which the prediction stores as "the evaluation's default"
            lyapunov_horizons=ev.get("lyapunov_horizons"),
            **{k: ev.get(k, EVALUATION_EXTRA_KEYS[k]) for k in _RUN_KEYS},
            seed=seed,
            hyperparameters=job.get("hyperparameters", {}),
            model_dir=Path(model["model_path"]) if model is not None else None,
            true_runs=true_runs,
            config=dict(job),
        )
        attrs = stores.open_predictions(path).attrs
        return {
            "prediction_path": str(path),
            "model_lyapunov": bool(attrs.get("model_lyapunov")),
            "timing": attrs.get("timing", {}),
        }

    return run_job("predict", record, base, body, skip=upstream_problem(dataset, model))


def _existing(path: Path) -> Path | None:
    return path if path.is_file() else None


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
        with log_to(layout.simulate_log(results, dataset, system)):
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


def true_runs_chunk(
    jobs: Mapping[str, Mapping[str, Any]], dataset: str, *, results: Path, chunk_record: Path
) -> dict[str, Any]:
    """Integrate once the long true runs that the ``truth`` oracle and the evaluation need
    (:func:`dsrbench.truth.true_run_keys`) for the setting ``dataset`` of each system of
    ``jobs`` (system -> its truth slice), and write them at :func:`dsrbench.layout.true_runs`
    with a record; systems finished before with the same key are kept. Writes the chunk
    record last."""
    records = []
    for system, job in jobs.items():
        dataset_rec = read_record(layout.dataset_record(results, dataset, system), "dataset record")
        record = layout.true_runs_record(results, dataset, system)
        records.append(record)
        key = job_key(job, dataset_rec, system=system, dataset=dataset)
        if finished_record(record, key, "path") is not None:
            _skip("true runs", record, f"{system} / {dataset}")
            continue
        out = layout.true_runs(results, dataset, system)

        def body(job: Mapping[str, Any] = job, path: Any = dataset_rec["path"], out: Path = out):
            from dsrbench import stores
            from dsrbench.truth import true_run_keys, write_true_runs

            ds = stores.open_dataset(path)
            keys = true_run_keys(ds, job["evaluation"], job["seeds"])
            write_true_runs(ds, keys, out)
            return {"path": str(out), "runs": len(keys)}

        base = {"system": system, "dataset": dataset, "path": None, "job_key": key}
        run_job("true runs", record, base, body, skip=upstream_problem(dataset_rec))
    return write_chunk_record(chunk_record, "truth", records, dataset=dataset, systems=list(jobs))


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
            with log_to(layout.predict_log(results, dataset, method, system, seed)):
                predict(
                    job,
                    dataset_record=dataset_path,
                    model_record=model_path if trained else None,
                    method=method,
                    seed=seed,
                    out=layout.prediction_store(results, dataset, method, system, seed),
                    record=record,
                    key=key,
                    true_runs=_existing(layout.true_runs(results, dataset, system)),
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
