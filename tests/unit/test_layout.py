"""The results layout: one module spells every path; patterns for Snakemake, globs for the
reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsrbench import layout

R = Path("results")


def test_paths_follow_the_documented_layout():
    assert layout.dataset_record(R, "fine", "Lorenz") == R / "data/fine/Lorenz.json"
    assert layout.dataset_store(R, "fine", "Lorenz") == R / "data/fine/Lorenz.zarr"
    assert layout.dataset_summary(R) == R / "dataset_summary.csv"
    assert (
        layout.model_record(R, "fine", "var", "Lorenz", 0)
        == R / "models/fine/var/Lorenz/seed0.json"
    )
    assert layout.model_dir(R, "fine", "var", "Lorenz", 0) == R / "models/fine/var/Lorenz/seed0"
    assert (
        layout.checkpoint_dir(R, "fine", "var", "Lorenz", 2)
        == R / "checkpoints/fine/var/Lorenz/seed2"
    )
    assert (
        layout.prediction_store(R, "fine", "var", "Lorenz", 1)
        == R / "predictions/fine/var/Lorenz/seed1.zarr"
    )
    assert layout.metrics_table(R, "fine") == R / "metrics/fine.parquet"
    assert layout.merged_metrics(R) == R / "metrics.parquet"
    assert (
        layout.epoch_log(R, "fine", "var", "Lorenz", 0)
        == R / "logs/train/fine/var/Lorenz/seed0.epochs.csv"
    )
    assert (
        layout.train_log(R, "fine", "var", "Lorenz", 0)
        == R / "logs/train/fine/var/Lorenz/seed0.log"
    )
    assert layout.simulate_log(R, "fine", "Lorenz") == R / "logs/simulate/fine/Lorenz.log"
    assert layout.report_index(R) == R / "reports/index.html"


def test_wildcards_give_the_rule_patterns():
    w = ("{dataset}", "{method}", "{system}", "{seed}")
    assert str(layout.prediction_record("results", *w)) == (
        "results/predictions/{dataset}/{method}/{system}/seed{seed}.json"
    )
    assert str(layout.report_figures("results", "{page}")) == "results/reports/figures/{page}"
    # no two kinds of output share a pattern
    assert len(set(layout.TEMPLATES.values())) == len(layout.TEMPLATES)


def test_report_pages_stay_where_the_index_and_the_browser_test_expect_them():
    pages = {
        ("leaderboard", None): "reports/leaderboard.html",
        ("system", "Lorenz"): "reports/systems/Lorenz.html",
        ("method", "var"): "reports/methods/var.html",
        ("paper", "dsr"): "reports/papers/dsr.html",
    }
    for (kind, name), path in pages.items():
        page = layout.page_id(kind, name)
        assert layout.report_page(R, page) == R / path
        assert layout.page_kind(page) == (kind, name)
    assert layout.report_figures(R, "systems/Lorenz") == R / "reports/figures/systems/Lorenz"
    assert layout.report_log(R, "papers/dsr") == R / "logs/report/papers/dsr.log"
    with pytest.raises(ValueError, match="unknown report page kind 'chart'"):
        layout.page_id("chart", "x")
    with pytest.raises(ValueError, match="needs a name"):
        layout.page_id("system")
    with pytest.raises(ValueError, match="not a report page id"):
        layout.page_kind("index")


def test_find_globs_one_kind_and_parses_the_names_back(tmp_path):
    for method, system, seed in [("var", "Lorenz", 0), ("var", "Chen", 11), ("esn", "Lorenz", 0)]:
        rec = layout.model_record(tmp_path, "fine", method, system, seed)
        rec.parent.mkdir(parents=True, exist_ok=True)
        rec.write_text("{}")
        log = layout.epoch_log(tmp_path, "fine", method, system, seed)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")
    (tmp_path / "models/fine/var/Lorenz/seedX.json").write_text("{}")  # not a seed: ignored
    found = layout.find(tmp_path, "model_record", method="var")
    assert [f.names for f in found] == [
        {"dataset": "fine", "method": "var", "system": "Chen", "seed": 11},
        {"dataset": "fine", "method": "var", "system": "Lorenz", "seed": 0},
    ]
    assert found[0].path == layout.model_record(tmp_path, "fine", "var", "Chen", 11)
    assert len(layout.find(tmp_path, "epoch_log", system="Lorenz")) == 2
    assert layout.find(tmp_path, "train_log") == []  # epoch logs are not job logs
    with pytest.raises(ValueError, match="have no page"):
        layout.find(tmp_path, "model_record", page="x")
