"""A synthetic merged metric table (the columns of ``metrics.parquet``) for the report
tables at scale: any systems, methods and seeds, without running the pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dsrbench import layout
from dsrbench.pipeline.evaluate import COLUMNS


def row(system, method, seed, metric, value, *, floor=np.nan, dataset="tiny", horizon=np.nan):
    status = "ok" if np.isfinite(value) or method == "mean" else "diverged"
    return {
        "system": system,
        "dataset": dataset,
        "method": method,
        "seed": seed,
        "metric": metric,
        "horizon": horizon,
        "value": value,
        "floor": floor,
        "status": status,
        "reason": None if status == "ok" else "left the box",
        "n_points": 1000.0,
    }


def synthetic_metrics(
    systems: list[str], methods: list[str], seeds: list[int], *, rng_seed: int = 0
) -> pd.DataFrame:
    """D_stsp, D_H, VPT and sMAPE rows of every (system, method, seed), the truth oracle
    and the floor rows; a method's quality is a fixed per-method offset plus per-system
    difficulty plus seed noise; every 7th (system, method, seed) diverges."""
    rng = np.random.default_rng(rng_seed)
    rows = []
    k = 0
    for system in systems:
        difficulty = rng.uniform(0, 2)
        floor_stsp, floor_dh = rng.uniform(0.05, 0.5), rng.uniform(0.01, 0.05)
        rows.append(row(system, "floor", 0, "D_stsp", floor_stsp))
        rows.append(row(system, "floor", 0, "D_H", floor_dh))
        for seed in seeds:
            rows.append(row(system, "truth", seed, "vpt_nrmse", 10.0))
            rows.append(row(system, "truth", seed, "smape200", 0.0, horizon=1.0))
        for j, method in enumerate(methods):
            for seed in seeds:
                k += 1
                skill = j * 0.4 + difficulty + rng.normal(0, 0.2)
                diverged = k % 7 == 0
                stsp = np.nan if diverged else floor_stsp * np.exp(skill)
                dh = 1.0 if diverged else min(1.0, floor_dh * np.exp(skill))
                vpt = max(0.0, 6 - 2 * skill + rng.normal(0, 0.3))
                rows.append(row(system, method, seed, "D_stsp", stsp, floor=floor_stsp))
                rows.append(row(system, method, seed, "D_H", dh, floor=floor_dh))
                rows.append(row(system, method, seed, "vpt_nrmse", vpt))
                rows.append(row(system, method, seed, "smape200", 20 * skill, horizon=1.0))
    return pd.DataFrame(rows, columns=COLUMNS)


def write_results(results: Path, metrics: pd.DataFrame) -> Path:
    """``results/metrics.parquet`` holding ``metrics``."""
    path = layout.merged_metrics(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    metrics.to_parquet(path)
    return path


#: our methods in the published Gilpin 2023 order (positions 1-12), and two references
GILPIN_ORDER = (
    "nbeats",
    "nhits",
    "nvar",
    "random_forest",
    "lstm",
    "transformer",
    "node",
    "linear_regression",
    "xgboost",
    "four_theta",
    "kalman",
    "exponential_smoothing",
)
GILPIN_HORIZONS = (0.25, 0.5, 1.0, 2.0, 4.0, 10.0)
INVARIANT_METRICS = ("D_H", "lyapunov_rel_error", "D_frac", "D_stsp")


def gilpin_metrics(
    systems: list[str], methods: list[str], *, seeds=(0,), rng_seed: int = 0
) -> pd.DataFrame:
    """The rows of the Gilpin 2023 page: ``smape_fixed`` and ``smape`` (0-100),
    ``smape200`` at :data:`GILPIN_HORIZONS` (none at 10 Lyapunov times on the last system:
    its forecast is shorter) and the invariant errors, for ``methods`` whose errors grow
    with their position in the list on every system (so the mean rank is that order),
    plus the truth oracle."""
    rng = np.random.default_rng(rng_seed)
    rows = []
    for i, system in enumerate(systems):
        difficulty = np.exp(rng.uniform(-1, 1))
        for seed in seeds:
            rows.append(row(system, "truth", seed, "smape_fixed", 0.0, horizon=1.5))
            for h in GILPIN_HORIZONS:
                rows.append(row(system, "truth", seed, "smape200", 0.0, horizon=h))
        for j, method in enumerate(methods):
            for seed in seeds:
                err = (j + 1) * difficulty * (1 + 0.01 * rng.random())
                rows.append(row(system, method, seed, "smape_fixed", err, horizon=1.5))
                rows.append(row(system, method, seed, "smape", 2 * err))
                for h in GILPIN_HORIZONS:
                    if h == 10.0 and i == len(systems) - 1:
                        continue
                    rows.append(
                        row(system, method, seed, "smape200", min(200.0, err * h), horizon=h)
                    )
                for k, metric in enumerate(INVARIANT_METRICS):
                    sign = -1 if metric.startswith("lyapunov") else 1
                    rows.append(row(system, method, seed, metric, sign * err * (k + 1)))
    return pd.DataFrame(rows, columns=COLUMNS)


def write_gilpin_records(
    results: Path, systems: list[str], methods: list[str], *, dataset: str = "tiny"
) -> None:
    """Model records with ``training.json`` (fit_seconds, hyperparameters, ``tuning`` over
    a grid and ``data_limited`` at three training lengths) and prediction records with
    their inference time, for every (system, method) at seed 0."""
    import json

    for j, method in enumerate(methods):
        for i, system in enumerate(systems):
            names = {"dataset": dataset, "method": method, "system": system, "seed": 0}
            record = layout.model_record(results, **names)
            record.parent.mkdir(parents=True, exist_ok=True)
            record.write_text(json.dumps({**names, "status": "ok", "reason": None}))
            best = {"lags": 5 if i % 3 else 10, "ridge": 1e-4}
            info = {
                "fit_seconds": 0.1 * (j + 1) * (1 + i),
                "hyperparameters": best,
                "train_length": 1000,
                "tuning": {
                    "metric": "smape",
                    "grid": {"lags": [5, 10], "ridge": [1e-4, 1e-2]},
                    "scores": [{"hyperparameters": best, "score": 1.0}],
                    "best": best,
                },
                "data_limited": [
                    {"train_length": n, "smape": (j + 1) * 1000 / n, "fit_seconds": 0.01 * n}
                    for n in (100, 300, 1000)
                ],
                "refit": None,
            }
            model_dir = layout.model_dir(results, **names)
            model_dir.mkdir(parents=True, exist_ok=True)
            (model_dir / "training.json").write_text(json.dumps(info))
            pred = layout.prediction_record(results, **names)
            pred.parent.mkdir(parents=True, exist_ok=True)
            pred.write_text(
                json.dumps({**names, "status": "ok", "timing": {"predict_seconds": 0.5 + j}})
            )
