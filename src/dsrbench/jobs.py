"""The workflow's jobs: what each ``dsrbench`` job command does once its arguments are parsed.

Every per-(system, dataset, method, seed) job runs in :func:`run_job`, the one wrapper that
times it, turns a failure into a record with status ``failed`` and the reason (the
traceback goes to the log), skips it when an upstream job did not succeed (dataset not
available -> ``skipped``; training ``failed``/``skipped`` -> the same for the prediction)
and writes its record atomically: a record that exists is complete, and a killed job leaves
none. A failing job still exits 0, so one system's failure does not stop the run.

Bad input (an unreadable record, an unknown system, an invalid slice) raises
:class:`JobInputError` with a message naming the problem and the fix (exit status 2).
Heavy modules (torch, xarray, the integrators) are imported inside the jobs.
"""

from __future__ import annotations

import glob
import json
import logging
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dsrbench.atomic import atomic_path, write_json_atomic, write_text_atomic
from dsrbench.config import (
    ConfigError,
    check_slice,
    load_config,
    predict_slice,
    simulate_slice,
    train_slice,
)

__all__ = [
    "JobInputError",
    "evaluate",
    "load_slice",
    "merge",
    "predict",
    "read_record",
    "record_paths",
    "run_job",
    "simulate",
    "summary",
    "train",
    "upstream_problem",
    "write_metrics_table",
]

log = logging.getLogger("dsrbench")

Body = Callable[[], Mapping[str, Any] | None]


class JobInputError(ValueError):
    """Bad input of a job; reported without a traceback (exit status 2)."""


# --------------------------------------------------------------------------- the wrapper


def run_job(
    name: str,
    record: str | Path,
    base: Mapping[str, Any],
    body: Body,
    *,
    skip: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Run one job and write its record atomically; returns the record.

    ``base``: the record's identifying fields (and defaults of the others). ``body``: the
    work; its returned fields are merged into the record (it may set ``status`` itself, e.g.
    a simulation that diverged). ``skip``: (status, reason) when an upstream job did not
    succeed: the body does not run. An exception of the body gives status ``failed`` with
    the exception as the reason; ``wall_time_s`` is always set.
    """
    result: dict[str, Any] = {**base, "status": "ok", "reason": None}
    start = time.perf_counter()
    if skip is not None:
        result["status"], result["reason"] = skip
    else:
        try:
            result.update(body() or {})
        except Exception as exc:  # a failing job is recorded, the run goes on
            log.error("%s raised:\n%s", name, traceback.format_exc())
            result["status"] = "failed"
            result["reason"] = f"{type(exc).__name__}: {exc}"
    result["wall_time_s"] = time.perf_counter() - start
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
        raise JobInputError(f"cannot read {what} {path}: {exc}; delete it and rerun") from None
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


def simulate(job: Mapping[str, Any], system: str, dataset: str, *, out: Path, record: Path) -> dict:
    """Build one dataset (``job``: its simulate slice) and write its record."""

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
    dataset = read_record(dataset_record, "dataset record")
    base = {
        "system": dataset.get("system"),
        "dataset": dataset.get("dataset"),
        "method": method,
        "seed": seed,
        "model_path": None,
    }

    def body() -> dict[str, Any]:
        import torch

        from dsrbench.methods import RunFiles
        from dsrbench.train import train_to_directory

        torch.set_num_threads(threads)
        training = job["training"]
        info = train_to_directory(
            method,
            Path(dataset["path"]),
            Path(out),
            seed=seed,
            hyperparameters=job["hyperparameters"],
            device=training["device"],
            budget=training["budget_seconds"],
            train_length=training["train_length"],
            val_length=training["val_length"],
            run=RunFiles(checkpoint_dir=checkpoint_dir, epoch_log=epoch_log),
            config=dict(job),
        )
        return {
            **{k: v for k, v in info.items() if k != "provenance"},
            "model_path": str(out),
        }

    return run_job("train", record, base, body, skip=upstream_problem(dataset))


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
    }

    def body() -> dict[str, Any]:
        from dsrbench import stores
        from dsrbench.predict import predict_to_store

        path = predict_to_store(
            method,
            Path(dataset["path"]),
            Path(out),
            context_length=ev["context_length"],
            horizon=ev["horizon"],
            contexts_per_trajectory=ev["contexts_per_trajectory"],
            long_run_length=ev["long_run_length"],
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


# --------------------------------------------------------------------------- records, tables


def record_paths(items: Sequence[str]) -> list[Path]:
    """Record files from files, directories (searched recursively) and glob patterns."""
    paths: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            paths.extend(sorted(p.rglob("*.json")))
        elif p.is_file():
            paths.append(p)
        else:
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                raise JobInputError(
                    f"no record matches {item!r} (expected a .json file, "
                    "a directory or a glob pattern)"
                )
            paths.extend(Path(m) for m in matches)
    return list(dict.fromkeys(paths))


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
