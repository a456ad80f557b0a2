"""Run pages under docs/results/<run>/ (dsrbench.reports.run_pages): shipped with their
export and regenerated from it alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import yaml

from dsrbench import layout
from dsrbench.reports.export import read_export
from dsrbench.reports.run_pages import publish_run, seed_summary, write_page


def test_a_published_run_ships_its_export_command_config_and_a_page(tiny_run, tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text("systems: [Lorenz]\n")
    page = publish_run(
        tiny_run,
        "tiny",
        command="snakemake --cores 2 --configfile tiny.yaml",
        configfiles=[config],
        docs=tmp_path / "results",
        notes="A tiny run for the tests.",
    )
    folder = page.parent
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "run.yaml", "tiny.parquet"]
    meta = yaml.safe_load((folder / "run.yaml").read_text())
    assert meta["command"] == "snakemake --cores 2 --configfile tiny.yaml"
    assert meta["configfiles"] == {str(config): "systems: [Lorenz]\n"}
    export = read_export(folder / "tiny.parquet")
    assert meta["commits"] == sorted({c for c in export["dsrbench_commit"].dropna() if c})
    text = page.read_text()
    for needle in ("snakemake --cores 2 --configfile tiny.yaml", "A tiny run", "systems: [Lorenz]"):
        assert needle in text
    metrics = pd.read_parquet(layout.merged_metrics(tiny_run))
    d_stsp = metrics[(metrics["method"] == "persistence") & (metrics["metric"] == "D_stsp")]
    assert f"{float(d_stsp['value'].iloc[0]):.3g}" in text
    # the page is a function of run.yaml and the parquet alone
    page.write_text("edited by hand\n")
    assert write_page(folder).read_text() == text


def test_a_failed_seed_counts_as_inf_in_the_seed_summary() -> None:
    rows = [
        {
            "dataset": "d",
            "system": "S",
            "method": "m",
            "metric": "D_stsp",
            "value": v,
            "status": s,
            "floor": 0.1,
        }
        for v, s in ((1.0, "ok"), (2.0, "ok"), (3.0, "ok"), (np.nan, "diverged"))
    ]
    out = seed_summary(pd.DataFrame(rows)).iloc[0]
    assert out["seeds"] == 4 and out["diverged"] == 1
    assert out["median"] == 2.5  # of 1, 2, 3, inf
    assert out["q75"] == np.inf
    one = seed_summary(pd.DataFrame(rows[3:])).iloc[0]  # a lone diverged seed
    assert one["median"] == one["q25"] == np.inf
    assert out["floor"] == 0.1


def test_a_page_sets_the_published_numbers_of_its_papers_beside_the_run(tiny_run, tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text("systems: [Lorenz]\n")
    page = publish_run(
        tiny_run,
        "tiny",
        command="snakemake",
        configfiles=[config],
        docs=tmp_path / "results",
        papers=["reference range"],
    )
    text = page.read_text()
    assert "## Published numbers beside this run" in text
    # the tiny run has no 'dsr' setting: every reference-range row is stated as not run
    section = text.split("## Published numbers beside this run")[1].split("## Config")[0]
    detail = section.split("| paper ")[-1]  # the row table comes after the counts
    rows = [line for line in detail.splitlines() if line.startswith("| reference range")]
    assert rows and all("| not run " in line for line in rows)
    assert yaml.safe_load((page.parent / "run.yaml").read_text())["papers"] == ["reference range"]
