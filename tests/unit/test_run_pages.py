"""Run pages under docs/results/<run>/ (dsrbench.reports.run_pages): shipped with their
export and regenerated from it alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from dsrbench import layout
from dsrbench.reports.export import read_export, write_export
from dsrbench.reports.run_pages import (
    ZEROSHOT_FIGURES,
    _zeroshot_lines,
    publish_run,
    seed_summary,
    write_figures,
    write_page,
)


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


def test_a_page_names_the_methods_whose_rows_come_from_random_weights(tiny_run, tmp_path):
    """Rows labelled ``weights=random-smoke`` (the chronos smoke run) are named under the
    header; a page without them says nothing of it. The export's ``reason`` is categorical."""
    config = tmp_path / "tiny.yaml"
    config.write_text("systems: [Lorenz]\n")
    page = publish_run(tiny_run, "tiny", command="c", configfiles=[config], docs=tmp_path)
    assert "Random weights" not in page.read_text()
    export = read_export(page.parent / "tiny.parquet")
    reason = export["reason"].astype(object)
    reason[export["method"] == "persistence"] = "weights=random-smoke"
    write_export(
        export.assign(reason=reason.astype("category")), page.parent / "tiny.parquet", run="tiny"
    )
    text = write_page(page.parent).read_text()
    assert "**Random weights:** the rows of `persistence` come from randomly" in text


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
    # where higher is better (a VPT), the seed without a value is the worst: -inf
    vpt = seed_summary(pd.DataFrame([{**r, "metric": "vpt_nrmse"} for r in rows])).iloc[0]
    assert vpt["median"] == 1.5 and vpt["q25"] == -np.inf  # of -inf, 1, 2, 3


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


def _zeroshot_export() -> pd.DataFrame:
    """A synthetic zero-shot export: two chaotic systems, two methods, two contexts, the
    horizon curve, VPT and a context-length sweep with known power laws."""
    rows = []
    for system, dim_alpha in (("Lorenz", 1.0), ("Rossler", 0.5)):
        for method, base in (("context_parroting", 10.0), ("persistence", 100.0)):
            for ctx in (0, 1):
                for h in (0.5, 1.0, 2.0):
                    rows.append(("smape200", method, system, h, np.nan, base * h + ctx))
                rows.append(("vpt_smape", method, system, np.nan, np.nan, base / 10 + ctx))
                for length in (64, 256, 1024):
                    alpha = dim_alpha if method == "context_parroting" else 0.0
                    rows.append(
                        ("smape200_context", method, system, np.nan, length, length**-alpha)
                    )
    df = pd.DataFrame(rows, columns=["metric", "method", "system", "horizon", "n_points", "value"])
    df["kind"] = "metric"
    df["dataset"] = "lyap30"
    df["seed"] = 0
    df["predict_seconds"] = np.where(df["method"] == "persistence", 2.0, 4.0)
    return df


def test_a_zero_shot_run_page_has_the_horizon_vpt_and_scaling_tables() -> None:
    """The zero-shot section: the median over systems of each system's mean over contexts,
    at each horizon; VPT; the scaling exponents' Spearman rho; the left-out systems."""
    meta = {
        "configfiles": {
            "a.yaml": "evaluation:\n  context_length: 512\n  context_splits: [train, val, test]\n"
            "datasets:\n  lyap30: {n_train: 16, n_val: 2, n_test: 2}\n",
            "b.yaml": "training:\n  refit_on: context\nreports:\n  papers: [zeroshot]\n",
        }
    }
    text = "\n".join(_zeroshot_lines(meta, _zeroshot_export()))
    # parroting at 1 LT: Lorenz mean (10, 11) = 10.5, Rossler the same -> median 10.5
    horizons = text.split("### sMAPE (0-200) at the horizon")[1]
    parrot = next(li for li in horizons.splitlines() if li.startswith("| context_parroting"))
    assert "10.5 [10.5, 10.5]" in parrot
    assert parrot.rstrip(" |").endswith("2"), parrot  # its number of systems
    assert "the 512-point context alone" in text
    assert "### Flagged systems (17 of the database)" in text and "| Torus " in text
    assert "116 unflagged systems of the database are not in this run" in text
    assert "Error against context length" in text
    # the prediction job's seconds over the 20 contexts (lyapunov.yaml's 16/2/2 splits)
    cost = text.split("### Cost per forecast")[1].split("###")[0]
    assert "| persistence       |                        0.1 |" in cost, cost
    # two systems: alpha 1.0 and 0.5, so the median alpha of parroting is 0.75
    scaling = text.split("### Error against context length")[1]
    assert "0.75" in scaling.split("| persistence")[0]
    assert _zeroshot_lines(meta, _zeroshot_export().assign(metric="D_stsp")) == []
    # a run of flagged systems only: the flags, and no summary
    flagged = _zeroshot_export()
    flagged["system"] = flagged["system"].map({"Lorenz": "Torus", "Rossler": "SprottA"})
    only = "\n".join(_zeroshot_lines(meta, flagged))
    assert "Every system of this run is flagged" in only and "### sMAPE" not in only
    # a run of another protocol has smape200 rows too, and no zero-shot section
    other = {"configfiles": {"a.yaml": meta["configfiles"]["a.yaml"]}}
    assert _zeroshot_lines(other, _zeroshot_export()) == []


def test_the_zero_shot_figures_are_written_byte_for_byte_and_only_where_linked(
    tmp_path: Path,
) -> None:
    """The page's figures (horizon curves, error against context length, the scaling
    exponents) are SVG files beside it: the same bytes from the same export, so CI's diff
    of docs/ checks them; a figure the page no longer links is removed."""
    meta = {"configfiles": {"b.yaml": "reports:\n  papers: [zeroshot]\n"}}
    export = _zeroshot_export()
    text = "\n".join(_zeroshot_lines(meta, export))
    for name in ZEROSHOT_FIGURES:
        assert f"]({name})" in text
    first = {p.name: p.read_bytes() for p in write_figures(text, export, tmp_path)}
    assert set(first) == set(ZEROSHOT_FIGURES)
    assert all(b.startswith(b"<?xml") and b"<svg" in b for b in first.values())
    again = {p.name: p.read_bytes() for p in write_figures(text, export, tmp_path)}
    assert again == first
    # the horizon figure draws one line per method: a third method changes it
    more = pd.concat([export, export[export.method == "persistence"].assign(method="nvar")])
    more_text = "\n".join(_zeroshot_lines(meta, more))
    changed = {p.name: p.read_bytes() for p in write_figures(more_text, more, tmp_path)}
    assert changed["zeroshot_horizon.svg"] != first["zeroshot_horizon.svg"]
    assert write_figures("no figures linked", export, tmp_path) == []
    assert not any((tmp_path / name).exists() for name in ZEROSHOT_FIGURES)


def test_snapshot_fractions_beside_a_page_show_with_the_trained_models(tiny_run, tmp_path):
    """A folder with floor_fractions.csv (benchmarks/tools/dsr_snapshots.py) gets the budget
    section: the snapshots' rows, the trained models' fractions computed from the export by
    the same rule, and the figure; a page without the file has no such section."""
    from dsrbench.reports.run_pages import SNAPSHOT_FIGURE, SNAPSHOT_FRACTIONS

    config = tmp_path / "tiny.yaml"
    config.write_text("systems: [Lorenz]\n")
    page = publish_run(tiny_run, "tiny", command="c", configfiles=[config], docs=tmp_path)
    assert "optimiser steps" not in page.read_text()
    pd.DataFrame(
        {
            "method": ["persistence", "persistence"],
            "step": [2000, 5000],
            "systems": [1, 1],
            "within_2x_floor": [0.0, 1.0],
            "within_5x_floor": [0.0, 1.0],
            "median_D_stsp": [3.5, 0.25],
        }
    ).to_csv(page.parent / SNAPSHOT_FRACTIONS, index=False)
    text = write_page(page.parent).read_text()
    assert "## D_stsp within k x the floor against optimiser steps" in text
    assert f"]({SNAPSHOT_FIGURE})" in text
    rows = {" ".join(line.split()) for line in text.splitlines()}
    assert "| persistence | 5000 | 1 | 1 | 1 | 0.25 |" in rows
    metrics = pd.read_parquet(layout.merged_metrics(tiny_run))
    d_stsp = metrics[metrics["metric"] == "D_stsp"].set_index("method")["value"]
    value, floor = float(d_stsp["persistence"]), float(d_stsp["floor"])
    within = [float(value <= k * floor) for k in (2, 5)]
    expected = f"| persistence | trained (best validated) | 1 | {within[0]:.3g} | {within[1]:.3g} |"
    assert expected + f" {value:.3g} |" in rows
    # persistence closes the table as the reference, by the same rule
    reference = f"| persistence | reference | 1 | {within[0]:.3g} | {within[1]:.3g} |"
    assert reference + f" {value:.3g} |" in rows
