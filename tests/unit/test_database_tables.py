"""The database tables of a shipped run (dsrbench.reports.database), from its export alone."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dsrbench.reports.database import MIN_SYSTEMS, database_tables, write_database_tables
from dsrbench.reports.export import build_export
from dsrbench.systems import all_systems


def test_the_tables_count_what_the_export_holds(tiny_run):
    export = build_export(tiny_run)
    tables = database_tables(export)
    systems = tables["systems"]
    assert systems[["system", "simulate", "truth", "floor"]].values.tolist() == [
        ["Lorenz", "ok", "ok", "ok"]
    ]
    metrics = export[export["kind"] == "metric"]
    d_stsp = metrics[metrics["metric"] == "D_stsp"].set_index("method")["value"].astype(float)
    methods = tables["methods"].set_index("method")
    ratio = d_stsp["persistence"] / d_stsp["floor"]
    assert methods.loc["persistence", "within_2x_floor"] == f"{int(ratio <= 2)}/1"
    assert methods.loc["persistence", "within_5x_floor"] == f"{int(ratio <= 5)}/1"
    assert methods.loc["persistence", "D_stsp_median"] == d_stsp["persistence"]
    rows = metrics[metrics["method"] == "persistence"]
    assert methods.loc["persistence", "rows_ok"] == int((rows["status"] == "ok").sum())
    training = export[export["kind"] == "training"]
    stops = tables["stopped_by"]
    assert stops["models"].sum() == len(training) > 0
    work = tables["work"].set_index("method")
    for method, group in training.groupby(training["method"].astype(str)):
        assert np.isclose(work.loc[method, "train_s_total"], group["fit_seconds"].sum(), atol=0.05)
    # the failed prediction (seed 1 of persistence) has no seconds: not counted
    seeds = metrics.drop_duplicates(["system", "method", "seed"]).dropna(subset="predict_seconds")
    assert work.loc["persistence", "predictions"] == int((seeds["method"] == "persistence").sum())
    assert set(seeds.loc[seeds["method"] == "persistence", "seed"]) == {0}


def test_only_a_run_over_many_systems_gets_them_written(tiny_run, tmp_path):
    export = build_export(tiny_run)
    names = all_systems()[: MIN_SYSTEMS + 1]
    many = pd.concat([export.assign(system=name) for name in names], ignore_index=True)
    md, csv = write_database_tables(many, tmp_path, "many")
    assert pd.read_csv(csv)["system"].tolist() == names
    text = md.read_text()
    assert f"- systems: {len(names)} ({len(names)} system x dataset rows)" in text
    assert "do not edit by hand" in text
    assert write_database_tables(export, tmp_path, "many") == []
    assert not md.exists() and not csv.exists()
