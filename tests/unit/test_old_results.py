"""A results directory written by an earlier dsrbench still reads: the tiny run of
tests/tiny_run.py (now tests/support/tiny_run.py) as written at commit 4901663
(tests/fixtures/results_4901663/, before the renovation of the method, trainer, splits and
pipeline modules) exports, and its leaderboard and system page render with today's code
(e2e/test_old_results_e2e.py; the copy is conftest's ``old_run``). A later change that
cannot read it must refuse it with a message that names what to rerun, and change this test
with it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dsrbench import layout
from dsrbench.reports import export


def test_an_old_results_directory_exports_every_metric_row(old_run: Path) -> None:
    out = export.export_run(old_run)
    df = export.read_export(out)
    metrics = pd.read_parquet(layout.merged_metrics(old_run))
    rows = df[df["kind"] == "metric"]
    assert len(rows) == len(metrics) > 50
    assert (
        set(rows["method"])
        == set(metrics["method"])
        == {
            "truth",
            "floor",
            "persistence",
            "mean",
        }
    )
    key = ["system", "method", "seed", "metric", "horizon"]
    ours = rows.sort_values(key, na_position="first")["value"].to_numpy(dtype=float)
    theirs = metrics.sort_values(key, na_position="first")["value"].to_numpy(dtype=float)
    assert (pd.isna(ours) == pd.isna(theirs)).all()
    assert (ours[~pd.isna(ours)] == theirs[~pd.isna(theirs)]).all()  # bit for bit
    training = df[df["kind"] == "training"]
    assert training[["method", "status"]].values.tolist() == [["mean", "ok"]]
