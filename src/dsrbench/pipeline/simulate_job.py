"""The simulate stage: build the dataset store of one system and dataset setting
(:func:`simulate`), of every system of a chunk (:func:`simulate_chunk`, the workflow's job),
and the CSV summary of the dataset records (:func:`summary`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dsrbench import layout
from dsrbench.atomic import write_text_atomic
from dsrbench.pipeline.records import (
    finished_record,
    job_key,
    log_kept,
    log_to,
    read_record,
    record_paths,
    run_job,
    write_chunk_record,
)

__all__ = ["simulate", "simulate_chunk", "summary"]

log = logging.getLogger("dsrbench")


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
            log_kept("simulate", record, f"{system} / {dataset}")
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
