"""The predict stage: forecast with one method on one dataset (:func:`predict`), or on
every system and seed of a chunk (:func:`predict_chunk`, the workflow's job), from the
trained models of the layout (none for ``truth`` and the methods that need no fit)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dsrbench import layout, methods, references
from dsrbench.pipeline.plan import EVALUATION_EXTRA_KEYS, is_trained
from dsrbench.pipeline.records import (
    finished_record,
    job_key,
    log_kept,
    log_to,
    read_record,
    run_job,
    upstream_problem,
    write_chunk_record,
)

__all__ = ["predict", "predict_chunk"]


#: evaluation keys of a predict slice passed to the prediction as they are (their schema
#: default where the slice leaves them out)
_RUN_KEYS = ("long_run_transient", "model_lyapunov", "context_splits", "context_lengths")


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
        from dsrbench.pipeline.predict import predict_to_store

        if not references.is_truth(method) and methods.traits(method).uses_torch:
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
                log_kept("predict", record, f"{system} / {dataset} / {method} / {seed}")
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
