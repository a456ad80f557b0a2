"""Evaluation: score prediction stores against the truth, spread over a Dask cluster.

One task per prediction store (system x dataset x method x seed) and one truth-floor task
per dataset store. Each returns tidy rows:

    system, dataset, method, seed, metric, horizon, value, floor, status, reason, n_points

* short-term metrics on the forecasts from test contexts, averaged over contexts: the 17
  of ``dysts.metrics.compute_metrics`` (``horizon`` = the whole forecast, in Lyapunov
  times), ``smape200`` at 1, 4 and 10 Lyapunov times (0-200 scale, Zhang & Gilpin 2025),
  ``vpt_smape`` and ``vpt_nrmse`` (valid prediction time in Lyapunov times), ``mase10``
  and ``pe20`` (the mean squared error of the 20th forecast step over the contexts: PE(20)
  evaluated at the stored contexts rather than at every test state); with a context-length
  sweep (``evaluation.context_lengths``), ``smape200_context``: the sMAPE (0-200) over the
  whole horizon of the forecasts from the last ``n_points`` context points (Zhang & Gilpin
  2025, context parroting, error against context length; its ``horizon`` is the whole
  forecast and ``n_points`` = L is part of the row key);
* long-term metrics on the free run with its first 0.25 T dropped, against the true
  trajectory of T points from the first test initial condition (re-integrated when T is
  longer than the stored trajectories): ``D_stsp`` (``n_points`` = T), ``D_H``,
  ``D_frac`` (correlation dimension error) and ``lyapunov_rel_error`` (Rosenstein's
  estimate on the generation against the same estimate on the truth). ``floor`` is the
  value of the same metric between two independent true trajectories of the same length
  (from the first test and the first training initial conditions), the best a perfect
  model can reach.

For methods with a step map and its Jacobian, ``lyapunov_qr`` is the model's largest
exponent by the QR method (computed at prediction time, per unit time) and
``lyapunov_qr_rel_error`` its relative error against the true system's QR exponent
(:func:`dsrbench.integration.lyapunov.system_max_lyapunov`, one task per system; its
``floor`` is the relative difference between that estimate's two halves).

A diverged free run is recorded with ``status = "diverged"`` and its reason (D_H = 1, D_stsp
NaN); a failing metric is recorded with ``status = "error: ..."`` naming the system and the
metric; neither stops the run. Lyapunov times use dysts' ``maximum_lyapunov_estimated``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import sys
import traceback
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from dsrbench import layout
from dsrbench.atomic import atomic_path
from dsrbench.references import FLOOR

log = logging.getLogger(__name__)

__all__ = [
    "COLUMNS",
    "ROW_KEY",
    "error_row",
    "metric_row",
    "dask_client",
    "evaluate_prediction",
    "run_evaluation",
    "truth_floor",
]

COLUMNS = [
    "system",
    "dataset",
    "method",
    "seed",
    "metric",
    "horizon",
    "value",
    "floor",
    "status",
    "reason",
    "n_points",
]
#: what identifies a metric row (``n_points`` tells apart the context lengths L of
#: ``smape200_context``, whose horizon is the whole forecast); the table is sorted by it
ROW_KEY = ["dataset", "system", "method", "seed", "metric", "horizon", "n_points"]
LYAPUNOV_HORIZONS = (1, 4, 10)
LONG_TERM = ("D_stsp", "D_H", "D_frac", "lyapunov_rel_error")


def _pin_threads() -> None:
    """One BLAS / torch thread per Dask worker: the parallelism is across tasks."""
    with contextlib.suppress(ImportError):
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def steps_per_lyapunov_time(ds: Any) -> float:
    """Samples per Lyapunov time 1 / lambda_max of a dataset store (inf without chaos)."""
    lam = float(ds.attrs["system_metadata"]["maximum_lyapunov_estimated"])
    spacing = float(ds["time"].values[1] - ds["time"].values[0])
    return (1.0 / lam) / spacing if lam > 0 else math.inf


def _nanmean(values: Any) -> float:
    """Mean over contexts ignoring NaN; NaN (no warning) when every context is NaN, e.g.
    RMSLE of negative series."""
    v = np.asarray(values, dtype=float)
    return float(np.nanmean(v)) if np.any(~np.isnan(v)) else math.nan


def metric_row(
    system: str,
    dataset: str,
    method: str,
    seed: int,
    metric: str,
    value: Any = math.nan,
    *,
    horizon: float = math.nan,
    floor: float = math.nan,
    status: str = "ok",
    reason: str | None = None,
    n_points: int | None = None,
) -> dict[str, Any]:
    """One row of the tidy metric table (:data:`COLUMNS`); the only place rows are made."""
    return {
        "system": system,
        "dataset": dataset,
        "method": method,
        "seed": int(seed),
        "metric": metric,
        "horizon": horizon,
        "value": float(value) if value is not None else math.nan,
        "floor": floor,
        "status": status,
        "reason": reason,
        "n_points": n_points,
    }


def error_row(
    system: str, dataset: str, method: str, seed: int, metric: str, exc: BaseException
) -> dict[str, Any]:
    """The row recording that computing ``metric`` raised ``exc`` (the run goes on)."""
    return metric_row(
        system,
        dataset,
        method,
        seed,
        metric,
        status=f"error: {type(exc).__name__}",
        reason=f"{system} / {method} / {metric}: {exc}",
    )


def _row(ds: Any, method: str, seed: int, metric: str, value: Any, **extra: Any) -> dict:
    return metric_row(ds.attrs["system"], ds.attrs["dataset"], method, seed, metric, value, **extra)


def _long_term(
    truth: np.ndarray, gen: np.ndarray, dt: float, seed: int, scale: np.ndarray | None = None
) -> dict[str, Any]:
    from dsrbench.metrics.attractor import long_term_metrics

    res = long_term_metrics(truth, gen, dt=dt, lyapunov=True, seed=seed, scale=scale)
    assert isinstance(res, dict)
    lam_t, lam_g = res.get("lambda_true", math.nan), res.get("lambda_gen", math.nan)
    if res["status"] == "ok" and np.isfinite(lam_t) and lam_t != 0:
        res["lyapunov_rel_error"] = abs(lam_g - lam_t) / abs(lam_t)
    else:
        res["lyapunov_rel_error"] = math.nan
    return res


def _fallback_note(*runs: Any) -> str | None:
    """The ``reason`` note naming the integration fallbacks behind true runs, if any."""
    used = sorted({r.fallback for r in runs if r.fallback})
    return "true run integrated by the fallback " + " / ".join(used) if used else None


def _join(*notes: str | None) -> str | None:
    kept = [n for n in notes if n]
    return "; ".join(kept) if kept else None


def truth_floor(
    dataset_path: str | Path,
    length: int | None = None,
    seed: int = 0,
    true_runs: str | Path | None = None,
) -> list[dict]:
    """Long-term metrics between two independent true trajectories of ``length`` points
    (default: the dataset's), from the first test and the first training initial condition.
    ``reason`` names the integration fallback of a true run, if one was needed
    (:func:`dsrbench.truth.true_run`); the divergence box is floored by the dataset's range
    (:func:`dsrbench.truth.pool_scale`). ``true_runs``: the file of the dataset's long true
    runs integrated once (:func:`dsrbench.truth.write_true_runs`), read instead of
    integrating them again."""
    from dsrbench import splits, stores
    from dsrbench.truth import TrueRuns, pool_scale, true_run

    _pin_threads()
    ds = stores.open_dataset(dataset_path)
    runs = TrueRuns.load(true_runs)
    length = int(length or ds.sizes["time"])
    where = splits.long_run_trajectories(ds)
    dt = float(ds["time"].values[1] - ds["time"].values[0])
    truth = true_run(ds, where.test, length, seed=seed, runs=runs)
    other = true_run(ds, where.floor, length, seed=seed + 1, runs=runs)
    res = _long_term(truth.x, other.x, dt, seed, pool_scale(ds))
    reason = _join(res.get("reason"), _fallback_note(truth, other))
    return [
        _row(
            ds,
            FLOOR,
            seed,
            m,
            res[m],
            n_points=res.get("n_points"),
            status=res["status"],
            reason=reason,
        )
        for m in LONG_TERM
    ]


def evaluate_prediction(
    dataset_path: str | Path,
    prediction_path: str | Path,
    floor: list[dict] | None = None,
    true_runs: str | Path | None = None,
) -> list[dict]:
    """All metrics of one prediction store (see module doc); never raises on model output.
    ``true_runs``: as for :func:`truth_floor`."""
    from dsrbench import stores
    from dsrbench.metrics import forecast as fm
    from dsrbench.truth import TrueRuns, pool_scale, true_continuations, true_run

    _pin_threads()
    ds = stores.open_dataset(dataset_path)
    runs = TrueRuns.load(true_runs)
    pred = stores.open_predictions(prediction_path)
    method, seed = str(pred.attrs["method"]), int(pred.attrs["seed"])
    floors = {r["metric"]: r["value"] for r in floor or []}
    traj = pred["context_trajectory"].values
    start = pred["context_start"].values
    horizon = int(pred.attrs["horizon"])
    y_true = true_continuations(ds, traj, start, horizon)
    y_pred = np.asarray(pred["forecast"].values)
    spl = steps_per_lyapunov_time(ds)
    rows: list[dict] = []

    def guarded(metric: str, fn: Any) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
            if stores.is_fault(exc):
                raise
            log.warning(
                "%s/%s/%s: metric %s failed: %s", ds.attrs["system"], method, seed, metric, exc
            )
            rows.append(
                error_row(ds.attrs["system"], ds.attrs["dataset"], method, seed, metric, exc)
            )

    full = horizon / spl

    def short_term() -> None:
        with np.errstate(all="ignore"):
            values = fm.forecast_metrics(y_true, y_pred)
        for name, v in values.items():
            rows.append(_row(ds, method, seed, name, _nanmean(v), horizon=full))

    def fixed() -> None:
        n = int(pred.attrs.get("fixed_horizon") or 0)
        if not 0 < n <= horizon:
            return
        with np.errstate(all="ignore"):
            values = fm.forecast_metrics(y_true[:, :n], y_pred[:, :n])
        for name, v in values.items():
            rows.append(_row(ds, method, seed, f"{name}_fixed", _nanmean(v), horizon=n / spl))

    def horizons() -> None:
        wanted = tuple(pred.attrs.get("lyapunov_horizons") or LYAPUNOV_HORIZONS)
        with np.errstate(all="ignore"):
            res = fm.smape_at_horizons(
                y_true, y_pred, steps_per_lyapunov_time=spl, horizons=wanted, scale=200
            )
        for h, v in res.items():
            rows.append(_row(ds, method, seed, "smape200", _nanmean(v), horizon=float(h)))

    def vpt(rule: str) -> None:
        with np.errstate(all="ignore"):
            v = fm.valid_prediction_time(y_true, y_pred, steps_per_lyapunov_time=spl, rule=rule)
        v = np.asarray(v, dtype=float)
        # a forecast valid over the whole horizon is valid for at least the horizon
        rows.append(
            _row(
                ds,
                method,
                seed,
                f"vpt_{rule}",
                np.mean(np.minimum(v, full)),
                horizon=full,
                reason="capped at the forecast horizon" if np.any(np.isinf(v)) else None,
            )
        )

    def mase() -> None:
        with np.errstate(all="ignore"):
            v = fm.mase(y_true, y_pred, n=10)
        rows.append(_row(ds, method, seed, "mase10", _nanmean(v), horizon=10 / spl))

    def pe() -> None:
        n = min(20, horizon)
        v = fm.forecast_prediction_error(y_true, y_pred, n)
        rows.append(_row(ds, method, seed, "pe20", v, horizon=n / spl))

    def context_sweep() -> None:
        # Zhang & Gilpin 2025 (context parroting): error against context length L
        if "sweep_forecast" not in pred:
            return
        sweep = np.asarray(pred["sweep_forecast"].values)
        for n, y in zip(pred["sweep_length"].values, sweep, strict=True):
            with np.errstate(all="ignore"):
                v = fm.smape(y_true, y, scale=200)
            # horizon: the whole forecast, as for smape200's other rows; the context
            # length L goes to n_points, which the row key (reports.combine.KEY) holds
            rows.append(
                _row(
                    ds, method, seed, "smape200_context", _nanmean(v), horizon=full, n_points=int(n)
                )
            )

    def long_term() -> None:
        discard = int(pred.attrs["generation_discard"])
        gen = np.asarray(pred["generated"].values)[0, discard:]
        length = int(pred.attrs.get("long_run_length", gen.shape[0]))
        first = int(pred["generated_trajectory"].values[0])
        truth = true_run(ds, first, length, seed=seed, runs=runs)
        dt = float(ds["time"].values[1] - ds["time"].values[0])
        res = _long_term(truth.x, gen, dt, seed, pool_scale(ds))
        notes = [_fallback_note(truth)]
        if pred.attrs.get("integration_fallback"):  # the truth oracle's own free run
            notes.append(f"generated by the fallback {pred.attrs['integration_fallback']}")
        reason = _join(res.get("reason"), *notes)
        for m in LONG_TERM:
            rows.append(
                _row(
                    ds,
                    method,
                    seed,
                    m,
                    res[m],
                    floor=floors.get(m, math.nan),
                    status=res["status"],
                    reason=reason,
                    n_points=res.get("n_points"),
                )
            )

    guarded("forecast_metrics", short_term)
    guarded("forecast_metrics_fixed", fixed)
    guarded("smape200", horizons)
    guarded("vpt_smape", lambda: vpt("smape"))
    guarded("vpt_nrmse", lambda: vpt("nrmse"))
    guarded("mase10", mase)
    guarded("pe20", pe)
    guarded("smape200_context", context_sweep)
    guarded("long_term", long_term)
    if pred.attrs.get("weights") == "random-smoke":  # never a result: labelled on every row
        from dsrbench.methods.base import RANDOM_SMOKE

        for row in rows:
            row["reason"] = _join(RANDOM_SMOKE, row.get("reason"))
    model_lyap = pred.attrs.get("model_lyapunov")
    if model_lyap:
        rows.append(
            _row(
                ds,
                method,
                seed,
                "lyapunov_qr",
                model_lyap.get("value"),
                status="ok" if model_lyap.get("status") == "ok" else "diverged",
                reason=None if model_lyap.get("status") == "ok" else model_lyap.get("status"),
                n_points=model_lyap.get("steps"),
            )
        )
    return rows


#: bump when :func:`dsrbench.integration.lyapunov.system_max_lyapunov` changes its result:
#: cached exponents of another version are recomputed
SYSTEM_LYAPUNOV_VERSION = 1


def system_lyapunov(system: str, cache: Path | None = None) -> dict[str, float]:
    """The true system's largest exponent (QR) and the relative spread of its two halves.

    It depends on the system alone, so with ``cache`` (:func:`dsrbench.layout.system_lyapunov`)
    it is computed once per results directory: read back (exactly: JSON keeps every bit of a
    float) when the file holds this system at :data:`SYSTEM_LYAPUNOV_VERSION`, else computed
    and written there atomically."""
    if cache is not None and cache.is_file():
        try:
            rec = json.loads(cache.read_text())
        except (OSError, ValueError):
            rec = {}
        if rec.get("system") == system and rec.get("version") == SYSTEM_LYAPUNOV_VERSION:
            return {"value": float(rec["value"]), "spread": float(rec["spread"])}
    from dsrbench.integration.lyapunov import system_max_lyapunov

    _pin_threads()
    est = system_max_lyapunov(system)
    spread = abs(est.value - est.value_half) / abs(est.value) if est.value else math.nan
    out = {"value": float(est.value), "spread": float(spread)}
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        rec = {"system": system, "version": SYSTEM_LYAPUNOV_VERSION, **out}
        with atomic_path(cache) as tmp:
            Path(tmp).write_text(json.dumps(rec))
    return out


def _safe_system_lyapunov(system: str, cache: Path | None = None) -> dict[str, float] | str:
    try:
        return system_lyapunov(system, cache)
    except Exception as exc:  # noqa: BLE001
        log.error("Lyapunov exponent of %s failed:\n%s", system, traceback.format_exc())
        return f"{type(exc).__name__}: {exc}"


def _lyapunov_errors(rows: list[dict], truths: dict[str, dict | str]) -> list[dict]:
    """``lyapunov_qr_rel_error`` rows for every ``lyapunov_qr`` row."""
    out = []
    for r in rows:
        if r["metric"] != "lyapunov_qr":
            continue
        true = truths.get(r["system"])
        new = {**r, "metric": "lyapunov_qr_rel_error"}
        if isinstance(true, dict) and true["value"] != 0:
            new["value"] = abs(r["value"] - true["value"]) / abs(true["value"])
            new["floor"] = true["spread"]
        else:
            new["value"] = math.nan
            new["status"] = "error: system exponent" if r["status"] == "ok" else r["status"]
            new["reason"] = r["reason"] or f"{r['system']} / lyapunov_max: {true}"
        out.append(new)
    return out


#: what distributed's LocalCluster also writes into the parent's os.environ for its worker
#: processes (a fixed hash seed, the parent's pid), restored with the thread counts
DASK_SPAWN_VARIABLES = ("PYTHONHASHSEED", "__DASK_PARENT_PID", "MALLOC_TRIM_THRESHOLD_")


@contextlib.contextmanager
def dask_client(
    n_workers: int | None = None, scheduler_address: str | None = None
) -> Iterator[Any]:
    """A client on an existing scheduler, or on a LocalCluster of single-threaded workers."""
    import dask
    from dask.distributed import Client, LocalCluster

    if scheduler_address:
        with Client(scheduler_address) as client:
            yield client
        return
    # Worker processes get one BLAS / OpenMP / numba thread each. The nanny writes these
    # into the parent's os.environ before spawning; they are restored as soon as the
    # workers run and again at exit, since numba in the parent refuses a changed
    # NUMBA_NUM_THREADS once its threads have started.
    one_thread = {
        var: 1
        for var in (
            "OMP_NUM_THREADS",
            "MKL_NUM_THREADS",
            "OPENBLAS_NUM_THREADS",
            "NUMBA_NUM_THREADS",
        )
    }
    environ = {**dask.config.get("distributed.nanny.pre-spawn-environ", {}), **one_thread}
    n = n_workers or os.cpu_count() or 1
    with (
        _restored_environ([*environ, *DASK_SPAWN_VARIABLES]) as restore,
        dask.config.set({"distributed.nanny.pre-spawn-environ": environ}),
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.WARNING,
        ) as cluster,
        Client(cluster) as client,
    ):
        restore()
        yield client


@contextlib.contextmanager
def _restored_environ(keys: list[str]) -> Iterator[Any]:
    """Yield a function restoring ``keys`` of os.environ; restore them at exit too."""
    saved = {k: os.environ.get(k) for k in keys}

    def restore() -> None:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    try:
        yield restore
    finally:
        restore()


def _safe_floor(
    dataset_path: str,
    length: int | None,
    system: str,
    dataset: str,
    runs: Path | None = None,
) -> list[dict]:
    try:
        return truth_floor(dataset_path, length, true_runs=runs)
    except Exception as exc:  # noqa: BLE001
        from dsrbench import stores

        if stores.is_fault(exc):
            raise  # a store that is not sound, a full disk: the evaluate job stops
        log.error("floor of %s failed:\n%s", system, traceback.format_exc())
        return [error_row(system, dataset, FLOOR, -1, FLOOR, exc)]


def _safe_eval(
    dataset_path: str,
    prediction_path: str,
    floor: list[dict],
    system: str,
    dataset: str,
    method: str,
    runs: Path | None = None,
) -> list[dict]:
    try:
        return evaluate_prediction(dataset_path, prediction_path, floor, runs)
    except Exception as exc:  # noqa: BLE001
        from dsrbench import stores

        if stores.is_fault(exc):
            raise  # a store that is not sound, a full disk: the evaluate job stops
        log.error("evaluation of %s failed:\n%s", prediction_path, traceback.format_exc())
        return [error_row(system, dataset, method, -1, "evaluate", exc)]


def _results_of(dataset_path: str | Path) -> Path | None:
    """The results directory ``dataset_path`` lies in (None for a store outside one)."""
    try:
        return layout.results_of_dataset_store(dataset_path)
    except ValueError:
        return None


def _lyapunov_cache(dataset_path: str | Path, system: str) -> Path | None:
    """The cache of ``system``'s exponent in the results directory of ``dataset_path``
    (None for a store outside one)."""
    results = _results_of(dataset_path)
    return layout.system_lyapunov(results, system) if results else None


def _true_runs(dataset_path: str | Path, dataset: str, system: str) -> Path | None:
    """The file of the long true runs of ``dataset_path`` in its results directory, None
    when there is none (a store outside one, or a run written before the file existed)."""
    results = _results_of(dataset_path)
    path = layout.true_runs(results, dataset, system) if results else None
    return path if path is not None and path.is_file() else None


#: bump when a metric changes in a way :func:`evaluation_fingerprint` cannot see (it
#: hashes the code and library versions): cached metric rows of another version are
#: recomputed
METRIC_ROWS_VERSION = 1
#: the dsrbench modules metric rows do not depend on (everything else is fingerprinted)
_UNFINGERPRINTED = ("methods", "reports")
_FINGERPRINTED_METHOD_MODULES = ("base.py",)  # RANDOM_SMOKE and the prediction contract


def evaluation_fingerprint() -> str:
    """What metric rows depend on besides their stores: the bytes of every dsrbench module
    but the methods' (except ``methods/base.py``) and the reports', and the versions of the
    numerical libraries. A cached row computed under another fingerprint is recomputed."""
    root = Path(__file__).resolve().parents[1]  # the dsrbench package
    digest = hashlib.sha256(f"metric rows v{METRIC_ROWS_VERSION}".encode())
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in _UNFINGERPRINTED and not (
            rel.parts[0] == "methods" and rel.name in _FINGERPRINTED_METHOD_MODULES
        ):
            continue
        digest.update(rel.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    for package in ("numpy", "scipy", "pandas", "dysts", "numba", "scikit-learn", "zarr"):
        try:
            version = metadata.version(package)
        except metadata.PackageNotFoundError:
            version = "absent"
        digest.update(f"{package}=={version}\0".encode())
    return digest.hexdigest()


def _stamp(path: str | Path | None) -> list | None:
    """Every file under ``path`` (or the file itself) with its size and modification time:
    a store rewritten in any way (the writes are atomic renames of new files) stamps
    differently. None when there is no such path."""
    if path is None:
        return None
    path = Path(path)
    if path.is_file():
        st = path.stat()
        return [[".", st.st_size, st.st_mtime_ns]]
    if not path.is_dir():
        return None
    return [
        [p.relative_to(path).as_posix(), st.st_size, st.st_mtime_ns]
        for p in sorted(path.rglob("*"))
        if p.is_file() and (st := p.stat())
    ]


def _cache_key(fingerprint: str, **parts: Any) -> str:
    text = json.dumps({"code": fingerprint, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _read_cached_rows(path: Path | None, key: str) -> list[dict] | None:
    """The rows cached at ``path`` under ``key``; None when absent, unreadable or stale."""
    if path is None or not path.is_file():
        return None
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return rec["rows"] if isinstance(rec, dict) and rec.get("key") == key else None


def _write_cached_rows(path: Path | None, key: str, rows: list[dict]) -> None:
    """Cache ``rows`` under ``key`` unless one of them is an error (which may be transient:
    it is computed again next time). A cache that cannot be written is skipped."""
    if path is None or any(str(r["status"]).startswith("error") for r in rows):
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            Path(tmp).write_text(json.dumps({"key": key, "rows": rows}, default=_json_scalar))
    except OSError as exc:
        log.warning("metric rows not cached at %s: %s", path, exc)


def _json_scalar(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else str(value)


def run_evaluation(
    jobs: list[dict],
    *,
    n_workers: int | None = None,
    scheduler_address: str | None = None,
    client: Any = None,
    progress: bool = True,
    cache: bool = True,
) -> pd.DataFrame:
    """Evaluate prediction stores on a Dask cluster.

    ``jobs``: dicts with ``system``, ``dataset``, ``method``, ``dataset_path``,
    ``prediction_path`` and optionally ``long_run_length`` (T of the floors; default the
    dataset's trajectory length) and ``model_lyapunov`` (True when the store holds the
    model's QR exponent: the system's own is then computed once per system). Truth floors
    are computed once per dataset store; every job's rows carry them. Runs on ``client`` if
    given, else on :func:`dask_client`.

    With ``cache`` (the default), the rows of each prediction store and each truth floor in
    a results directory are kept under ``metrics/cache/`` (:func:`dsrbench.layout.
    metric_rows_cache`) with a key: the job, the stamps (:func:`_stamp`) of the prediction
    store, the dataset store and the true runs (each dataset store stamped once, in its
    floor's key), and :func:`evaluation_fingerprint`. A store whose key still holds is read
    back (every bit: JSON keeps floats exactly) instead of scored again, so adding a method
    to a run scores only the new method's stores.
    Returns the tidy table (:data:`COLUMNS`), floors included as rows of the method
    :data:`dsrbench.references.FLOOR`.
    """
    if client is None:
        with dask_client(n_workers, scheduler_address) as own:
            return run_evaluation(jobs, client=own, progress=progress, cache=cache)
    from dask.distributed import as_completed

    fingerprint = evaluation_fingerprint() if cache else ""
    rows: list[dict] = []
    floors: dict[str, Any] = {}  # per dataset store: its floor rows, or their future
    per_store: dict[str, tuple[Path | None, Path | None, str]] = {}  # runs, results, key
    pending: list[tuple[Any, Path | None, str]] = []  # future, its cache, its key
    for job in jobs:
        key = str(job["dataset_path"])
        if key in floors:
            continue
        runs = _true_runs(key, job["dataset"], job["system"])
        results = _results_of(key) if cache else None
        path = layout.floor_rows_cache(results, job["dataset"], job["system"]) if results else None
        floor_key = _cache_key(
            fingerprint,
            store=_stamp(key),
            runs=_stamp(runs),
            long_run_length=job.get("long_run_length"),
        )
        per_store[key] = (runs, results, floor_key)
        floors[key] = _read_cached_rows(path, floor_key)
        if floors[key] is None:
            floors[key] = client.submit(
                _safe_floor,
                key,
                job.get("long_run_length"),
                job["system"],
                job["dataset"],
                runs,
                pure=False,
            )
            pending.append((floors[key], path, floor_key))
        else:
            rows.extend(floors[key])
    caches = {
        j["system"]: _lyapunov_cache(j["dataset_path"], j["system"])
        for j in jobs
        if j.get("model_lyapunov")
    }
    lyap = {
        s: client.submit(_safe_system_lyapunov, s, caches[s], pure=False) for s in sorted(caches)
    }
    reused = 0
    for job in jobs:
        dataset_path = str(job["dataset_path"])
        runs, results, floor_key = per_store[dataset_path]
        path = (
            layout.metric_rows_cache(
                results, job["dataset"], job["method"], job["system"], job.get("seed", 0)
            )
            if results
            else None
        )
        job_key = _cache_key(  # the floor's key stamps the dataset store and true runs
            fingerprint, job=job, prediction=_stamp(job["prediction_path"]), floor=floor_key
        )
        cached = _read_cached_rows(path, job_key)
        if cached is not None:
            rows.extend(cached)
            reused += 1
            continue
        fut = client.submit(
            _safe_eval,
            dataset_path,
            str(job["prediction_path"]),
            floors[dataset_path],
            job["system"],
            job["dataset"],
            job["method"],
            runs,
            pure=False,
        )
        pending.append((fut, path, job_key))
    if cache:
        log.info(
            "metric rows: %d of %d prediction stores read back from metrics/cache/, %d tasks",
            reused,
            len(jobs),
            len(pending),
        )
    cache_of = {fut.key: (path, key) for fut, path, key in pending}
    bar = tqdm(total=len(pending), desc="evaluate", disable=not progress, unit="task")
    for fut in as_completed([fut for fut, _, _ in pending]):
        result = fut.result()
        rows.extend(result)
        _write_cached_rows(*cache_of[fut.key], result)
        bar.update()
    truths = {s: f.result() for s, f in lyap.items()}
    rows.extend(_lyapunov_errors(rows, truths))
    bar.close()
    df = pd.DataFrame(rows, columns=COLUMNS)
    return df.sort_values(ROW_KEY, ignore_index=True)
