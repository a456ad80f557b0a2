"""A results directory written by an earlier dsrbench still reads: the tiny run of
tests/tiny_run.py as written at commit 4901663 (tests/fixtures/results_4901663/, before the
renovation of the method, trainer, splits and pipeline modules) exports, and its leaderboard
and system page render with today's code. A later change that cannot read it must refuse
it with a message that names what to rerun, and change this test with it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from dsrbench import layout
from dsrbench.reports import export
from dsrbench.reports.render import render

FIXTURE = Path(__file__).parent / "fixtures" / "results_4901663"
TEMPLATES = Path(__file__).resolve().parents[1] / "reports"


@pytest.fixture()
def old_run(tmp_path: Path) -> Path:
    """A copy of the fixture (its records name paths relative to the fixture folder, so
    the copy keeps that folder's shape and the pages run from it)."""
    shutil.copytree(FIXTURE, tmp_path / "old")
    return tmp_path / "old" / "results"


def test_an_old_results_directory_exports_every_metric_row(old_run: Path) -> None:
    out = export.export_run(old_run)
    df = export.read_export(out)
    metrics = pd.read_parquet(layout.merged_metrics(old_run))
    rows = df[df["kind"] == "metric"]
    assert len(rows) == len(metrics) > 50
    assert set(rows["method"]) == set(metrics["method"]) == {
        "truth",
        "floor",
        "persistence",
        "mean",
    }
    key = ["system", "method", "seed", "metric", "horizon"]
    ours = rows.sort_values(key, na_position="first")["value"].to_numpy(dtype=float)
    theirs = metrics.sort_values(key, na_position="first")["value"].to_numpy(dtype=float)
    assert (pd.isna(ours) == pd.isna(theirs)).all()
    assert (ours[~pd.isna(ours)] == theirs[~pd.isna(theirs)]).all()  # bit for bit
    training = df[df["kind"] == "training"]
    assert training[["method", "status"]].values.tolist() == [["mean", "ok"]]


@pytest.mark.e2e  # two papermill executions, about 30 s
@pytest.mark.parametrize(
    "template, parameters",
    [("leaderboard.ipynb", {}), ("system.ipynb", {"system": "Lorenz"})],
)
def test_an_old_results_directory_renders_its_pages(
    old_run: Path, template: str, parameters: dict
) -> None:
    html = render(
        TEMPLATES / template,
        old_run / "reports" / template.replace(".ipynb", ".html"),
        {"results_dir": "results", **parameters},
        cwd=old_run.parent,
    )
    text = html.read_text()
    assert "persistence" in text and "mean" in text
    assert "Traceback" not in text
