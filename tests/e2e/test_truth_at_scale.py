"""The truth never fails: for every one of the 135 systems, the ``truth`` reference and the
truth floor have status ok (no integration gap, no "diverged" true trajectory), at the
gilpin2023 granularity (100 points per dominant period, burn-in 1000, rtol = atol = 1e-10).

The sweep uses short trajectories and a short long-run length T (longer than the stored
trajectories, so the true runs are re-integrated); the two systems of the user report run at
the full gilpin2023 setting, and StickSlipOscillator at the coarse granularity of full.yaml
(15 points per period), where the dataset itself needs a fallback.
benchmarks/accuracy/systems_at_scale.py runs the sweep at T = 20 000 (docs/systems_at_scale.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dsrbench.datasets import build_dataset
from dsrbench.pipeline.evaluate import LONG_TERM, evaluate_prediction, truth_floor
from dsrbench.pipeline.predict import predict_to_store
from dsrbench.stores import open_dataset, open_predictions
from dsrbench.systems import all_systems

GILPIN = {
    "pts_per_period": 100,
    "timescale": "fourier",
    "n_train": 1,
    "n_val": 1,
    "n_test": 1,
    "burn_in": 1000,
}
TOL = {"rtol": 1e-10, "atol": 1e-10}


def _truth_and_floor(
    name: str, tmp: Path, length: int, T: int, context: int = 100, pts: int = 100
) -> dict:
    res = build_dataset(
        name,
        "gilpin",
        {**GILPIN, "length": length, "pts_per_period": pts},
        seed=0,
        integration=TOL,
        config={},
        out=tmp / "ds",
    )
    assert res.status == "ok", res.reason
    floor = truth_floor(res.path, T)
    pred = predict_to_store(
        "truth",
        res.path,
        tmp / "pred",
        context_length=context,
        horizon=length - context,
        contexts_per_trajectory=1,
        long_run_length=T,
    )
    rows = evaluate_prediction(res.path, pred, floor)
    return {
        "floor": floor,
        "truth": rows,
        "pred": open_predictions(pred),
        "dataset": open_dataset(res.path),
    }


def _assert_ok(rows: list[dict], name: str) -> None:
    bad = [(r["metric"], r["status"], r["reason"]) for r in rows if r["status"] != "ok"]
    assert not bad, f"{name}: {bad}"
    long_term = {r["metric"]: r["value"] for r in rows if r["metric"] in LONG_TERM}
    assert set(long_term) == set(LONG_TERM)
    assert np.isfinite(long_term["D_H"]) and long_term["D_H"] < 1


@pytest.mark.parametrize("name", all_systems())
def test_truth_and_floor_are_ok_for_every_system(name: str, tmp_path: Path) -> None:
    out = _truth_and_floor(name, tmp_path, length=300, T=800)
    _assert_ok(out["floor"], f"{name} floor")
    _assert_ok(out["truth"], f"{name} truth")


def test_stick_slip_long_run_falls_back_and_names_the_fallback(tmp_path: Path) -> None:
    # user report: at rtol = 1e-10 DOP853 stalls on the discontinuous friction law and Radau
    # fails ("Required step size is less than spacing between numbers") over T = 20 000
    out = _truth_and_floor("StickSlipOscillator", tmp_path, length=5100, T=20000)
    _assert_ok(out["floor"], "floor")
    _assert_ok(out["truth"], "truth")
    assert all("fallback dop853 rtol=atol=1e-09" in r["reason"] for r in out["floor"])
    assert out["pred"].attrs["integration_fallback"] == "dop853 rtol=atol=1e-09"


def test_pan_xu_zhou_equilibrium_truth_is_not_diverged(tmp_path: Path) -> None:
    # user report: the default orbit settles on a stable equilibrium, so the truth's extent
    # is ~0 and a 10 x extent box flagged the true runs as diverged at index 0
    out = _truth_and_floor("PanXuZhou", tmp_path, length=5100, T=20000)
    _assert_ok(out["floor"], "floor")
    _assert_ok(out["truth"], "truth")


def test_stick_slip_coarse_dataset_falls_back_and_records_it(tmp_path: Path) -> None:
    # at 15 points per period (full.yaml "coarse") even the pool trajectory stalls at 1e-10
    out = _truth_and_floor("StickSlipOscillator", tmp_path, length=1200, T=2000, pts=15)
    used = out["dataset"].attrs["generation"]["integration_fallback"]
    assert used.get("pool", "").startswith("dop853 rtol=atol=")
    _assert_ok(out["floor"], "floor")
    _assert_ok(out["truth"], "truth")
