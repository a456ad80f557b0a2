"""``dsrbench results export``: one tidy parquet per run (dsrbench.reports.export).

The run exported is conftest's ``tiny_run`` (tests/support/tiny_run.py): Lorenz, one setting, the
truth oracle, persistence and the trained ``mean`` predictor, made through the job layer
without snakemake and evaluated in-process (a few seconds).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zarr
from support.tiny_run import CONFIG, DATASET, METHODS, SYSTEM

from dsrbench import layout
from dsrbench.cli import main
from dsrbench.pipeline.evaluate import COLUMNS as METRIC_COLUMNS
from dsrbench.reports import export
from dsrbench.stores import open_dataset, write_dataset


@pytest.fixture(scope="module")
def run(tiny_run: Path) -> Path:
    return tiny_run


@pytest.fixture(scope="module")
def exported(run: Path) -> Path:
    return export.export_run(run)


def _key(df: pd.DataFrame) -> pd.DataFrame:
    cols = ["dataset", "system", "method", "seed", "metric", "horizon"]
    out = df[METRIC_COLUMNS].astype(object).where(df[METRIC_COLUMNS].notna(), None)
    return out.sort_values(cols, na_position="first").reset_index(drop=True)


def test_the_export_holds_every_metric_row_with_its_status_and_the_training_rows(
    run: Path, exported: Path
) -> None:
    assert exported == run / "export" / "tinyrun.parquet"
    assert sorted(p.name for p in exported.parent.iterdir()) == ["tinyrun.parquet"]  # atomic
    df = export.read_export(exported)
    assert list(df.columns) == export.COLUMNS
    assert set(df["kind"]) == {"metric", "training"}
    metrics = pd.read_parquet(layout.merged_metrics(run))
    rows = df[df["kind"] == "metric"]
    pd.testing.assert_frame_equal(_key(rows), _key(metrics), check_dtype=False)
    failed = rows[rows["status"] == "failed"]
    assert failed[["method", "seed", "reason"]].values.tolist() == [
        ["persistence", 1, "RuntimeError: boom"]
    ]
    assert (rows["status"] == "ok").sum() > 50
    training = df[df["kind"] == "training"]
    assert training[["method", "system", "seed", "status"]].values.tolist() == [
        ["mean", SYSTEM, 0, "ok"]
    ]
    t = training.iloc[0]
    assert t["fit_seconds"] >= 0 and t["device"] == "cpu" and t["gpu"] == "none"
    assert json.loads(t["hyperparameters"]) == {}
    # every row stands on its own: protocol, data, code, environment, flags
    for col in ["protocol_hash", "store_hash", "evaluate_commit"]:
        assert df[col].notna().all(), col
    # the commit of the row's own artefact: a failed prediction left none
    assert df["dsrbench_commit"].isna().tolist() == (df["status"] == "failed").tolist()
    assert df["protocol_hash"].nunique() == 1 and len(df["protocol_hash"].iloc[0]) == 64
    ok = rows[rows["method"] != "floor"]
    assert ok[ok["status"] != "failed"]["predict_seconds"].notna().all()
    assert df["dysts_version"].notna().all() and df["numpy_version"].notna().all()
    assert df["env_source"].str.startswith(("record", "exporter")).all()
    assert not df["zero_shot"].any() and not df["pretrained_on_dysts"].any()
    assert set(df["run"]) == {"tinyrun"}


def test_the_protocol_read_back_from_the_stores_is_the_configs(run: Path) -> None:
    from_config = export.protocol({**CONFIG, "results_dir": str(run)}, DATASET)
    assert export.run_protocol(run, DATASET) == from_config
    df = export.read_export(export.export_run(run, run.parent / "again.parquet"))
    assert set(df["protocol_hash"]) == {export.protocol_hash(from_config)}


def _hash(cfg: dict) -> str:
    return export.protocol_hash(export.protocol(cfg, DATASET, dysts_version="0.96"))


def test_the_protocol_hash_covers_what_is_measured_and_nothing_else() -> None:
    base = _hash(CONFIG)
    ev = CONFIG["evaluation"]
    same = [
        {**CONFIG, "evaluation": {**ev, "methods": [*METHODS, "var"]}},
        {**CONFIG, "evaluation": {**ev, "seeds": [0, 1, 2]}},
        {**CONFIG, "evaluation": {**ev, "hyperparameters": {"var": {"lags": 3}}}},
        {**CONFIG, "results_dir": "elsewhere", "chunking": {"systems_per_job": 1}},
        {**CONFIG, "training": {"device": "auto", "budget_seconds": 5, "threads": 4}},
        {**CONFIG, "reports": {"papers": ["dsr"]}},
        {**CONFIG, "integration": {"rtol": 1e-10, "atol": 1e-10}},  # the defaults, spelt out
    ]
    for cfg in same:
        assert _hash(cfg) == base, cfg
    setting = CONFIG["datasets"][DATASET]
    changed = [
        {**CONFIG, "evaluation": {**ev, "horizon": 61}},
        {**CONFIG, "evaluation": {**ev, "context_length": 30}},
        {**CONFIG, "evaluation": {**ev, "long_run_length": 400}},
        {**CONFIG, "evaluation": {**ev, "fixed_horizon": 20}},
        {**CONFIG, "datasets": {DATASET: {**setting, "length": 301}}},
        {**CONFIG, "integration": {"rtol": 1e-9}},
        {**CONFIG, "seed": 1},
    ]
    for cfg in changed:
        assert _hash(cfg) != base, cfg
    assert export.protocol_hash(export.protocol(CONFIG, DATASET, dysts_version="0.97")) != base


def test_a_by_system_entry_changes_that_systems_protocol_only() -> None:
    setting = CONFIG["datasets"][DATASET]
    resampled = {**setting, "by_system": {SYSTEM: {"pts_per_period": 30}}}
    cfg = {**CONFIG, "datasets": {DATASET: resampled}}

    def h(c: dict, system: str) -> str:
        return export.protocol_hash(export.protocol(c, DATASET, system, dysts_version="0.96"))

    assert h(cfg, SYSTEM) != h(CONFIG, SYSTEM)
    assert h(cfg, "Rossler") == h(CONFIG, "Rossler") == h(CONFIG, SYSTEM)


def test_the_store_hash_is_of_the_data(run: Path, tmp_path: Path) -> None:
    store = layout.dataset_store(run, DATASET, SYSTEM)
    first = export.store_hash(store)
    assert export.store_hash(store) == first
    # the same data written again by other code: same hash
    ds = open_dataset(store)
    ds.attrs["provenance"] = {**ds.attrs["provenance"], "git_revision": "another"}
    ds.attrs["config_hash"] = "0" * 16
    assert export.store_hash(write_dataset(ds, tmp_path / "again.zarr")) == first
    # one value changed: another hash
    changed = tmp_path / "changed.zarr"
    shutil.copytree(store, changed)
    x = zarr.open_array(changed / "x", mode="r+")
    x[0, 5, 1] = x[0, 5, 1] + 1e-12
    assert export.store_hash(changed) != first


def test_the_reader_upgrades_older_versions_and_refuses_newer_ones(
    run: Path, exported: Path, tmp_path: Path
) -> None:
    current = export.read_export(exported)
    # version 0: a bare metric table (no kind column, no export metadata)
    old = export.read_export(layout.merged_metrics(run))
    assert list(old.columns) == export.COLUMNS
    assert set(old["kind"]) == {"metric"} and len(old) == (current["kind"] == "metric").sum()
    # a newer version: refused, naming the file and the fix
    table = pq.read_table(exported)
    meta = dict(table.schema.metadata)
    meta[export.META_KEY] = json.dumps({"schema_version": export.SCHEMA_VERSION + 1}).encode()
    newer = tmp_path / "newer.parquet"
    pq.write_table(table.replace_schema_metadata(meta), newer)
    with pytest.raises(export.ExportError, match=r"newer.parquet.*upgrade dsrbench"):
        export.read_export(newer)


def test_the_cli_exports_and_exits_2_on_bad_input(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    missing = tmp_path / "nope"
    assert main(["results", "export", str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "does not exist" in err
    (tmp_path / "empty").mkdir()
    assert main(["results", "export", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "metrics.parquet" in err and "snakemake" in err
    out = tmp_path / "run.parquet"
    assert main(["results", "export", str(run), "--out", str(out)]) == 0
    assert len(export.read_export(out)) > 0


def test_method_flags() -> None:
    assert export.method_flags("alrnn") == {
        "zero_shot": False,
        "pretrained_on_dysts": False,
        "replication_code": True,
    }
    assert not export.method_flags("var")["replication_code"]


def _synthetic(template: pd.DataFrame, systems: int, methods: int, metrics: int, seeds: int):
    """An export-shaped table of ``systems x methods x seeds x metrics`` metric rows and one
    training row per model, its other columns copied from ``template`` (a real export)."""
    rng = np.random.default_rng(0)
    names = np.array([f"System{i:03d}" for i in range(systems)])
    meths = np.array([f"method{j:02d}" for j in range(methods)])
    mets = np.array([f"metric{k:02d}" for k in range(metrics)])
    s, m, d, k = np.meshgrid(
        np.arange(systems), np.arange(methods), np.arange(seeds), np.arange(metrics), indexing="ij"
    )
    s, m, d, k = s.ravel(), m.ravel(), d.ravel(), k.ravel()
    n = s.size
    diverged = rng.random(n) < 0.05
    rows = pd.DataFrame(
        {
            "system": pd.Categorical.from_codes(s, names),
            "method": pd.Categorical.from_codes(m, meths),
            "seed": d,
            "metric": pd.Categorical.from_codes(k, mets),
            "horizon": (k % 4).astype(float),
            "value": np.where(diverged, np.nan, rng.lognormal(size=n)),
            "floor": rng.lognormal(size=systems * metrics)[s * metrics + k],
            "status": pd.Categorical.from_codes(diverged.astype(int), ["ok", "diverged"]),
            "reason": pd.Categorical.from_codes(
                np.where(diverged, 0, -1), ["the free run left the box"]
            ),
            "n_points": 100_000.0,
            "predict_seconds": rng.lognormal(size=systems * methods * seeds)[
                (s * methods + m) * seeds + d
            ],
            "store_hash": pd.Categorical.from_codes(
                s, [f"{i:064x}" for i in rng.integers(0, 2**62, systems)]
            ),
        }
    )
    ts, tm, td = (a.ravel() for a in np.meshgrid(*map(np.arange, (systems, methods, seeds))))
    hyper = [
        json.dumps({"units": 100 * (j + 1), "lr": 1e-3, "layers": [64]}) for j in range(methods)
    ]
    training = pd.DataFrame(
        {
            "system": pd.Categorical.from_codes(ts, names),
            "method": pd.Categorical.from_codes(tm, meths),
            "seed": td,
            "status": pd.Categorical.from_codes(np.zeros(ts.size, int), ["ok", "diverged"]),
            "fit_seconds": rng.lognormal(size=ts.size),
            "epochs_run": rng.integers(1, 500, ts.size),
            "stopped_by": rng.choice(["epochs", "budget", "early_stopping"], ts.size),
            "hyperparameters": np.array(hyper)[tm],
            "store_hash": rows["store_hash"].iloc[ts * methods * seeds * metrics].to_numpy(),
        }
    )
    table = pd.concat([rows, training], ignore_index=True)
    table["kind"] = pd.Categorical.from_codes(
        np.repeat([0, 1], [len(rows), len(training)]), ["metric", "training"]
    )
    first = template.iloc[0]
    for col in [*template.columns, "dataset"]:
        value = "default" if col == "dataset" else first[col]
        if col in table and col != "dataset":
            continue
        if isinstance(value, str):  # one category: as the exporter's own columns are
            table[col] = pd.Categorical.from_codes(np.zeros(len(table), int), [value])
        else:
            table[col] = value
    return table


def test_a_135_system_export_stays_under_10_mb(exported: Path, tmp_path: Path) -> None:
    template = export.read_export(exported)
    table = _synthetic(template, systems=135, methods=25, metrics=50, seeds=3)
    assert len(table) > 500_000
    out = export.write_export(table, tmp_path / "big.parquet", run="big")
    size = out.stat().st_size
    print(f"135 systems x 25 methods x 3 seeds x 50 metrics: {len(table)} rows, {size} bytes")
    assert size < 10 * 2**20
    back = pq.read_table(out)
    assert back.num_rows == len(table)
    assert pa.types.is_dictionary(back.schema.field("system").type)


def test_the_alrnn_symbolic_code_joins_the_export_as_metric_rows(run: Path, tmp_path: Path) -> None:
    """The AL-RNN's visited subregions (its saved symbolic_code.json, which the evaluation
    does not score) reach the export as ``subregions_visited`` metric rows."""
    copy = tmp_path / "tinyrun"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("export"))
    # the tiny run trains `mean`; its model stands in for an AL-RNN that saved a code
    models = copy / "models" / DATASET
    shutil.copytree(models / "mean", models / "alrnn")
    record = layout.model_record(copy, DATASET, "alrnn", SYSTEM, 0)
    codes = ["01", "11", "10"]
    code = {"codes": codes, "frequencies": [0.5, 0.3, 0.2]}
    (layout.model_dir(copy, DATASET, "alrnn", SYSTEM, 0) / "symbolic_code.json").write_text(
        json.dumps(code)
    )
    assert record.is_file()
    df = export.read_export(export.export_run(copy))
    rows = df[(df["kind"] == "metric") & (df["metric"] == "subregions_visited")]
    assert rows[["method", "system", "seed", "value", "status"]].values.tolist() == [
        ["alrnn", SYSTEM, 0, float(len(codes)), "ok"]
    ]
    assert rows["protocol_hash"].notna().all()
    # a run without symbolic codes has no such rows
    plain = export.read_export(export.export_run(run, tmp_path / "plain.parquet"))
    assert not (plain["metric"] == "subregions_visited").any()
