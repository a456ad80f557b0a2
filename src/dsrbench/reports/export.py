"""``dsrbench results export``: one tidy parquet per run that outlives the machine.

:func:`export_run` writes ``<results_dir>/export/<run>.parquet`` (atomically): every row of
the run's metric table (``kind == "metric"``, every column of ``metrics.parquet`` kept) and
one row per training job (``kind == "training"``: seconds, epochs, ``stopped_by``, the
hyperparameters chosen as a JSON string, the device and hardware). Each row carries, as
columns, what makes it interpretable on its own:

* ``protocol_hash``: SHA-256 of the canonical JSON of :func:`protocol`, per dataset setting
  (and system, since a setting's ``by_system`` entries resample some systems: the systems
  without one share the setting's hash): the setting as the system was simulated under it
  (defaults filled), the integration tolerances, the root seed, the
  evaluation keys that change what a row measures (context length, horizon, the context
  starts they resolve to, the long-run length and its dropped transient, the fixed horizon,
  the Lyapunov horizons), the dysts version and :data:`DATA_GENERATION_VERSION`. Not
  covered: the methods, their hyperparameters and seeds (``seed`` is a column), the
  results directory, chunking, training resources (device, budget, threads, memory),
  ``model_lyapunov`` (it decides whether ``lyapunov_qr`` rows exist, not how a row is
  measured), the training data keys (``train_length``, ``val_length``: per model, columns
  of the training rows) and the reports. Numbers are hashed as floats, so ``0`` and ``0.0``
  agree. From a results directory the protocol is read back from the stores
  (:func:`run_protocol`); from a config with :func:`protocol`: both give the same hash.
* ``store_hash``: :func:`store_hash` of the row's dataset store.
* ``dsrbench_commit``: the git revision in the provenance of the row's own artefact (the
  prediction store of a metric row, the dataset store of a ``floor`` row, ``training.json``
  of a training row); ``evaluate_commit``: that of the per-setting metric table.
* the environment (:data:`ENV_FIELDS`): from the row's artefact where it was recorded at
  run time, else from the exporting machine; ``env_source`` names the fields taken from the
  exporting machine (``record`` when none).
* ``zero_shot``, ``pretrained_on_dysts``, ``replication_code``: see :func:`method_flags`.

Besides the metric table, the metric rows hold the AL-RNN's visited linear subregions
(:func:`dsrbench.reports.results.with_symbolic_rows`, read from its saved symbolic codes).

The parquet metadata (:data:`META_KEY`) also holds ``protocols``: the :func:`protocol` dict
of each protocol hash of the table, so that a refusal to merge, diff or join exports of
different protocols can name the keys that differ (:func:`protocol_differences`). An
export written before it has none (:func:`read_protocols` gives ``{}``).

:func:`read_export` reads an export of this or an older schema version (upgrading it,
:data:`UPGRADES`) and refuses a newer one.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import math
import platform
import subprocess
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dsrbench import layout, splits
from dsrbench.atomic import atomic_path
from dsrbench.pipeline.evaluate import COLUMNS as METRIC_COLUMNS
from dsrbench.pipeline.evaluate import LYAPUNOV_HORIZONS
from dsrbench.provenance import canonical_json, hardware, provenance
from dsrbench.references import is_floor
from dsrbench.reports.results import with_symbolic_rows

__all__ = [
    "COLUMNS",
    "SCHEMA_VERSION",
    "UPGRADES",
    "ExportError",
    "build_export",
    "export_run",
    "method_flags",
    "protocol",
    "protocol_differences",
    "protocol_hash",
    "read_export",
    "read_protocols",
    "run_protocol",
    "store_hash",
    "write_export",
]

#: version of the export's columns; bump it with an entry in :data:`UPGRADES`
SCHEMA_VERSION = 1
#: parquet schema metadata key holding the schema version, the run and the exporter
META_KEY = b"dsrbench_export"

#: columns of the training rows (a metric row keeps every column of its metric table)
TRAINING_COLUMNS = [
    "fit_seconds",
    "training_seconds_total",
    "wall_time_s",
    "epochs_run",
    "best_epoch",
    "stopped_by",
    "stopped_by_budget",
    "train_length",
    "val_length",
    "hyperparameters",
    "tuning",
    "device",
    "cores",
    "torch_threads",
]
#: environment columns: package versions, CPU model, BLAS vendor, GPU name ("none")
ENV_FIELDS = [
    "dsrbench_version",
    "numpy_version",
    "torch_version",
    "dysts_version",
    "darts_version",
    "xarray_version",
    "zarr_version",
    "python_version",
    "cpu",
    "blas",
    "gpu",
]
_PACKAGES = {f: f.removesuffix("_version") for f in ENV_FIELDS if f.endswith("_version")}
COLUMNS = [
    "kind",
    "run",
    "dataset",
    *(c for c in METRIC_COLUMNS if c != "dataset"),  # every column of the metric tables
    "predict_seconds",
    *TRAINING_COLUMNS,
    "protocol_hash",
    "store_hash",
    "dsrbench_commit",
    "evaluate_commit",
    *ENV_FIELDS,
    "env_source",
    "zero_shot",
    "pretrained_on_dysts",
    "replication_code",
]
_FLOATS = {"horizon", "value", "floor", "n_points", "predict_seconds", "fit_seconds"}
_FLOATS |= {"training_seconds_total", "wall_time_s"}
_INTS = {"seed", "epochs_run", "best_epoch", "train_length", "val_length", "cores"}
_INTS |= {"torch_threads"}
_BOOLS = {"stopped_by_budget", "zero_shot", "pretrained_on_dysts", "replication_code"}

#: methods whose docs (docs/methods.md) cite a public reference implementation they follow
#: or run: the authors' code of the latent RNNs, DeepKoopman, PhyxMamba, the neural ODE of
#: Gilpin's dysts code, and the darts forecasters (darts itself, as Gilpin 2023 ran it)
REPLICATION_CODE = frozenset(
    {"alrnn", "shplrnn_gtf", "koopman_ae", "phyxmamba", "node"}
    | {"arima", "autoarima", "dlinear", "exponential_smoothing", "fft", "four_theta"}
    | {"kalman", "linear_regression", "lstm", "naive_drift", "naive_mean", "naive_seasonal"}
    | {"nbeats", "nhits", "nlinear", "random_forest", "rnn", "tbats", "tcn", "theta"}
    | {"transformer", "xgboost"}
)
#: methods that forecast a system without training on it: none yet (the zero-shot protocol
#: is not built; persistence and context_parroting forecast from the context alone)
ZERO_SHOT: frozenset[str] = frozenset()

#: store attributes left out of :func:`store_hash`: where and by what code a store was
#: written (provenance, the hash of the job's slice, the completion marker) and the name
#: of the dataset setting (a label, not content)
_UNHASHED_ATTRS = ("provenance", "config_hash", "dsrbench_complete", "dataset")


class ExportError(ValueError):
    """Bad input of an export (no such directory, no metric table, a newer export); the
    message names the thing and the fix."""


# ----------------------------------------------------------------------------- flags
def method_flags(method: str) -> dict[str, bool]:
    """``zero_shot``, ``pretrained_on_dysts`` (the method's ``pretrained_on`` trait, read
    without importing it; ``truth`` and ``floor`` were pretrained on nothing) and
    ``replication_code`` of ``method``."""
    from dsrbench import methods

    pretrained = methods.traits(method).pretrained_on if method in methods.available() else "none"
    return {
        "zero_shot": method in ZERO_SHOT,
        "pretrained_on_dysts": pretrained == "dysts",
        "replication_code": method in REPLICATION_CODE,
    }


# ----------------------------------------------------------------------------- protocol
def _floats(obj: Any) -> Any:
    """``obj`` with every number as a float (bools kept), so 0 and 0.0 hash alike."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int | float | np.integer | np.floating):
        return float(obj)
    if isinstance(obj, Mapping):
        return {str(k): _floats(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | np.ndarray):
        return [_floats(v) for v in obj]
    return obj


def _protocol(
    setting: Mapping[str, Any],
    seed: Any,
    integration: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    dysts_version: str,
    generation_version: int,
) -> dict[str, Any]:
    return _floats(
        {
            "data_generation_version": generation_version,
            "dysts_version": dysts_version,
            "seed": seed,
            "integration": {k: integration[k] for k in ("rtol", "atol")},
            "setting": dict(setting),
            "evaluation": dict(evaluation),
        }
    )


def protocol(
    config: Mapping[str, Any],
    dataset: str,
    system: str | None = None,
    *,
    dysts_version: str | None = None,
) -> dict[str, Any]:
    """The protocol of the dataset setting ``dataset`` of ``config`` (a config file's
    mapping; defaults are filled by :func:`dsrbench.pipeline.config.load_config`) for ``system``
    (its ``by_system`` overrides applied, where the setting has them): what
    :func:`protocol_hash` hashes (see the module doc). ``dysts_version``: default the
    installed one."""
    from dsrbench.datasets import DATA_GENERATION_VERSION, resolve_setting
    from dsrbench.pipeline.config import load_config

    cfg = load_config(config)
    if dataset not in cfg["datasets"]:
        raise ExportError(
            f"no dataset setting {dataset!r} in the config; it has {', '.join(cfg['datasets'])}"
        )
    setting = resolve_setting(cfg["datasets"][dataset], system)  # as build_dataset does
    ev = cfg["evaluation"]
    length = int(setting["length"])
    run_length = int(ev["long_run_length"] or length)
    transient = float(ev["long_run_transient"])
    evaluation = {
        "context_length": ev["context_length"],
        "horizon": ev["horizon"],
        "context_starts": splits.context_starts(
            ev["context_length"], ev["horizon"], ev["contexts_per_trajectory"], length
        ).tolist(),
        "long_run_length": run_length,
        "generation_discard": splits.free_run_points(run_length, transient) - run_length,
        "fixed_horizon": ev.get("fixed_horizon") or 0,
        "lyapunov_horizons": list(ev.get("lyapunov_horizons") or LYAPUNOV_HORIZONS),
    }
    return _protocol(
        setting,
        cfg["seed"],
        cfg["integration"],
        evaluation,
        dysts_version or _version("dysts"),
        DATA_GENERATION_VERSION,
    )


def protocol_hash(proto: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of a :func:`protocol` dict."""
    return hashlib.sha256(canonical_json(_floats(proto)).encode("ascii")).hexdigest()


def _flat(obj: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a.b": value}`` of a nested mapping (lists are values)."""
    if not isinstance(obj, Mapping):
        return {prefix: obj}
    out: dict[str, Any] = {}
    for key, value in obj.items():
        out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def protocol_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """The keys (dotted, e.g. ``evaluation.horizon``) where two :func:`protocol` dicts
    differ, each as ``key: <a> != <b>`` (``absent`` where one lacks it), sorted."""
    fa, fb = _flat(_floats(a)), _flat(_floats(b))
    out = []
    for key in sorted(set(fa) | set(fb)):
        va, vb = fa.get(key, "absent"), fb.get(key, "absent")
        if va != vb:
            out.append(f"{key}: {_short(va)} != {_short(vb)}")
    return out


def _short(value: Any, width: int = 60) -> str:
    """A value for a message, ``...``-cut at ``width`` characters (float 60.0 as 60)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= width else text[: width - 3] + "..."


def _attrs(store: Path) -> dict[str, Any] | None:
    """The group attributes of a zarr v3 store (its ``zarr.json``), None when unreadable."""
    try:
        return json.loads((store / "zarr.json").read_text()).get("attributes") or {}
    except (OSError, ValueError, AttributeError):
        return None


def _evaluation(store: Path) -> dict[str, Any] | None:
    """The evaluation part of the protocol read from a prediction store (None: unreadable)."""
    import zarr

    pred = _attrs(store)
    if not pred or "horizon" not in pred:
        return None
    try:
        starts = np.asarray(zarr.open_array(store / "context_start", mode="r")[...])
    except Exception:  # noqa: BLE001 - another store will do
        return None
    return {
        "context_length": pred["context_length"],
        "horizon": pred["horizon"],
        "context_starts": np.unique(starts).tolist(),
        "long_run_length": pred["long_run_length"],
        "generation_discard": pred["generation_discard"],
        "fixed_horizon": pred.get("fixed_horizon") or 0,
        "lyapunov_horizons": list(pred.get("lyapunov_horizons") or LYAPUNOV_HORIZONS),
    }


def run_protocol(
    results_dir: str | Path, dataset: str, system: str | None = None
) -> dict[str, Any] | None:
    """The protocol of the setting ``dataset`` for ``system`` (default: the first system
    with a dataset store) read back from the run's stores: the system's dataset store and
    its first prediction store that opens, else one of another system simulated under the
    same resolved setting; None when there is no such pair."""
    from dsrbench.datasets import DATA_GENERATION_VERSION

    results_dir = Path(results_dir)
    if system is None:
        found = layout.find(results_dir, "dataset_store", dataset=dataset)
        for f in found:
            proto = run_protocol(results_dir, dataset, str(f.names["system"]))
            if proto is not None:
                return proto
        return None
    data = _attrs(layout.dataset_store(results_dir, dataset, system))
    if not data or "generation" not in data:
        return None
    gen = data["generation"]
    own = layout.find(results_dir, "prediction_store", dataset=dataset, system=system)
    others = [
        f
        for f in layout.find(results_dir, "prediction_store", dataset=dataset)
        if f.names["system"] != system
    ]
    evaluation = next((e for f in own if (e := _evaluation(f.path)) is not None), None)
    for f in others if evaluation is None else []:
        other = _attrs(layout.dataset_store(results_dir, dataset, str(f.names["system"])))
        if other and (other.get("generation") or {}).get("setting") == gen["setting"]:
            evaluation = _evaluation(f.path)
            if evaluation is not None:
                break
    if evaluation is None:
        return None
    return _protocol(
        gen["setting"],
        gen["seed"],
        gen["integration"],
        evaluation,
        (data.get("provenance") or {}).get("packages", {}).get("dysts", "unknown"),
        int(gen.get("data_generation_version", DATA_GENERATION_VERSION)),
    )


# ----------------------------------------------------------------------------- store hash
def store_hash(path: str | Path) -> str:
    """SHA-256 (hex) of a dataset store's content, stable across re-writes of the same data:
    its group attributes but those of :data:`_UNHASHED_ATTRS` (the setting's name also
    dropped from ``generation``), as canonical JSON; then, array by array in name order,
    the canonical JSON of its name, dtype (little-endian), shape and attributes followed by
    its decoded values as C-ordered little-endian bytes. The hash is of values, not of
    compressed chunks: another compressor, chunking or zarr version gives the same hash."""
    import zarr

    group = zarr.open_group(Path(path), mode="r", zarr_format=3)
    attrs = {k: v for k, v in dict(group.attrs).items() if k not in _UNHASHED_ATTRS}
    if isinstance(attrs.get("generation"), dict):
        attrs["generation"] = {k: v for k, v in attrs["generation"].items() if k != "dataset"}
    h = hashlib.sha256(canonical_json(attrs).encode("ascii"))
    for name in sorted(group.array_keys()):
        array = group[name]
        values = np.asarray(array[...])
        values = np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<"))
        head = {
            "name": name,
            "dtype": values.dtype.str,
            "shape": list(values.shape),
            "attrs": dict(array.attrs),
        }
        h.update(canonical_json(head).encode("ascii"))
        h.update(values.tobytes())
    return h.hexdigest()


# ----------------------------------------------------------------------------- environment
def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu() -> str:
    return str(hardware("cpu")["cpu"])


def _blas() -> str | None:
    """The BLAS numpy uses, e.g. ``openblas 0.3.27`` (threadpoolctl, else numpy's config)."""
    with contextlib.suppress(ImportError):
        from threadpoolctl import threadpool_info

        for lib in threadpool_info():
            if lib.get("user_api") == "blas":
                return f"{lib.get('internal_api')} {lib.get('version') or ''}".strip()
    with contextlib.suppress(Exception):
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version') or ''}".strip()
    return None


def _gpu() -> str:
    """The exporting machine's GPU (nvidia-smi), ``none`` without one."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "none"
    names = [n.strip() for n in out.stdout.splitlines() if n.strip()]
    return ", ".join(dict.fromkeys(names)) if out.returncode == 0 and names else "none"


@cache
def exporter_environment() -> dict[str, str | None]:
    """:data:`ENV_FIELDS` of the exporting machine."""
    env: dict[str, str | None] = {f: _version(p) for f, p in _PACKAGES.items()}
    env["python_version"] = platform.python_version()
    env.update(cpu=_cpu(), blas=_blas(), gpu=_gpu())
    return env


def _environment(packages: Mapping[str, Any] | None, hardware: Mapping[str, Any] | None) -> dict:
    """The environment fields of a row from its artefact's recorded ``packages`` and
    ``hardware`` (either may be None), the rest from the exporting machine, with
    ``env_source``. A recorded package without torch means torch was not installed."""
    recorded: dict[str, Any] = {}
    if packages:
        for field, package in _PACKAGES.items():
            if package in packages:
                recorded[field] = packages[package]
            elif package == "torch":
                recorded[field] = None  # provenance records torch only where installed
    if hardware:
        if hardware.get("cpu"):
            recorded["cpu"] = hardware["cpu"]
        recorded["gpu"] = hardware.get("gpu") or "none"
    exporter = exporter_environment()
    env = {f: recorded[f] if f in recorded else exporter[f] for f in ENV_FIELDS}
    missing = [f for f in ENV_FIELDS if f not in recorded]
    env["env_source"] = "record" if not missing else "exporter: " + ", ".join(missing)
    return env


# ----------------------------------------------------------------------------- rows
def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        obj = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def _table_commit(path: Path) -> str | None:
    """The git revision in a metric table's provenance metadata."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
        return json.loads(meta[b"dsrbench_provenance"]).get("git_revision")
    except (OSError, KeyError, ValueError):
        return None


def _check_results(results_dir: Path) -> Path:
    if not results_dir.is_dir():
        raise ExportError(
            f"results directory {results_dir} does not exist (cwd {Path.cwd()}); pass the "
            "results_dir of a finished run (the config's results_dir)"
        )
    metrics = layout.merged_metrics(results_dir)
    if not metrics.is_file():
        raise ExportError(
            f"{results_dir} has no metric table ({metrics}): the run has not been evaluated; "
            "set evaluation.methods in its config and run `snakemake` to finish it"
        )
    return metrics


def _metric_rows(results_dir: Path, metrics: pd.DataFrame) -> pd.DataFrame:
    """The metric table with the per-row commit, environment and inference time: one
    lookup per (dataset, system, method, seed), not per row."""
    keys = metrics[["dataset", "system", "method", "seed"]].drop_duplicates()
    extra = []
    for dataset, system, method, seed in keys.itertuples(index=False):
        if is_floor(method):
            attrs = _attrs(layout.dataset_store(results_dir, dataset, system))
        else:
            attrs = _attrs(layout.prediction_store(results_dir, dataset, method, system, seed))
        prov = (attrs or {}).get("provenance") or {}
        timing = (attrs or {}).get("timing") or {}
        extra.append(
            {
                "dataset": dataset,
                "system": system,
                "method": method,
                "seed": seed,
                "predict_seconds": timing.get("predict_seconds", math.nan),
                "dsrbench_commit": prov.get("git_revision"),
                **_environment(prov.get("packages"), None),
            }
        )
    out = metrics.merge(pd.DataFrame(extra), on=["dataset", "system", "method", "seed"], how="left")
    out.insert(0, "kind", "metric")
    return out


def _training_rows(results_dir: Path) -> pd.DataFrame:
    """One row per model record of the run (every method, setting, system and seed)."""
    rows = []
    for path, names in layout.find(results_dir, "model_record"):
        rec = _read_json(path) or {}
        info = _read_json(layout.model_dir(results_dir, **names) / "training.json") or {}
        prov = info.get("provenance") or {}
        hardware = info.get("hardware") if isinstance(info.get("hardware"), dict) else None
        tuning = info.get("tuning")
        row = {
            "kind": "training",
            **names,
            "status": rec.get("status"),
            "reason": rec.get("reason"),
            "fit_seconds": info.get("fit_seconds", rec.get("fit_seconds")),
            "training_seconds_total": info.get("training_seconds_total"),
            "wall_time_s": rec.get("wall_time_s"),
            "epochs_run": info.get("epochs_run"),
            "best_epoch": info.get("best_epoch"),
            "stopped_by": info.get("stopped_by"),
            "stopped_by_budget": info.get("stopped_by_budget"),
            "train_length": info.get("train_length", rec.get("train_length")),
            "val_length": info.get("val_length", rec.get("val_length")),
            "hyperparameters": (
                json.dumps(info["hyperparameters"], sort_keys=True, default=str)
                if isinstance(info.get("hyperparameters"), dict)
                else None
            ),
            "tuning": json.dumps(tuning, sort_keys=True, default=str) if tuning else None,
            "device": info.get("device", rec.get("device")),
            "cores": (hardware or {}).get("cores"),
            "torch_threads": (hardware or {}).get("torch_threads"),
            "dsrbench_commit": prov.get("git_revision"),
            **_environment(prov.get("packages"), hardware),
        }
        rows.append(row)
    return pd.DataFrame(rows)


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """Every column of :data:`COLUMNS` (missing ones null), in order, with stable dtypes:
    floats, nullable ints and booleans, and strings as categoricals (dictionary-encoded
    in parquet)."""
    df = df.copy()
    for col in COLUMNS:
        if col not in df:
            df[col] = None
    extra = [c for c in df.columns if c not in COLUMNS]  # a column a newer table added
    df = df[[*COLUMNS, *extra]]
    for col in df.columns:
        s = df[col]
        if col in _FLOATS:
            if s.dtype != "float64":
                df[col] = pd.to_numeric(s, errors="coerce").astype("float64")
        elif col in _INTS:
            if s.dtype != "Int64":
                df[col] = pd.to_numeric(s, errors="coerce").astype("Int64")
        elif col in _BOOLS:
            if s.dtype != "boolean":
                df[col] = s.astype("boolean")
        elif col in ("hyperparameters", "tuning"):
            if s.dtype != "string":
                df[col] = s.astype("string")
        elif s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            df[col] = _categorical(s.astype("category"))
        elif isinstance(s.dtype, pd.CategoricalDtype):
            df[col] = _categorical(s)
    return df.reset_index(drop=True)


def _categorical(s: pd.Series) -> pd.Series:
    """A categorical of strings (values that are not strings are written as strings)."""
    if all(isinstance(c, str) for c in s.cat.categories):
        return s
    return s.astype("string").astype("category")


def build_export(results_dir: str | Path) -> pd.DataFrame:
    """The export's table of the run in ``results_dir`` (see the module doc)."""
    results_dir = Path(results_dir)
    metrics = pd.read_parquet(_check_results(results_dir))
    missing = [c for c in ("dataset", "system", "method", "seed") if c not in metrics]
    if missing:
        raise ExportError(
            f"{layout.merged_metrics(results_dir)} lacks the columns {missing}: it is not a "
            "dsrbench metric table; rerun the evaluation (`snakemake --forcerun merge_metrics`)"
        )
    metrics = with_symbolic_rows(results_dir, metrics)
    parts = [_metric_rows(results_dir, metrics), _training_rows(results_dir)]
    table = pd.concat([p for p in parts if not p.empty], ignore_index=True)
    table["run"] = results_dir.resolve().name
    datasets = sorted(set(table["dataset"].dropna()))
    pairs = list(table[["dataset", "system"]].drop_duplicates().itertuples(index=False))
    protocols, stores, dicts = {}, {}, {}
    for d, s in pairs:
        proto = run_protocol(results_dir, d, s)
        protocols[d, s] = protocol_hash(proto) if proto is not None else None
        if proto is not None:
            dicts[protocols[d, s]] = proto
        if (layout.dataset_store(results_dir, d, s) / "zarr.json").is_file():
            stores[d, s] = store_hash(layout.dataset_store(results_dir, d, s))
    keys = list(zip(table["dataset"], table["system"], strict=True))
    table["protocol_hash"] = [protocols.get(k) for k in keys]
    table["store_hash"] = [stores.get(k) for k in keys]
    commits = {d: _table_commit(layout.metrics_table(results_dir, d)) for d in datasets}
    table["evaluate_commit"] = table["dataset"].map(commits)
    flags = {m: method_flags(m) for m in set(table["method"].dropna())}
    for flag in ("zero_shot", "pretrained_on_dysts", "replication_code"):
        table[flag] = table["method"].map(lambda m, f=flag: flags[m][f] if m in flags else None)
    out = _typed(table)
    out.attrs["protocols"] = dicts  # written to the metadata by write_export
    return out


def write_export(
    table: pd.DataFrame,
    out: str | Path,
    *,
    run: str | None = None,
    protocols: Mapping[str, Mapping[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write an export table as parquet atomically: dictionary-encoded, zstd-compressed,
    the schema version, run, exporter's provenance and the protocol dict of each of the
    table's protocol hashes (``protocols``, default ``table.attrs["protocols"]``) in the
    metadata (:data:`META_KEY`), with the items of ``extra``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if protocols is None:
        protocols = table.attrs.get("protocols") or {}
    used = set(table["protocol_hash"].dropna().astype(str)) if "protocol_hash" in table else set()
    arrow = pa.Table.from_pandas(_typed(table), preserve_index=False)
    meta = dict(arrow.schema.metadata or {})
    meta[META_KEY] = json.dumps(
        {
            **(extra or {}),
            "schema_version": SCHEMA_VERSION,
            "run": run,
            "exporter": {**provenance({}), "environment": exporter_environment()},
            "protocols": {h: dict(p) for h, p in sorted(protocols.items()) if h in used},
        },
        sort_keys=True,
    ).encode()
    arrow = arrow.replace_schema_metadata(meta)
    with atomic_path(out) as tmp:
        pq.write_table(arrow, tmp, compression="zstd", compression_level=9, use_dictionary=True)
    return Path(out)


def export_run(results_dir: str | Path, out_path: str | Path | None = None) -> Path:
    """Export the run in ``results_dir`` to ``out_path`` (default
    ``<results_dir>/export/<run>.parquet``, run = the directory's name); returns the path."""
    results_dir = Path(results_dir)
    table = build_export(results_dir)
    run = results_dir.resolve().name
    out = Path(out_path) if out_path is not None else results_dir / "export" / f"{run}.parquet"
    return write_export(table, out, run=run)


# ----------------------------------------------------------------------------- reading
def _upgrade_0_to_1(df: pd.DataFrame) -> pd.DataFrame:
    """Version 0: a bare metric table (``metrics.parquet``, no export metadata): every row
    is a metric row; the columns of version 1 it lacks are null."""
    df = df.copy()
    df["kind"] = "metric"
    return df


#: version -> the function that upgrades a table of that version to the next one
UPGRADES: dict[int, Callable[[pd.DataFrame], pd.DataFrame]] = {0: _upgrade_0_to_1}


def _metadata(path: Path, schema: Any) -> dict[str, Any]:
    """The export metadata (:data:`META_KEY`) of a parquet schema; ``{}`` for a bare metric
    table."""
    raw = (schema.metadata or {}).get(META_KEY)
    try:
        meta = json.loads(raw) if raw else {}
    except ValueError as exc:
        raise ExportError(f"{path}: unreadable export metadata ({exc}); export it again") from exc
    return meta if isinstance(meta, dict) else {}


def read_protocols(path: str | Path) -> dict[str, dict[str, Any]]:
    """The protocol dict of each protocol hash an export's metadata holds (``{}`` for an
    export written before they were kept, or a bare metric table)."""
    import pyarrow.parquet as pq

    path = Path(path)
    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is bad input
        raise ExportError(f"{path} is not a readable parquet file ({exc})") from exc
    protocols = _metadata(path, schema).get("protocols") or {}
    return {str(h): p for h, p in protocols.items() if isinstance(p, dict)}


def read_export(path: str | Path) -> pd.DataFrame:
    """An export (any version up to :data:`SCHEMA_VERSION`, upgraded to it step by step by
    :data:`UPGRADES`); a newer one raises :class:`ExportError` naming the file and the fix.
    ``attrs["protocols"]``: :func:`read_protocols` of the file; ``attrs["export"]``: the
    file's export metadata (``{}`` for a bare metric table)."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path} does not exist; write it with `dsrbench results export`")
    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is bad input
        raise ExportError(f"{path} is not a parquet file ({exc}); export the run again") from exc
    meta = _metadata(path, table.schema)
    version = int(meta.get("schema_version", 0))
    if version > SCHEMA_VERSION:
        raise ExportError(
            f"{path} is a dsrbench results export of schema version {version}, newer than "
            f"this dsrbench reads (up to {SCHEMA_VERSION}); upgrade dsrbench "
            "(`pip install -U dsrbench`) to read it"
        )
    df = table.to_pandas()
    while version < SCHEMA_VERSION:
        df = UPGRADES[version](df)
        version += 1
    out = _typed(df)
    protocols = meta.get("protocols") or {}
    out.attrs["protocols"] = {str(h): p for h, p in protocols.items() if isinstance(p, dict)}
    out.attrs["export"] = meta
    return out
