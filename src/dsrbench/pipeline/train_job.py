"""The train stage: fit one method on one dataset (:func:`train`), or on every system
and seed of a chunk (:func:`train_chunk`, the workflow's job); the models whose dataset is
there are fitted together by one ``fit_many`` call (:func:`dsrbench.pipeline.train.
train_many`), each saved with its record. Torch is imported only when the method uses it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dsrbench import layout, methods
from dsrbench.faults import PAUSE_AFTER_RECORD_ENV, pause_after_record
from dsrbench.methods import RunFiles
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

__all__ = ["PAUSE_ENV", "train", "train_chunk"]

log = logging.getLogger("dsrbench")


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
    :func:`dsrbench.pipeline.train.train_many` call per (device, budget) (one in a config: the
    training section is shared), then write every record (a failed model: status
    ``failed`` with its error; a missing dataset: ``skipped``)."""
    from dsrbench.pipeline.train import TrainItem, train_many

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
    if groups and methods.traits(method).uses_torch:
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
    """The protocol keys of a training slice (:class:`dsrbench.pipeline.tuning.Protocol`)."""
    keys = ("validation", "tune", "grid", "refit_on", "data_limited", "fixed_horizon")
    return {k: training[k] for k in keys if k in training}


#: environment variable (tests): seconds a train job waits after writing each model's record
#: (:data:`dsrbench.faults.PAUSE_AFTER_RECORD_ENV`)
PAUSE_ENV = PAUSE_AFTER_RECORD_ENV


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
    together by one ``fit_many`` call (:func:`dsrbench.pipeline.train.train_many`), each saved with
    its record at its layout paths. Writes the chunk record last."""
    records, todo = [], []
    for system, job in jobs.items():
        dataset_rec = read_record(layout.dataset_record(results, dataset, system), "dataset record")
        for seed in seeds:
            record = layout.model_record(results, dataset, method, system, seed)
            records.append(record)
            names = {"system": system, "dataset": dataset, "method": method, "seed": seed}
            key = job_key(job, dataset_rec, **names)
            if finished_record(record, key, "model_path") is not None:
                log_kept("train", record, f"{system} / {dataset} / {method} / {seed}")
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
