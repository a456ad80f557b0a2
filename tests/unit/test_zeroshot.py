"""The zero-shot protocol (Zhang & Gilpin 2025; configs/zeroshot.yaml stacked on
configs/lyapunov.yaml) through the job layer, on a real Lorenz dataset at 30 points per
Lyapunov time: contexts on every initial condition, methods that need no fit forecast from
the context alone, trained baselines fitted once per context on that context alone (one
record each), the context-length sweep, and the config checks around them. The stack run by
snakemake is in e2e/test_zeroshot_e2e.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from support.shipped_configs import stack, stacked_config
from support.zeroshot import CONFIG, DATASET, SYSTEM

from dsrbench import layout, stores
from dsrbench.methods import get
from dsrbench.pipeline.config import ConfigError, load_config
from dsrbench.pipeline.evaluate import steps_per_lyapunov_time
from dsrbench.pipeline.plan import data_seen, fits_on_context, train_slice
from dsrbench.splits import cut, protocol_contexts
from dsrbench.systems import all_systems, lyapunov_time_flag

ROOT = Path(__file__).resolve().parents[2]


def test_zeroshot_config_extends_the_lyapunov_setting_after_the_chronos_script() -> None:
    cfg = load_config(stacked_config(*stack("zeroshot.yaml")))
    base = yaml.safe_load((ROOT / "configs/lyapunov.yaml").read_text())["datasets"]["lyap30"]
    (setting,) = cfg["datasets"].values()
    # one place defines the granularity: only the length differs from lyapunov.yaml
    assert {k: v for k, v in setting.items() if k != "length"} == {
        **{k: v for k, v in base.items() if k != "length"},
        "observation_noise": 0,
        "dynamical_noise": 0,
    }
    assert setting["pts_per_period"] == 30 and setting["timescale"] == "lyapunov"
    assert setting["n_train"] + setting["n_val"] + setting["n_test"] == 20
    assert "datasets" not in yaml.safe_load((ROOT / "configs/zeroshot.yaml").read_text()) or (
        set(yaml.safe_load((ROOT / "configs/zeroshot.yaml").read_text())["datasets"]["lyap30"])
        == {"length"}
    )
    ev = cfg["evaluation"]
    assert (ev["context_length"], ev["horizon"], ev["contexts_per_trajectory"]) == (512, 300, 1)
    assert ev["context_splits"] == ["train", "val", "test"]
    assert max(ev["context_lengths"]) + ev["horizon"] <= setting["length"]
    assert cfg["systems"] == "all" and len(all_systems()) == 135
    seen = {m: data_seen(cfg, m) for m in ev["methods"]}
    assert seen["context_parroting"] == "the 512-point context alone"
    assert seen["nvar"] == "fitted on each 512-point context alone"
    assert all(fits_on_context(cfg, m) for m in ("linear_regression", "nvar", "tide"))


def test_a_method_trained_on_the_training_split_cannot_forecast_from_it() -> None:
    bad = json.loads(json.dumps(CONFIG))
    bad["training"]["refit_on"] = "train"
    with pytest.raises(ConfigError, match="linear_regression would be trained on.*refit_on"):
        load_config(bad)
    bad["evaluation"]["context_splits"] = ["test"]
    load_config(bad)  # the ordinary protocol
    bad = json.loads(json.dumps(CONFIG))
    bad["training"]["tune"] = True
    with pytest.raises(ConfigError, match="training.tune' cannot go with training.refit_on"):
        load_config(bad)
    bad = json.loads(json.dumps(CONFIG))
    bad["evaluation"]["context_lengths"] = [200]
    with pytest.raises(ConfigError, match="context_lengths' \\+ 'evaluation.horizon' = 240"):
        load_config(bad)


def test_nonchaotic_and_aliased_systems_are_flagged_with_their_reason() -> None:
    flags = {n: lyapunov_time_flag(n, 30) for n in all_systems()}
    out = {n: f.reason for n, f in flags.items() if not f.chaotic}
    assert len(out) == 17
    assert "not chaotic" in out["Torus"] and "aliased" in out["Torus"]
    # NoseHoover is chaotic, but 30 points per Lyapunov time sample its period 1.84 times
    assert out["NoseHoover"].startswith("aliased: 30 points per Lyapunov time give 1.84")
    assert flags["Lorenz"].chaotic and "Lorenz" not in out
    assert lyapunov_time_flag("NoseHoover", 60).chaotic  # 3.7 points per period


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from support.tiny_run import make_run

    return make_run(tmp_path_factory.mktemp("zeroshot") / "results", CONFIG)


def test_every_initial_condition_holds_a_context_ending_where_the_longest_fits(run) -> None:
    ds = stores.open_dataset(layout.dataset_store(run, DATASET, SYSTEM))
    pred = stores.open_predictions(
        layout.prediction_store(run, DATASET, "context_parroting", SYSTEM, 0)
    )
    assert list(pred["context_trajectory"].values) == [0, 1, 2, 3]  # train, train, val, test
    assert set(pred["context_start"].values) == {120}  # 120 points fit before, 40 after
    # the forecast is parroting of the last 60 points alone (no fit, nothing else seen)
    x = ds["x"].values
    direct = get("context_parroting")(embedding_dim=3).forecast(x[:, 60:120], 40)
    np.testing.assert_array_equal(pred["forecast"].values, direct)
    # the sweep: the last L points before the same start
    assert list(pred["sweep_length"].values) == [20, 60, 120]
    np.testing.assert_array_equal(pred["sweep_forecast"].values[1], direct)
    short = get("context_parroting")(embedding_dim=3).forecast(x[:, 100:120], 40)
    np.testing.assert_array_equal(pred["sweep_forecast"].values[0], short)


def test_trained_baselines_are_fitted_once_per_context_on_it_alone(run) -> None:
    record = json.loads(
        layout.model_record(run, DATASET, "linear_regression", SYSTEM, 0).read_text()
    )
    assert record["status"] == "ok" and record["refit"]["on"] == "context"
    assert [c["trajectory"] for c in record["contexts"]] == [0, 1, 2, 3]
    assert all(c["status"] == "ok" and c["start"] == 120 for c in record["contexts"])
    model_dir = Path(record["model_path"])
    ds = stores.open_dataset(layout.dataset_store(run, DATASET, SYSTEM))
    pred = stores.open_predictions(
        layout.prediction_store(run, DATASET, "linear_regression", SYSTEM, 0)
    )
    assert pred.attrs["fit_on_context"] and "sweep_forecast" not in pred
    for k in range(4):
        own = json.loads((model_dir / f"context{k:03d}" / "training.json").read_text())
        assert (own["system"], own["context"], own["trajectory"]) == (SYSTEM, k, k)
        # the same fit, made here on the context's 60 points alone, forecasts the same
        window = cut(ds.isel(trajectory=[k]), 60, 120, rescale=True)
        model = get("linear_regression")().fit(window, None, seed=0)
        ctx = ds["x"].values[k : k + 1, 60:120]
        np.testing.assert_allclose(
            pred["forecast"].values[k], model.forecast(ctx, 40)[0], rtol=1e-10, atol=1e-10
        )
    # a model fitted on another context forecasts differently: the fits are per context
    other = get("linear_regression").load(model_dir / "context001")
    assert not np.allclose(
        other.forecast(ds["x"].values[:1, 60:120], 40)[0], pred["forecast"].values[0]
    )


def test_the_sweep_and_horizon_curve_are_scored(run) -> None:
    table = pd.read_parquet(layout.merged_metrics(run))
    sweep = table[(table.metric == "smape200_context") & (table.method == "context_parroting")]
    assert sorted(sweep.n_points) == [20, 60, 120]
    # the horizon column holds the forecast's length (40 steps), not the context length
    full = table[(table.metric == "smape") & (table.method == "context_parroting")].horizon
    assert set(sweep.horizon) == set(full) and len(set(full)) == 1
    assert sweep.value.between(0, 200).all()
    assert table[(table.metric == "smape200_context") & (table.method != "context_parroting")].empty
    curve = table[(table.metric == "smape200") & (table.method == "linear_regression")]
    assert sorted(curve.horizon) == [0.5, 1.0]
    truth = table[(table.metric == "vpt_smape") & (table.method == "truth")].value.iloc[0]
    ds = stores.open_dataset(layout.dataset_store(run, DATASET, SYSTEM))
    # the oracle is valid over the whole horizon: 40 steps at about 30 per Lyapunov time
    assert truth == pytest.approx(40 / steps_per_lyapunov_time(ds)) and 1.3 < truth < 1.4


def test_contexts_of_the_train_slice_are_those_of_the_prediction(run) -> None:
    cfg = load_config({**CONFIG, "results_dir": str(run)})
    contexts = train_slice(cfg, "linear_regression", SYSTEM)["contexts"]
    ds = stores.open_dataset(layout.dataset_store(run, DATASET, SYSTEM))
    traj, start = protocol_contexts(ds, contexts)
    pred = stores.open_predictions(
        layout.prediction_store(run, DATASET, "linear_regression", SYSTEM, 0)
    )
    np.testing.assert_array_equal(traj, pred["context_trajectory"].values)
    np.testing.assert_array_equal(start, pred["context_start"].values)


def test_the_zeroshot_page_tables_on_the_tiny_run(run) -> None:
    from dsrbench.reports import open_run
    from dsrbench.reports import zeroshot as zs

    r = open_run(run)
    seen = zs.data_seen_table(r).set_index("method")["data seen"]
    assert seen.str.contains("60-point context alone").sum() == 2  # parroting, regression
    assert zs.flagged_systems(r).empty and zs.scored_systems(r) == [SYSTEM]
    vpt = zs.vpt_table(r)
    assert (vpt["n"] == 1).all() and len(vpt) == 3
    scaling = zs.context_scaling(r)
    assert list(scaling.method) == ["context_parroting"] and scaling.lengths.iloc[0] == 3
    # the exponent is the log-log slope of the three sweep rows
    t = r.metrics[r.metrics.metric == "smape200_context"].sort_values("n_points")
    slope = np.polyfit(np.log(t.n_points.astype(float)), np.log(t.value), 1)[0]
    assert scaling.alpha.iloc[0] == pytest.approx(-slope)
    assert scaling.correlation_dimension.iloc[0] == pytest.approx(1.9939, abs=1e-3)
    cost = zs.cost_table(r).set_index("method")
    assert (cost["contexts per system"] == 4).all()
    assert cost["fit s per forecast"].notna().all()
    assert zs.horizon_figure(r) is not None
