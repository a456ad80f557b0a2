"""Job records and job keys: what every job of the workflow writes and how a rerun knows
what is finished (the stage bodies are the ``*_job`` modules of :mod:`dsrbench.pipeline`).

Every per-(system, dataset, method, seed) job runs in :func:`run_job`, the one wrapper that
times it, turns a failure into a record with status ``failed`` and the reason (the
traceback goes to the log), skips it when an upstream job did not succeed (dataset not
available -> ``skipped``; training ``failed``/``skipped`` -> the same for the prediction)
and writes its record atomically: a record that exists is complete, and a killed job leaves
none. A failing job still exits 0, so one system's failure does not stop the run. Errors
that are not a system's result stop the job instead (:func:`is_fault`): an input store
that is not sound (:class:`dsrbench.stores.StoreIntegrityError`, whose message names the
command that regenerates it), a full disk or an exceeded file size limit
(:func:`dsrbench.atomic.environment_error`), and pretrained weights that are not on this
machine (:class:`dsrbench.methods.MissingWeightsError`); recorded as ``failed``, each would
be kept by every rerun (its ``job_key`` is unchanged).

Each record carries a ``job_key`` (:func:`job_key`: the hash of its slice of the config and
of its upstream records). A chunk job's only declared output is a chunk record listing its
members (:func:`write_chunk_record`), written last; a rerun of a killed chunk job skips every
system whose record holds the same key (:func:`finished_record`) and redoes the rest.
"""

from __future__ import annotations

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

from dsrbench import layout
from dsrbench.atomic import atomic_path, environment_error, write_json_atomic
from dsrbench.provenance import provenance

__all__ = [
    "CHUNK_KEY",
    "JobInputError",
    "finished_record",
    "is_fault",
    "job_key",
    "log_kept",
    "log_to",
    "read_record",
    "record_paths",
    "run_job",
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


def log_kept(stage: str, record: Path, what: str) -> None:
    """Log that the ``stage`` job of ``what`` finished before with the same inputs (its
    :func:`finished_record` at ``record``) and is kept."""
    log.info("%s %s: finished before with the same inputs (%s), kept", stage, what, record)


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


def chunk_members(path: Path) -> list[Path] | None:
    """The member records of a chunk record (None when ``path`` is not one)."""
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or CHUNK_KEY not in rec:
        return None
    return [Path(os.path.normpath(path.parent / r)) for r in rec["records"]]


@contextmanager
def log_to(path: Path | None) -> Iterator[None]:
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
        members = chunk_members(p)
        out.extend([p] if members is None else members)
    return list(dict.fromkeys(out))


def write_metrics_table(table: Any, out: str | Path) -> Path:
    """Write a metric table as parquet atomically; the file's schema metadata carries
    dsrbench's provenance (``dsrbench_provenance``)."""
    import pyarrow as pa  # lazy: the job commands start without it
    import pyarrow.parquet as pq

    arrow = pa.Table.from_pandas(table, preserve_index=False)
    meta = dict(arrow.schema.metadata or {})
    meta[b"dsrbench_provenance"] = json.dumps(provenance({}), sort_keys=True).encode()
    arrow = arrow.replace_schema_metadata(meta)
    with atomic_path(out) as tmp:
        pq.write_table(arrow, tmp)
    return Path(out)
