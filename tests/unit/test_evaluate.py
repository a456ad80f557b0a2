"""Predictions and evaluation end to end on real stores, with a real Dask LocalCluster."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from dsrbench.datasets import build_dataset
from dsrbench.pipeline.evaluate import run_evaluation
from dsrbench.pipeline.predict import predict, predict_to_store
from dsrbench.pipeline.train import train_to_directory
from dsrbench.stores import open_dataset, write_predictions

SETTING = {"pts_per_period": 50, "length": 800, "n_train": 2, "n_val": 0, "n_test": 2}
PREDICT = {"context_length": 50, "horizon": 200, "contexts_per_trajectory": 3}
LONG_RUN = 30_000  # D_stsp needs long runs: at T = 800 even two true orbits score ~5


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("eval")
    ds_path = root / "data" / "Lorenz.zarr"
    res = build_dataset(
        "Lorenz",
        "tiny",
        SETTING,
        seed=0,
        integration={"rtol": 1e-10, "atol": 1e-10},
        config={},
        out=ds_path,
    )
    assert res.status == "ok"
    paths = {"dataset": ds_path}
    train_to_directory("mean", ds_path, root / "models" / "mean", seed=0)  # predict never fits
    for method in ("truth", "persistence", "mean"):
        paths[method] = predict_to_store(
            method,
            ds_path,
            root / "pred" / f"{method}.zarr",
            model_dir=root / "models" / "mean" if method == "mean" else None,
            seed=0,
            long_run_length=LONG_RUN,
            **PREDICT,
        )
    # a model whose free run blows up: persistence's store with an exploding generation
    ds = open_dataset(ds_path)
    blown = predict("truth", ds, seed=0, long_run_length=LONG_RUN, **PREDICT)
    gen = blown["generated"].values.copy()
    gen[0, 20_000:] *= np.exp(np.linspace(0, 50, gen.shape[1] - 20_000))[:, None]
    blown["generated"] = (("run", "gen_time", "dim"), gen)
    blown.attrs["method"] = "exploding"
    paths["exploding"] = write_predictions(blown, root / "pred" / "exploding.zarr")
    # a sound store that does not fit the dataset: its contexts name a trajectory it lacks
    misfit = predict("truth", ds, seed=0, long_run_length=1000, **PREDICT)
    misfit["context_trajectory"] = misfit["context_trajectory"] + 99
    misfit.attrs["method"] = "misfit"
    paths["misfit"] = write_predictions(misfit, root / "pred" / "misfit.zarr")
    return paths


def _jobs(stores: dict[str, Path], methods: list[str]) -> list[dict]:
    return [
        {
            "system": "Lorenz",
            "dataset": "tiny",
            "method": m,
            "dataset_path": stores["dataset"],
            "prediction_path": stores[m],
            "long_run_length": LONG_RUN,
        }
        for m in methods
    ]


@pytest.fixture(scope="module")
def table(stores: dict[str, Path]):
    jobs = _jobs(stores, ["truth", "persistence", "mean", "exploding", "misfit"])
    return run_evaluation(jobs, n_workers=2, progress=False)


def _value(table, method: str, metric: str, horizon: float | None = None) -> float:
    sel = table[(table.method == method) & (table.metric == metric)]
    if horizon is not None:
        sel = sel[np.isclose(sel.horizon, horizon)]
    assert len(sel) == 1, (method, metric, sel)
    return float(sel.value.iloc[0])


def test_truth_scores_perfectly_on_forecasts(table) -> None:
    assert _value(table, "truth", "mse") == 0.0
    assert _value(table, "truth", "smape") == 0.0
    assert _value(table, "truth", "vpt_smape") > _value(table, "persistence", "vpt_smape")
    assert _value(table, "persistence", "mse") > 1.0


def test_truth_sits_at_the_floor_and_persistence_far_from_it(table) -> None:
    floor = _value(table, "floor", "D_stsp")
    truth = _value(table, "truth", "D_stsp")
    persistence = _value(table, "persistence", "D_stsp")
    assert np.isfinite(floor) and floor >= 0
    assert abs(truth - floor) < max(0.5 * floor, 0.5)
    assert persistence > 3 * max(floor, truth)
    assert _value(table, "persistence", "D_H") > 2 * _value(table, "truth", "D_H")
    rows = table[(table.method == "truth") & (table.metric == "D_stsp")]
    assert np.isclose(rows.floor.iloc[0], floor)
    assert rows.n_points.iloc[0] == LONG_RUN


def test_diverged_generation_is_recorded_not_raised(table) -> None:
    rows = table[(table.method == "exploding") & (table.metric.isin(["D_stsp", "D_H"]))]
    assert set(rows.status) == {"diverged"}
    assert rows.reason.str.contains("box|non-finite").all()
    assert _value(table, "exploding", "D_H") == 1.0
    assert math.isnan(_value(table, "exploding", "D_stsp"))
    # its forecasts were fine and are still scored (they are the truth's)
    assert _value(table, "exploding", "mse") == 0.0


def test_a_failing_task_names_what_failed_and_the_run_goes_on(table) -> None:
    bad = table[table.method == "misfit"]
    assert len(bad) == 1 and bad.status.iloc[0] == "error: IndexError"
    assert bad.reason.iloc[0].startswith("Lorenz / misfit / evaluate: index 10")
    assert "is out of bounds" in bad.reason.iloc[0]
    assert (table[table.method == "truth"].status == "ok").all()


def test_a_store_that_is_not_sound_stops_the_evaluation(stores: dict[str, Path]) -> None:
    """Not a result (docs/faults.md): the job stops, naming the store and the fix."""
    from dsrbench.pipeline.evaluate import _safe_eval
    from dsrbench.stores import StoreIntegrityError

    nope = stores["dataset"].parent / "nope.zarr"
    with pytest.raises(StoreIntegrityError, match=f"{nope} does not exist; build it"):
        _safe_eval(str(stores["dataset"]), str(nope), [], "Lorenz", "tiny", "missing")


def test_local_cluster_workers_are_single_threaded() -> None:
    import os

    from dsrbench.pipeline.evaluate import dask_client

    os.environ.pop("NUMBA_NUM_THREADS", None)
    before = dict(os.environ)
    with dask_client(n_workers=2) as client:
        assert dict(os.environ) == before  # numba in this process must not see a change
        envs = client.run(
            lambda: {v: os.environ.get(v) for v in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS")}
        )
    assert len(envs) == 2
    for env in envs.values():
        assert env == {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    assert dict(os.environ) == before  # the parent's environment is untouched


def test_fixed_horizon_metrics_and_the_forecast_as_long_run(stores, tmp_path) -> None:
    """Gilpin 2023's fixed-horizon task: the 17 metrics over the first ``fixed_horizon``
    steps as ``<metric>_fixed``; with no transient and T = horizon, the long run of the
    first context is its forecast."""
    from dsrbench.pipeline.evaluate import evaluate_prediction

    path = predict_to_store(
        "persistence",
        stores["dataset"],
        tmp_path / "p.zarr",
        seed=0,
        long_run_length=PREDICT["horizon"],
        long_run_transient=0,
        fixed_horizon=40,
        lyapunov_horizons=[0.5, 1.0],
        **PREDICT,
    )
    from dsrbench.stores import open_predictions

    pred = open_predictions(path)
    assert pred.attrs["generated_is_forecast"] and pred.attrs["generation_discard"] == 0
    np.testing.assert_array_equal(pred["generated"].values[0], pred["forecast"].values[0])
    rows = {
        (r["metric"], r["horizon"]): r["value"]
        for r in evaluate_prediction(stores["dataset"], path)
    }
    ds = open_dataset(stores["dataset"])
    x = ds["x"].values
    errs = []
    for i, s in zip(pred["context_trajectory"].values, pred["context_start"].values, strict=True):
        y, yhat = x[i, s : s + 40], np.repeat(x[i, s - 1 : s], 40, axis=0)
        errs.append(100 * np.mean(np.abs(y - yhat) / (np.abs(y) + np.abs(yhat))))
    fixed = {m: v for (m, _), v in rows.items() if m == "smape_fixed"}
    assert fixed["smape_fixed"] == pytest.approx(np.mean(errs), rel=1e-9)
    assert len([m for m, _ in rows if m.endswith("_fixed")]) == 17
    assert sorted(h for m, h in rows if m == "smape200") == [0.5, 1.0]


def test_the_system_exponent_is_computed_once_per_results_directory(tmp_path, monkeypatch):
    """``system_lyapunov`` with a cache computes the exponent once, writes it where
    layout.system_lyapunov says, and reads back exactly that float; a cache of another
    system or version is recomputed. (The QR integration is replaced by a counter here:
    what is tested is the caching; the exponent itself: tests/unit/test_lyapunov.py.)"""
    from types import SimpleNamespace

    from dsrbench import layout
    from dsrbench.integration import lyapunov
    from dsrbench.pipeline.evaluate import SYSTEM_LYAPUNOV_VERSION, system_lyapunov

    calls = []

    def fake(system):
        calls.append(system)
        return SimpleNamespace(value=0.9056 + 1e-13 * len(calls), value_half=0.9)

    monkeypatch.setattr(lyapunov, "system_max_lyapunov", fake)
    results = tmp_path / "results"
    store = layout.dataset_store(results, "fine", "Lorenz")
    cache = layout.system_lyapunov(layout.results_of_dataset_store(store), "Lorenz")
    assert cache == results / "truth" / "lyapunov" / "Lorenz.json"
    first = system_lyapunov("Lorenz", cache)
    assert calls == ["Lorenz"] and cache.is_file()
    assert system_lyapunov("Lorenz", cache) == first  # read back, every bit
    assert calls == ["Lorenz"]
    stale = json.loads(cache.read_text())
    cache.write_text(json.dumps({**stale, "version": SYSTEM_LYAPUNOV_VERSION + 1}))
    assert system_lyapunov("Lorenz", cache) != first and len(calls) == 2
    with pytest.raises(ValueError, match="not a dataset store"):
        layout.results_of_dataset_store(tmp_path / "Lorenz.zarr")


def test_metric_rows_are_read_back_while_their_key_holds(stores, tmp_path, monkeypatch):
    """In a results directory the evaluation caches each prediction store's rows and each
    floor (metrics/cache/) and reads them back, bit for bit, while the key holds; a
    rewritten store, other evaluation code or ``cache=False`` scores again."""
    import os
    import shutil

    import pandas as pd

    from dsrbench import layout
    from dsrbench.pipeline import evaluate as ev

    results = tmp_path / "results"
    ds = layout.dataset_store(results, "tiny", "Lorenz")
    shutil.copytree(stores["dataset"], ds)
    jobs = []
    for method in ("truth", "persistence"):
        pred = layout.prediction_store(results, "tiny", method, "Lorenz", 0)
        shutil.copytree(stores[method], pred)
        jobs.append(
            {
                "system": "Lorenz",
                "dataset": "tiny",
                "method": method,
                "seed": 0,
                "dataset_path": str(ds),
                "prediction_path": str(pred),
                "long_run_length": LONG_RUN,
            }
        )
    cached = layout.metric_rows_cache(results, "tiny", "persistence", "Lorenz", 0)

    def mark() -> None:
        """Put a value no metric gives into the cached D_H row of persistence."""
        rec = json.loads(cached.read_text())
        (row,) = [r for r in rec["rows"] if r["metric"] == "D_H"]
        row["value"] = 12345.0
        cached.write_text(json.dumps(rec))

    def marked(table) -> bool:
        return _value(table, "persistence", "D_H") == 12345.0

    with ev.dask_client(n_workers=1) as client:

        def run(**kw):
            return run_evaluation(jobs, client=client, progress=False, **kw)

        first = run()
        assert cached.is_file() and layout.floor_rows_cache(results, "tiny", "Lorenz").is_file()
        pd.testing.assert_frame_equal(run(), first)  # read back: the same table
        mark()
        assert marked(run())  # read back, not scored again
        assert not marked(run(cache=False))
        # a rewritten prediction store (any file newer) is scored again
        zattrs = next(p for p in Path(jobs[1]["prediction_path"]).rglob("*") if p.is_file())
        os.utime(zattrs, ns=(zattrs.stat().st_atime_ns, zattrs.stat().st_mtime_ns + 10**9))
        pd.testing.assert_frame_equal(run(), first)
        # so is one under other evaluation code
        mark()
        monkeypatch.setattr(ev, "evaluation_fingerprint", lambda: "other code")
        pd.testing.assert_frame_equal(run(), first)
