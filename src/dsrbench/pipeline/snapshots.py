"""Score the weights a latent RNN saved at given optimiser steps (``training.snapshot_steps``).

The DSR database question, "does the budget or the method limit reconstruction?", needs the
same model at several budgets. Training saves each model's weights after the listed
optimiser steps (:func:`dsrbench.layout.snapshot_file`); here each snapshot is run freely
exactly as the prediction job ran the trained model (the same first test context, the same
``(1 + transient) T`` steps with the same first steps dropped, the same true run) and
scored with the long-term metrics of the evaluation (D_stsp, D_H), beside the floor of the
run's metrics table. The trained model itself (the best-validated weights) is the row
``step = "trained"`` of the metrics table, not re-scored here.

Lives in the job layer: it loads trained models and re-runs their free runs.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from dsrbench import layout, stores
from dsrbench.methods import get as get_method
from dsrbench.metrics.attractor import long_term_metrics
from dsrbench.references import FLOOR
from dsrbench.truth import TrueRuns, pool_scale, true_run

__all__ = [
    "SNAPSHOT_COLUMNS",
    "floor_fractions",
    "metric_fractions",
    "score_snapshot",
    "score_snapshots",
]

SNAPSHOT_COLUMNS = [
    "dataset",
    "method",
    "system",
    "seed",
    "step",
    "D_stsp",
    "D_H",
    "status",
    "reason",
    "floor_D_stsp",
    "n_points",
]


def score_snapshot(
    results: Path,
    dataset: str,
    method: str,
    system: str,
    seed: int,
    step: int,
    truths: dict | None = None,
) -> dict[str, Any]:
    """D_stsp and D_H of one model's weights after optimiser ``step`` (see module doc).
    ``truths``: a dict that keeps the last true run, shared by the calls of one system (the
    run is the same for every method and step; the results directory's long true runs are
    read when it has them)."""
    model_dir = layout.model_dir(results, dataset, method, system, seed)
    model = get_method(method).load(model_dir)
    directory = layout.snapshot_dir(results, dataset, method, system, seed)
    with np.load(layout.snapshot_file(directory, step)) as z:
        arrays = {k: z[k] for k in z.files}
    model.weights_ = {k[2:]: v for k, v in arrays.items() if k.startswith("w_")}
    ds = stores.open_dataset(layout.dataset_store(results, dataset, system))
    pred = stores.open_predictions(layout.prediction_store(results, dataset, method, system, seed))
    traj, start = int(pred["context_trajectory"].values[0]), int(pred["context_start"].values[0])
    context_length = int(pred.attrs["context_length"])
    length, discard = int(pred.attrs["long_run_length"]), int(pred.attrs["generation_discard"])
    first = np.asarray(ds["x"].values[traj : traj + 1, start - context_length : start])
    with np.errstate(all="ignore"):
        generated = np.asarray(model.generate(first, length + discard), dtype=np.float64)
    key = (str(results), dataset, system, traj, length, seed)
    truth = (truths or {}).get(key)
    if truth is None:
        runs_file = layout.true_runs(results, dataset, system)
        runs = TrueRuns.load(runs_file if runs_file.is_file() else None)
        truth = true_run(ds, traj, length, seed=seed, runs=runs)
        if truths is not None:
            truths.clear()  # one system's run at a time
            truths[key] = truth
    dt = float(ds["time"].values[1] - ds["time"].values[0])
    res = long_term_metrics(
        truth.x, generated[0, discard:], dt=dt, lyapunov=False, seed=seed, scale=pool_scale(ds)
    )
    return {
        "dataset": dataset,
        "method": method,
        "system": system,
        "seed": int(seed),
        "step": int(step),
        "D_stsp": float(res["D_stsp"]) if res["D_stsp"] is not None else math.nan,
        "D_H": float(res["D_H"]) if res["D_H"] is not None else math.nan,
        "status": str(res["status"]),
        "reason": res.get("reason"),
        "n_points": res.get("n_points"),
    }


def score_snapshots(results: str | Path, *, progress: bool = False) -> pd.DataFrame:
    """Every saved snapshot of a results directory scored (:func:`score_snapshot`), with the
    floor's D_stsp of its (dataset, system) from the run's metrics table; a snapshot that
    cannot be scored (no prediction of its model, say) gets ``status = "failed"``."""
    results = Path(results)
    floors = _floors(results)
    rows = []
    found = layout.find(results, "snapshot_dir")
    files = sorted(  # by system, so that its true run is integrated once
        [
            (f.names, int(p.stem[len("step") :]))
            for f in found
            for p in sorted(Path(f.path).glob("step*.npz"))
        ],
        key=lambda item: (
            str(item[0]["dataset"]),
            str(item[0]["system"]),
            int(item[0]["seed"]),
            str(item[0]["method"]),
            item[1],
        ),
    )
    truths: dict = {}
    if progress:
        files = tqdm(files, desc="snapshots", unit="model")
    for names, step in files:
        dataset, method = str(names["dataset"]), str(names["method"])
        system, seed = str(names["system"]), int(names["seed"])
        try:
            row = score_snapshot(results, dataset, method, system, seed, step, truths)
        except Exception as exc:  # recorded, never a crash of the report
            row = {
                "dataset": dataset,
                "method": method,
                "system": system,
                "seed": seed,
                "step": step,
                "D_stsp": math.nan,
                "D_H": math.nan,
                "status": "failed",
                "reason": f"{type(exc).__name__}: {exc}",
                "n_points": None,
            }
        row["floor_D_stsp"] = floors.get((dataset, system), math.nan)
        rows.append(row)
    return pd.DataFrame(rows, columns=SNAPSHOT_COLUMNS)


def _floors(results: Path) -> dict[tuple[str, str], float]:
    path = layout.merged_metrics(results)
    if not path.is_file():
        return {}
    m = pd.read_parquet(path)
    m = m[(m["method"] == FLOOR) & (m["metric"] == "D_stsp")]
    return {(str(r.dataset), str(r.system)): float(r.value) for r in m.itertuples()}


def floor_fractions(scores: pd.DataFrame, factors: tuple[float, ...] = (2.0, 5.0)) -> pd.DataFrame:
    """Per (method, step): the number of systems and the fraction whose D_stsp lies within
    each factor of the floor (a diverged or failed snapshot counts, as not within)."""
    rows = []
    for (method, step), g in scores.groupby(["method", "step"], sort=True):
        ok = g["status"].eq("ok") & np.isfinite(g["D_stsp"]) & np.isfinite(g["floor_D_stsp"])
        row: dict[str, Any] = {"method": method, "step": step}
        row["systems"] = int(g["system"].nunique())
        for f in factors:
            within = ok & (g["D_stsp"] <= f * g["floor_D_stsp"])
            row[f"within_{f:g}x_floor"] = float(within.sum() / len(g)) if len(g) else math.nan
        row["median_D_stsp"] = float(g.loc[ok, "D_stsp"].median()) if ok.any() else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def metric_fractions(metrics: pd.DataFrame, methods: list[str], step: object) -> pd.DataFrame:
    """:func:`floor_fractions` of the trained models (or a reference such as persistence) of
    ``methods`` from a metric table (``metrics.parquet`` or an export's metric rows: their
    D_stsp rows and the floor's), each row labelled ``step``."""
    d_stsp = metrics[metrics["metric"].astype(str) == "D_stsp"]
    floors = d_stsp[d_stsp["method"].astype(str) == FLOOR].set_index(["dataset", "system"])
    rows = d_stsp[d_stsp["method"].astype(str).isin(methods)]
    scores = pd.DataFrame(
        {
            "method": rows["method"].astype(str).to_numpy(),
            "step": 0,
            "system": rows["system"].astype(str).to_numpy(),
            "D_stsp": rows["value"].to_numpy(dtype=float),
            "status": rows["status"].astype(str).to_numpy(),
            "floor_D_stsp": [
                float(floors["value"].get((d, s), np.nan))
                for d, s in zip(rows["dataset"], rows["system"], strict=True)
            ],
        }
    )
    if scores.empty:
        return pd.DataFrame(columns=["method", "step", "systems"])
    return floor_fractions(scores).assign(step=step)
