"""The true-runs stage: integrate once, per system of a chunk, the long true runs that
the ``truth`` oracle and the evaluation need (:func:`true_runs_chunk`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dsrbench import layout
from dsrbench.pipeline.records import (
    finished_record,
    job_key,
    log_kept,
    read_record,
    run_job,
    upstream_problem,
    write_chunk_record,
)

__all__ = ["true_runs_chunk"]


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
            log_kept("true runs", record, f"{system} / {dataset}")
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
