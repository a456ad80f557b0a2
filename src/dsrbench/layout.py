"""The results layout: the one module that spells where each output lives.

Every function takes the results directory and the names of one output and returns its
path. Names may be Snakemake wildcards, so the rules get their patterns from here::

    layout.prediction_record(RESULTS, "{dataset}", "{method}", "{system}", "{seed}")
    # -> results/predictions/{dataset}/{method}/{system}/seed{seed}.json

and :func:`find` globs one kind of output and parses the names back (the reports use it).
Report pages are named by a page id: ``leaderboard``, ``reproductions``,
``systems/<system>``, ``methods/<method>`` or ``papers/<paper>`` (see :func:`page_id`).

This module sits below every layer (it imports nothing of dsrbench).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "PAGE_KINDS",
    "TEMPLATES",
    "Found",
    "checkpoint_dir",
    "dataset_chunk",
    "dataset_record",
    "dataset_store",
    "dataset_summary",
    "epoch_log",
    "evaluate_log",
    "find",
    "floor_rows_cache",
    "merged_metrics",
    "merged_metrics_log",
    "metric_rows_cache",
    "metrics_table",
    "model_chunk",
    "model_dir",
    "model_record",
    "owning_chunk",
    "page_id",
    "page_kind",
    "predict_chunk_log",
    "predict_log",
    "prediction_chunk",
    "prediction_record",
    "prediction_store",
    "report_figures",
    "report_index",
    "report_index_log",
    "report_log",
    "report_notebook",
    "report_page",
    "reports_dir",
    "resolved_config",
    "simulate_chunk_log",
    "snapshot_dir",
    "snapshot_file",
    "system_lyapunov",
    "results_of_dataset_store",
    "simulate_log",
    "true_runs",
    "true_runs_chunk",
    "true_runs_chunk_log",
    "true_runs_record",
    "summary_log",
    "train_chunk_log",
    "train_log",
]

PathLike = str | os.PathLike[str]

#: Every output under the results directory, by kind (``{name}`` fields are filled in).
TEMPLATES: dict[str, str] = {
    "dataset_record": "data/{dataset}/{system}.json",
    "dataset_store": "data/{dataset}/{system}.zarr",
    "dataset_summary": "dataset_summary.csv",
    "resolved_config": "config.resolved.json",
    "dataset_chunk": "data/{dataset}/chunks/{chunk}.json",
    "model_chunk": "models/{dataset}/{method}/chunks/{chunk}.json",
    "prediction_chunk": "predictions/{dataset}/{method}/chunks/{chunk}.json",
    "model_record": "models/{dataset}/{method}/{system}/seed{seed}.json",
    "model_dir": "models/{dataset}/{method}/{system}/seed{seed}",
    "checkpoint_dir": "checkpoints/{dataset}/{method}/{system}/seed{seed}",
    "snapshot_dir": "snapshots/{dataset}/{method}/{system}/seed{seed}",
    "system_lyapunov": "truth/lyapunov/{system}.json",
    "true_runs": "truth/runs/{dataset}/{system}.npz",
    "true_runs_record": "truth/runs/{dataset}/{system}.json",
    "true_runs_chunk": "truth/runs/{dataset}/chunks/{chunk}.json",
    "true_runs_chunk_log": "logs/truth/{dataset}/chunks/{chunk}.log",
    "prediction_record": "predictions/{dataset}/{method}/{system}/seed{seed}.json",
    "prediction_store": "predictions/{dataset}/{method}/{system}/seed{seed}.zarr",
    "metrics_table": "metrics/{dataset}.parquet",
    "metric_rows_cache": "metrics/cache/{dataset}/{method}/{system}/seed{seed}.json",
    "floor_rows_cache": "metrics/cache/{dataset}/floors/{system}.json",
    "merged_metrics": "metrics.parquet",
    "reports_dir": "reports",
    "report_page": "reports/{page}.html",
    "report_notebook": "reports/{page}.ipynb",
    "report_figures": "reports/figures/{page}",
    "report_index": "reports/index.html",
    "simulate_log": "logs/simulate/{dataset}/{system}.log",
    "simulate_chunk_log": "logs/simulate/{dataset}/chunks/{chunk}.log",
    "train_chunk_log": "logs/train/{dataset}/{method}/chunks/{chunk}.log",
    "predict_chunk_log": "logs/predict/{dataset}/{method}/chunks/{chunk}.log",
    "summary_log": "logs/dataset_summary.log",
    "train_log": "logs/train/{dataset}/{method}/{system}/seed{seed}.log",
    "epoch_log": "logs/train/{dataset}/{method}/{system}/seed{seed}.epochs.csv",
    "predict_log": "logs/predict/{dataset}/{method}/{system}/seed{seed}.log",
    "evaluate_log": "logs/evaluate/{dataset}.log",
    "merged_metrics_log": "logs/metrics.log",
    "report_log": "logs/report/{page}.log",
    "report_index_log": "logs/report/index.log",
}

#: Report page kinds and the folder of their pages under ``reports/`` (None: one page).
PAGE_KINDS: dict[str, str | None] = {
    "leaderboard": None,
    "reproductions": None,  # every published number beside ours (reports/reproductions.ipynb)
    "system": "systems",
    "method": "methods",
    "paper": "papers",
}

_FIELD = re.compile(r"\{(\w+)\}")
#: what :func:`find` accepts for a field (default: one path component)
_FIELD_REGEX = {"seed": "[0-9]+", "page": "[^/]+(?:/[^/]+)?"}


def _path(kind: str, results: PathLike, **names: object) -> Path:
    return Path(results) / TEMPLATES[kind].format(**{k: str(v) for k, v in names.items()})


def resolved_config(results: PathLike) -> Path:
    """The run's validated config with every default filled (JSON), written by the
    workflow before its first job; each job cuts its slice from it (dsrbench.pipeline.plan)."""
    return _path("resolved_config", results)


# ------------------------------------------------------------------- simulation
def dataset_record(results: PathLike, dataset: str, system: str) -> Path:
    """Record (JSON) of one simulation job."""
    return _path("dataset_record", results, dataset=dataset, system=system)


def dataset_store(results: PathLike, dataset: str, system: str) -> Path:
    """Zarr store of one dataset (written only when the simulation succeeded)."""
    return _path("dataset_store", results, dataset=dataset, system=system)


def dataset_summary(results: PathLike) -> Path:
    """CSV with one row per simulation job."""
    return _path("dataset_summary", results)


# ------------------------------------------------------------------- chunk jobs
def dataset_chunk(results: PathLike, dataset: str, chunk: str) -> Path:
    """Chunk record (JSON) of one simulate job: its systems and their dataset records."""
    return _path("dataset_chunk", results, dataset=dataset, chunk=chunk)


def model_chunk(results: PathLike, dataset: str, method: str, chunk: str) -> Path:
    """Chunk record (JSON) of one train job: its systems and their model records."""
    return _path("model_chunk", results, dataset=dataset, method=method, chunk=chunk)


def prediction_chunk(results: PathLike, dataset: str, method: str, chunk: str) -> Path:
    """Chunk record (JSON) of one predict job: its systems and their prediction records."""
    return _path("prediction_chunk", results, dataset=dataset, method=method, chunk=chunk)


def simulate_chunk_log(results: PathLike, dataset: str, chunk: str) -> Path:
    return _path("simulate_chunk_log", results, dataset=dataset, chunk=chunk)


def train_chunk_log(results: PathLike, dataset: str, method: str, chunk: str) -> Path:
    return _path("train_chunk_log", results, dataset=dataset, method=method, chunk=chunk)


def predict_chunk_log(results: PathLike, dataset: str, method: str, chunk: str) -> Path:
    return _path("predict_chunk_log", results, dataset=dataset, method=method, chunk=chunk)


# ------------------------------------------------------------------- training
def model_record(results: PathLike, dataset: str, method: str, system: str, seed: object) -> Path:
    """Record (JSON) of one training job."""
    return _path("model_record", results, dataset=dataset, method=method, system=system, seed=seed)


def model_dir(results: PathLike, dataset: str, method: str, system: str, seed: object) -> Path:
    """Directory of one trained model (``training.json`` and the weights)."""
    return _path("model_dir", results, dataset=dataset, method=method, system=system, seed=seed)


def checkpoint_dir(results: PathLike, dataset: str, method: str, system: str, seed: object) -> Path:
    """Checkpoints of one training job (a rerun resumes from them)."""
    return _path(
        "checkpoint_dir", results, dataset=dataset, method=method, system=system, seed=seed
    )


def snapshot_dir(results: PathLike, dataset: str, method: str, system: str, seed: object) -> Path:
    """Weights of one model saved at given optimiser steps (``training.snapshot_steps``)."""
    return _path("snapshot_dir", results, dataset=dataset, method=method, system=system, seed=seed)


def snapshot_file(directory: PathLike, step: int) -> Path:
    """The weights saved after optimiser step ``step`` in a :func:`snapshot_dir`."""
    return Path(directory) / f"step{int(step):07d}.npz"


def system_lyapunov(results: PathLike, system: str) -> Path:
    """The true system's largest exponent, computed once per system and results directory
    (every evaluate job of every dataset setting reads it)."""
    return _path("system_lyapunov", results, system=system)


def true_runs(results: PathLike, dataset: str, system: str) -> Path:
    """The long true runs of one dataset store, integrated once for the truth oracle and
    the evaluation (dsrbench.truth.write_true_runs)."""
    return _path("true_runs", results, dataset=dataset, system=system)


def true_runs_record(results: PathLike, dataset: str, system: str) -> Path:
    """Record (JSON) of the job that wrote :func:`true_runs`."""
    return _path("true_runs_record", results, dataset=dataset, system=system)


def true_runs_chunk(results: PathLike, dataset: str, chunk: str) -> Path:
    """Chunk record of a true-runs job (its declared output, written last)."""
    return _path("true_runs_chunk", results, dataset=dataset, chunk=chunk)


def true_runs_chunk_log(results: PathLike, dataset: str, chunk: str) -> Path:
    return _path("true_runs_chunk_log", results, dataset=dataset, chunk=chunk)


def results_of_dataset_store(path: PathLike) -> Path:
    """The results directory a :func:`dataset_store` path lies in."""
    path = Path(path)
    if path.parent.parent.name != "data":
        raise ValueError(f"{path} is not a dataset store of a results directory (data/<dataset>/)")
    return path.parents[2]


# ------------------------------------------------------------------- prediction, evaluation
def prediction_record(
    results: PathLike, dataset: str, method: str, system: str, seed: object
) -> Path:
    """Record (JSON) of one prediction job."""
    return _path(
        "prediction_record", results, dataset=dataset, method=method, system=system, seed=seed
    )


def prediction_store(
    results: PathLike, dataset: str, method: str, system: str, seed: object
) -> Path:
    """Zarr store of one prediction (forecasts and the long free run)."""
    return _path(
        "prediction_store", results, dataset=dataset, method=method, system=system, seed=seed
    )


def metrics_table(results: PathLike, dataset: str) -> Path:
    """Metric table (parquet) of one evaluated dataset setting."""
    return _path("metrics_table", results, dataset=dataset)


def metric_rows_cache(
    results: PathLike, dataset: str, method: str, system: str, seed: object
) -> Path:
    """The metric rows of one prediction store as the last evaluate job computed them, with
    the key they hold for (dsrbench.pipeline.evaluate: read back when the key still holds)."""
    return _path(
        "metric_rows_cache", results, dataset=dataset, method=method, system=system, seed=seed
    )


def floor_rows_cache(results: PathLike, dataset: str, system: str) -> Path:
    """The truth-floor rows of one dataset store, cached as :func:`metric_rows_cache`."""
    return _path("floor_rows_cache", results, dataset=dataset, system=system)


def merged_metrics(results: PathLike) -> Path:
    """The metric table of the whole run (``metrics.parquet``)."""
    return _path("merged_metrics", results)


# ------------------------------------------------------------------- reports
def page_id(kind: str, name: str | None = None) -> str:
    """The id of a report page: ``leaderboard``, ``reproductions``, ``systems/<name>``,
    ``methods/<name>`` or ``papers/<name>`` for the kinds in :data:`PAGE_KINDS`."""
    if kind not in PAGE_KINDS:
        raise ValueError(
            f"unknown report page kind {kind!r}; choose one of {', '.join(PAGE_KINDS)}"
        )
    folder = PAGE_KINDS[kind]
    if folder is None:
        if name is not None:
            raise ValueError(f"the {kind} page takes no name (got {name!r})")
        return kind
    if not name:
        raise ValueError(f"a {kind} page needs a name")
    return f"{folder}/{name}"


def page_kind(page: str) -> tuple[str, str | None]:
    """(kind, name) of a page id (the inverse of :func:`page_id`)."""
    folder, _, name = page.partition("/")
    for kind, sub in PAGE_KINDS.items():
        if (sub is None and page == kind) or (sub is not None and folder == sub and name):
            return kind, (name or None)
    raise ValueError(
        f"{page!r} is not a report page id (leaderboard, reproductions, systems/<system>, "
        "methods/<method> or papers/<paper>)"
    )


def reports_dir(results: PathLike) -> Path:
    """Root of the report pages."""
    return _path("reports_dir", results)


def report_page(results: PathLike, page: str) -> Path:
    """HTML of one report page (``page``: a page id or a wildcard)."""
    return _path("report_page", results, page=page)


def report_notebook(results: PathLike, page: str) -> Path:
    """The executed notebook beside a report page."""
    return _path("report_notebook", results, page=page)


def report_figures(results: PathLike, page: str) -> Path:
    """Folder of a page's figures as PNG (for ``snakemake --report``)."""
    return _path("report_figures", results, page=page)


def report_index(results: PathLike) -> Path:
    """The index page linking every report page."""
    return _path("report_index", results)


# ------------------------------------------------------------------- logs
def simulate_log(results: PathLike, dataset: str, system: str) -> Path:
    return _path("simulate_log", results, dataset=dataset, system=system)


def summary_log(results: PathLike) -> Path:
    return _path("summary_log", results)


def train_log(results: PathLike, dataset: str, method: str, system: str, seed: object) -> Path:
    return _path("train_log", results, dataset=dataset, method=method, system=system, seed=seed)


def epoch_log(results: PathLike, dataset: str, method: str, system: str, seed: object) -> Path:
    """Per-epoch training log (CSV) of one training job."""
    return _path("epoch_log", results, dataset=dataset, method=method, system=system, seed=seed)


def predict_log(results: PathLike, dataset: str, method: str, system: str, seed: object) -> Path:
    return _path("predict_log", results, dataset=dataset, method=method, system=system, seed=seed)


def evaluate_log(results: PathLike, dataset: str) -> Path:
    return _path("evaluate_log", results, dataset=dataset)


def merged_metrics_log(results: PathLike) -> Path:
    return _path("merged_metrics_log", results)


def report_log(results: PathLike, page: str) -> Path:
    return _path("report_log", results, page=page)


def report_index_log(results: PathLike) -> Path:
    return _path("report_index_log", results)


# ------------------------------------------------------------------- finding outputs
class Found(NamedTuple):
    """An output that :func:`find` found, with the names parsed from its path."""

    path: Path
    names: dict[str, str | int]


def find(results: PathLike, kind: str, **fixed: object) -> list[Found]:
    """Every existing output of ``kind`` (a key of :data:`TEMPLATES`) whose names equal
    ``fixed`` (the other names are free), sorted by path; ``seed`` is parsed as an int and
    paths whose seed is not a number are left out."""
    if kind not in TEMPLATES:
        raise ValueError(f"unknown output kind {kind!r}; choose one of {', '.join(TEMPLATES)}")
    template = TEMPLATES[kind]
    fields = _FIELD.findall(template)
    unknown = sorted(set(fixed) - set(fields))
    if unknown:
        raise ValueError(f"{kind} paths have no {', '.join(unknown)} (they have {fields})")
    root = Path(results)
    pattern = template.format(**{f: str(fixed.get(f, "*")) for f in fields})
    regex = re.compile(
        "".join(
            f"(?P<{part[1:-1]}>{_FIELD_REGEX.get(part[1:-1], '[^/]+')})"
            if _FIELD.fullmatch(part)
            else re.escape(part)
            for part in re.split(r"(\{\w+\})", template)
            if part
        )
    )
    found = []
    for path in sorted(root.glob(pattern)):
        m = regex.fullmatch(path.relative_to(root).as_posix())
        if m is None:
            continue
        names: dict[str, str | int] = dict(m.groupdict())
        if "seed" in names:
            names["seed"] = int(names["seed"])
        found.append(Found(path, names))
    return found


def owning_chunk(path: PathLike) -> Path | None:
    """The chunk record (the output of a simulate, train or predict job) that lists the
    per-system output ``path`` (a store, a model directory or their record); None when no
    chunk record lists it. ``snakemake --forcerun <it>`` reruns the job that made it."""
    path = Path(path)
    record = path.with_suffix(".json") if path.suffix in (".zarr", ".json") else None
    if record is None:
        record = path.with_name(path.name + ".json")  # a model directory: seed<k>
    for chunks in (record.parent / "chunks", record.parent.parent / "chunks"):
        for chunk in sorted(chunks.glob("*.json")):
            try:
                listed = json.loads(chunk.read_text()).get("records", [])
            except (OSError, ValueError, AttributeError):
                continue
            if any(os.path.normpath(chunks / r) == os.path.normpath(record) for r in listed):
                return chunk
    return None
