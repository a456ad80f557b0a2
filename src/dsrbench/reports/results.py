"""What the pipeline wrote under the results directory, as the pages read it.

The paths come from :mod:`dsrbench.layout`: the metric table, the dataset and prediction
stores with their records, the model directories (``training.json`` and the AL-RNN's
``symbolic_code.json``) and the per-epoch training logs.

A missing piece that a run may legitimately lack (a method not configured, a failed
prediction, a metric no method produced) raises :class:`NoData` with a sentence for the
page, or is listed in :attr:`Run.notes`. A broken one (no ``metrics.parquet``, a store
that its record calls ``ok`` but that does not open) raises, so the page fails.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dsrbench import layout
from dsrbench.references import FLOOR, ROWS_ONLY, is_truth
from dsrbench.reports.style import order_methods

__all__ = [
    "SYMBOLIC_METRIC",
    "NoData",
    "Run",
    "SymbolicCode",
    "open_run",
    "parse_symbolic_code",
    "symbolic_metric_rows",
    "with_symbolic_rows",
]

#: the metric of :func:`symbolic_metric_rows` (the published table's name for the claim)
SYMBOLIC_METRIC = "subregions_visited"

#: rows that are not a method's scores
REFERENCE_ROWS = ROWS_ONLY
#: in a results directory written by ``dsrbench report join``: what was joined and the notes
JOINED_FILE = "joined.json"


class NoData(LookupError):
    """Something a page would show is not in this run; the message says what and why."""


@dataclass
class SymbolicCode:
    """The AL-RNN's symbolic dynamics: visited linear subregions (sign patterns of the
    ReLU units), how often each is visited and the transition probabilities between them."""

    codes: list[str]
    frequencies: np.ndarray
    transitions: np.ndarray | None
    source: Path | None = None

    @property
    def n_regions(self) -> int:
        return len(self.codes)


_CODE_KEYS = ("codes", "regions", "subregions", "symbols", "visited", "visited_regions", "labels")
_FREQ_KEYS = ("frequencies", "frequency", "visit_frequencies", "counts", "visits", "occupancy")
_TRANS_KEYS = ("transition_matrix", "transitions", "transition_probabilities", "transition_counts")


def _code_text(code: Any) -> str:
    if isinstance(code, str):
        return code
    if isinstance(code, list | tuple):
        return "".join(
            "1" if (c is True or (not isinstance(c, str) and c > 0)) else "0" for c in code
        )
    return str(code)


def parse_symbolic_code(obj: Any, source: Path | None = None) -> SymbolicCode:
    """Read a ``symbolic_code.json`` document. Accepted shapes: lists under ``codes`` /
    ``regions`` / ... (strings or sign vectors), ``frequencies`` / ``counts`` / ..., and a
    ``transition_matrix`` (probabilities or counts, row-normalised here); or a list of region
    dicts (``code``, ``frequency``). Raises ValueError naming the keys it found otherwise."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    codes = next((obj[k] for k in _CODE_KEYS if k in obj), None)
    freqs = next((obj[k] for k in _FREQ_KEYS if k in obj), None)
    trans = next((obj[k] for k in _TRANS_KEYS if k in obj), None)
    if isinstance(codes, dict):  # {code: frequency}
        codes, freqs = list(codes), list(codes.values()) if freqs is None else freqs
    if isinstance(codes, list) and codes and isinstance(codes[0], dict):
        entries = codes
        codes = [e.get("code", e.get("region", e.get("symbol"))) for e in entries]
        if freqs is None:
            freqs = [e.get("frequency", e.get("count", e.get("visits", 1))) for e in entries]
    if isinstance(freqs, dict):
        codes = codes or list(freqs)
        freqs = [freqs[c] for c in codes]
    if codes is None or freqs is None:
        raise ValueError(
            f"no visited subregions and frequencies among its keys {sorted(obj)} "
            f"(expected one of {_CODE_KEYS} and one of {_FREQ_KEYS})"
        )
    labels = [_code_text(c) for c in codes]
    f = np.asarray(freqs, dtype=float)
    if f.shape != (len(labels),):
        raise ValueError(f"{len(labels)} subregions but {f.size} frequencies")
    if f.sum() > 0:
        f = f / f.sum()
    t = None
    if trans is not None:
        t = np.asarray(trans, dtype=float)
        if t.shape != (len(labels), len(labels)):
            raise ValueError(f"transition matrix of shape {t.shape} for {len(labels)} subregions")
        rows = t.sum(axis=1, keepdims=True)
        t = np.divide(t, rows, out=np.zeros_like(t), where=rows > 0)
    return SymbolicCode(labels, f, t, source)


def _is_trained(method: str) -> bool:
    from dsrbench import methods
    from dsrbench.pipeline.plan import is_trained

    return method in methods.available() and is_trained(method)


def _check_dir(results_dir: Path) -> None:
    if not results_dir.is_dir():
        raise FileNotFoundError(
            f"results directory {results_dir} does not exist (cwd {Path.cwd()}); run "
            "`snakemake` first or pass the config's results_dir"
        )
    if not layout.merged_metrics(results_dir).is_file():
        raise FileNotFoundError(
            f"{layout.merged_metrics(results_dir)} does not exist: the evaluation has not run "
            "(set evaluation.methods in the config and run `snakemake`)"
        )


@dataclass
class Run:
    """The outputs of one pipeline run (see the module doc)."""

    results_dir: Path
    metrics: pd.DataFrame
    configured: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: methods whose rows came from a joined export: no stores here (dsrbench.reports.join)
    export_only: list[str] = field(default_factory=list)

    # ---------------------------------------------------------------- metric tables
    @property
    def methods(self) -> list[str]:
        """Methods with rows in the metric table (the oracle ``truth`` included)."""
        found = set(self.metrics["method"]) - set(ROWS_ONLY)
        return order_methods(found)

    @property
    def learned(self) -> list[str]:
        """Methods other than the ``truth`` oracle."""
        return [m for m in self.methods if not is_truth(m)]

    @property
    def systems(self) -> list[str]:
        return sorted(set(self.metrics["system"].dropna()))

    @property
    def datasets(self) -> list[str]:
        return sorted(set(self.metrics["dataset"].dropna()))

    def restricted(self, systems: list[str]) -> Run:
        """The same run with only the rows of ``systems`` (the notes kept)."""
        keep = self.metrics["system"].isin(list(systems))
        return Run(
            self.results_dir,
            self.metrics[keep].reset_index(drop=True),
            configured=list(self.configured),
            notes=list(self.notes),
            export_only=list(self.export_only),
        )

    def scores(
        self,
        metric: str,
        horizon: float | None = None,
        *,
        methods: list[str] | None = None,
        systems: list[str] | None = None,
        dataset: str | None = None,
    ) -> pd.DataFrame:
        """Rows of one metric (at one horizon for ``smape200``) of the methods, floors
        filled from the ``floor`` rows where the method rows lack them. Raises
        :class:`NoData` when the run has no finite value of it."""
        m = self.metrics
        sel = m[(m["metric"] == metric) & ~m["method"].isin(ROWS_ONLY)]
        if horizon is not None:
            sel = sel[np.isclose(sel["horizon"].astype(float), horizon)]
        if methods is not None:
            sel = sel[sel["method"].isin(methods)]
        if systems is not None:
            sel = sel[sel["system"].isin(systems)]
        if dataset is not None:
            sel = sel[sel["dataset"] == dataset]
        name = metric if horizon is None else f"{metric} at {horizon:g} Lyapunov times"
        if sel.empty or not np.isfinite(sel["value"].astype(float)).any():
            raise NoData(f"no {name} values in this run")
        sel = sel.copy()
        floors = self.floor(metric)
        if not floors.empty:
            key = sel.set_index(["dataset", "system"]).index
            filled = floors.reindex(key).to_numpy()
            sel["floor"] = np.where(np.isfinite(sel["floor"]), sel["floor"], filled)
        return sel.reset_index(drop=True)

    def floor(self, metric: str) -> pd.Series:
        """Truth floor per (dataset, system) from the rows of the method :data:`FLOOR`."""
        m = self.metrics
        rows = m[(m["method"] == FLOOR) & (m["metric"] == metric)]
        return rows.groupby(["dataset", "system"])["value"].mean()

    def failures(self) -> pd.DataFrame:
        """Rows whose status is neither ok nor diverged (failed predictions, metrics)."""
        m = self.metrics
        return m[~m["status"].isin(["ok", "diverged"])][
            ["dataset", "system", "method", "seed", "metric", "status", "reason"]
        ].reset_index(drop=True)

    def diverged(self) -> pd.DataFrame:
        """(dataset, system, method, seed) whose free run diverged, with the reason."""
        m = self.metrics
        rows = m[(m["status"] == "diverged") & (m["metric"] == "D_stsp")]
        return rows[["dataset", "system", "method", "seed", "reason"]].reset_index(drop=True)

    # ---------------------------------------------------------------- stores and records
    def _find(self, kind: str, **names: object) -> list:
        """layout.find under the results directory (nothing for a Run without files), kept to
        the run's scope: the datasets and systems of its metric rows. A Run restricted to
        some systems or datasets then reads only their records, not every one on disk."""
        if self.results_dir is None:
            return []
        found = layout.find(self.results_dir, kind, **names)
        if self.metrics.empty:
            return found
        scope = {"dataset": set(self.datasets), "system": set(self.systems)}
        return [
            (path, got)
            for path, got in found
            if all(got[key] in allowed for key, allowed in scope.items() if key in got)
        ]

    def _json(self, path: Path) -> dict | None:
        return json.loads(path.read_text()) if path.is_file() else None

    def dataset_store(self, dataset: str, system: str) -> Any:
        """The dataset store (xarray); :class:`NoData` when its simulation failed or did not
        run, an error when its record says ok but it does not open."""
        from dsrbench.stores import open_dataset

        record = self._json(layout.dataset_record(self.results_dir, dataset, system))
        if record is None:
            raise NoData(f"no dataset {dataset}/{system} in this run")
        if record.get("status") != "ok":
            raise NoData(f"the simulation of {system} ({dataset}) failed: {record.get('reason')}")
        return open_dataset(layout.dataset_store(self.results_dir, dataset, system))

    def prediction_record(self, dataset: str, method: str, system: str, seed: int) -> dict:
        record = self._json(
            layout.prediction_record(self.results_dir, dataset, method, system, seed)
        )
        if record is None:
            raise NoData(f"{method} has no prediction for {system} ({dataset}, seed {seed})")
        return record

    def predictions(self, dataset: str, method: str, system: str, seed: int) -> Any:
        """The prediction store; :class:`NoData` (with the reason) when the prediction was
        skipped or failed."""
        from dsrbench.stores import open_predictions

        record = self.prediction_record(dataset, method, system, seed)
        if record.get("status") != "ok":
            raise NoData(
                f"{method} on {system} ({dataset}, seed {seed}): prediction "
                f"{record.get('status')}: {record.get('reason')}"
            )
        return open_predictions(
            layout.prediction_store(self.results_dir, dataset, method, system, seed)
        )

    def seeds(self, method: str | None = None) -> list[int]:
        m = self.metrics
        if method is not None:
            m = m[m["method"] == method]
        return sorted(int(s) for s in set(m["seed"].dropna()) if s >= 0)

    def model_dirs(self, method: str) -> list[tuple[str, str, int, Path]]:
        """(dataset, system, seed, model directory) of every trained model of ``method``."""
        return [
            (n["dataset"], n["system"], n["seed"], layout.model_dir(self.results_dir, **n))
            for _, n in layout.find(self.results_dir, "model_record", method=method)
        ]

    def training(self, method: str) -> pd.DataFrame:
        """One row per training job of ``method``: dataset, system, seed, status, reason,
        fit_seconds, epochs_run, device, train_length, hyperparameters (a JSON string) from
        the job record and ``training.json``, and the objects that ``training.json`` may hold
        (None where it does not): ``tuning`` (a dict: metric, grid, scores, best),
        ``data_limited`` (a list of {train_length, smape, fit_seconds}) and ``refit``;
        ``training_seconds_total`` (the training loop's seconds over resumed runs) and
        ``hardware`` (a dict: cpu, cores, torch_threads, gpu) where recorded."""
        rows = []
        for rec_path, names in self._find("model_record", method=method):
            rec = json.loads(rec_path.read_text())
            info = self._json(layout.model_dir(self.results_dir, **names) / "training.json") or {}
            rows.append(
                {
                    "dataset": rec.get("dataset"),
                    "system": rec.get("system"),
                    "seed": rec.get("seed"),
                    "status": rec.get("status"),
                    "reason": rec.get("reason"),
                    "fit_seconds": info.get("fit_seconds", rec.get("fit_seconds", math.nan)),
                    "epochs_run": info.get("epochs_run"),
                    "training_seconds_total": info.get("training_seconds_total", math.nan),
                    "device": info.get("device", rec.get("device")),
                    "hardware": info.get("hardware"),
                    "hyperparameters": json.dumps(info.get("hyperparameters", {}), sort_keys=True),
                    "train_length": info.get("train_length", rec.get("train_length")),
                    "tuning": info.get("tuning") if isinstance(info.get("tuning"), dict) else None,
                    "data_limited": (
                        info.get("data_limited")
                        if isinstance(info.get("data_limited"), list)
                        else None
                    ),
                    "refit": info.get("refit"),
                }
            )
        if not rows:
            if is_truth(method) or not _is_trained(method):
                raise NoData(f"{method} is not trained (it needs no fit)")
            raise NoData(f"{method} has no training records in this run")
        df = pd.DataFrame(rows)
        df["fit_seconds"] = pd.to_numeric(df["fit_seconds"], errors="coerce")
        return df

    def prediction_timing(self, method: str) -> pd.DataFrame:
        """One row per prediction record of ``method`` with a time: dataset, system, seed,
        status and ``predict_seconds`` (the record's ``timing``)."""
        rows = []
        for path, names in self._find("prediction_record", method=method):
            try:
                rec = json.loads(path.read_text())
            except json.JSONDecodeError:
                continue
            timing = rec.get("timing") if isinstance(rec.get("timing"), dict) else {}
            rows.append(
                {
                    "dataset": names["dataset"],
                    "system": names["system"],
                    "seed": names["seed"],
                    "status": rec.get("status"),
                    "predict_seconds": timing.get("predict_seconds", math.nan),
                }
            )
        df = pd.DataFrame(rows, columns=["dataset", "system", "seed", "status", "predict_seconds"])
        df["predict_seconds"] = pd.to_numeric(df["predict_seconds"], errors="coerce")
        if not np.isfinite(df["predict_seconds"]).any():
            raise NoData(f"{method} has no prediction record with an inference time")
        return df

    def epoch_logs(self, method: str) -> pd.DataFrame:
        """Every per-epoch log of ``method`` with dataset, system and seed columns."""
        frames = []
        for path, names in layout.find(self.results_dir, "epoch_log", method=method):
            try:
                df = pd.read_csv(path)
            except pd.errors.EmptyDataError:
                continue
            if df.empty:
                continue
            df = df.apply(pd.to_numeric, errors="coerce")
            df.insert(0, "seed", names["seed"])
            df.insert(0, "system", names["system"])
            df.insert(0, "dataset", names["dataset"])
            frames.append(df)
        if not frames:
            raise NoData(f"{method} wrote no per-epoch training logs (it is not trained by epochs)")
        return pd.concat(frames, ignore_index=True)

    def symbolic_codes(self, method: str = "alrnn") -> list[tuple[str, str, int, SymbolicCode]]:
        """(dataset, system, seed, code) of every saved ``symbolic_code.json``; files that do
        not parse are listed in :attr:`notes`."""
        out = []
        for dataset, system, seed, directory in self.model_dirs(method):
            path = directory / "symbolic_code.json"
            if not path.is_file():
                continue
            try:
                out.append(
                    (dataset, system, seed, parse_symbolic_code(json.loads(path.read_text()), path))
                )
            except (ValueError, json.JSONDecodeError) as exc:
                self.notes.append(f"{path} could not be read as a symbolic code: {exc}")
        if not out:
            raise NoData(f"{method} saved no symbolic code (symbolic_code.json) in this run")
        return out


def symbolic_metric_rows(results_dir: str | Path, method: str = "alrnn") -> pd.DataFrame:
    """Metric rows (``metric`` = :data:`SYMBOLIC_METRIC`, ``value`` = the number of linear
    subregions the model's free run visited; Brenner et al. 2024) read from the
    ``symbolic_code.json`` that each trained ``method`` model saved. The evaluation does not
    score them; the run export and the reproductions add them beside the metric table. Empty
    when the run saved no symbolic code."""
    run = Run(results_dir=Path(results_dir), metrics=pd.DataFrame())
    try:
        codes = run.symbolic_codes(method)
    except NoData:
        return pd.DataFrame()
    return pd.DataFrame(
        [
            {
                "dataset": dataset,
                "system": system,
                "method": method,
                "seed": seed,
                "metric": SYMBOLIC_METRIC,
                "value": float(code.n_regions),
                "status": "ok",
                "reason": "from the model's symbolic_code.json",
            }
            for dataset, system, seed, code in codes
        ]
    )


def with_symbolic_rows(results_dir: str | Path, metrics: pd.DataFrame) -> pd.DataFrame:
    """``metrics`` (the run's metric table) with :func:`symbolic_metric_rows` appended for
    the methods whose :data:`SYMBOLIC_METRIC` rows it does not hold already (an evaluation
    that scores them itself is not counted twice)."""
    symbolic = symbolic_metric_rows(results_dir)
    if symbolic.empty:
        return metrics
    scored = set(metrics.loc[metrics["metric"] == SYMBOLIC_METRIC, "method"])
    symbolic = symbolic[~symbolic["method"].isin(scored)]
    return pd.concat([metrics, symbolic], ignore_index=True)


def random_smoke(metrics: pd.DataFrame) -> pd.Series:
    """Which rows come from randomly initialised weights of a pretrained method (their
    ``reason`` holds ``weights=random-smoke``, :data:`dsrbench.methods.base.RANDOM_SMOKE`):
    a smoke test of the loading code, never a result."""
    from dsrbench.methods.base import RANDOM_SMOKE

    if "reason" not in metrics:
        return pd.Series(False, index=metrics.index)
    reason = metrics["reason"].astype(object).fillna("")  # categorical in an export
    return reason.astype(str).str.contains(RANDOM_SMOKE, regex=False)


def open_run(
    results_dir: str | Path,
    *,
    methods: list[str] | None = None,
    systems: list[str] | None = None,
    datasets: list[str] | None = None,
    include_random_smoke: bool = False,
) -> Run:
    """Read ``results_dir/metrics.parquet``; ``methods`` are the configured ones (those
    absent from the table are noted), ``systems`` and ``datasets`` (dataset settings, e.g.
    one granularity) restrict the rows, and with them the records the run reads. Rows from
    randomly initialised weights (:func:`random_smoke`) are left out, with a note, unless
    ``include_random_smoke``."""
    results_dir = Path(results_dir)
    _check_dir(results_dir)
    metrics = pd.read_parquet(layout.merged_metrics(results_dir))
    smoke = random_smoke(metrics)
    smoke_notes = []
    if smoke.any() and not include_random_smoke:
        for method, sub in metrics[smoke].groupby("method"):
            smoke_notes.append(
                f"{method}: {len(sub)} rows from randomly initialised weights (weights="
                "random-smoke) left out: a smoke test of the loading code, not a result"
            )
        metrics = metrics[~smoke].reset_index(drop=True)
    if systems is not None:
        metrics = metrics[metrics["system"].isin(systems)].reset_index(drop=True)
    if datasets is not None:
        unknown = sorted(set(datasets) - set(metrics["dataset"]))
        if unknown:
            raise NoData(
                f"no metric rows for dataset setting(s) {unknown} in {results_dir}; "
                f"it has {sorted(set(metrics['dataset'].dropna()))}"
            )
        metrics = metrics[metrics["dataset"].isin(datasets)].reset_index(drop=True)
    for col in ("value", "floor", "horizon"):
        metrics[col] = metrics[col].astype(float)
    run = Run(results_dir, metrics, configured=list(methods or []), notes=smoke_notes)
    joined = results_dir / JOINED_FILE
    if joined.is_file():  # a joined directory: its notes, and the methods without stores
        info = json.loads(joined.read_text())
        run.notes.extend(info.get("notes", []))
        run.export_only = list(info.get("export_methods", []))
    present = set(metrics["method"])
    for m in run.configured:
        if m not in present:
            run.notes.append(f"method {m!r} is configured but has no results in this run")
    failed = run.failures()
    if not failed.empty:
        for (method, status), sub in failed.groupby(["method", "status"]):
            where = ", ".join(sorted({f"{r.system}/{r.dataset}" for r in sub.itertuples()}))
            run.notes.append(f"{method}: {status} on {where}: {sub['reason'].iloc[0]}")
    return run
