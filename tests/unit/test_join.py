"""``dsrbench report join``: a user's own method beside a shipped run's export, without
rerunning the shipped methods (dsrbench.reports.join).

The shipped run is the export of conftest's ``tiny_run`` (Lorenz, dataset ``tiny``: truth,
persistence and the trained ``mean``). The user's run simulates the same config again
(which gives bit-identical dataset stores) and runs only the oracle and ``var`` through
the job layer, evaluated in-process as support/tiny_run.py does (a few seconds). The
leaderboard and the DSR paper page are rendered from the joined directory by papermill
(12 to 15 s a page: the e2e tier, e2e/test_join_e2e.py); the rest is the default tier (about
12 s). The runs are conftest's fixtures ``shipped``, ``user_run`` and ``joined``.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import zarr
from support.tiny_run import CONFIG, DATASET, SYSTEM, make_user_run

from dsrbench import layout
from dsrbench.cli import main
from dsrbench.pipeline.evaluate import COLUMNS as METRIC_COLUMNS
from dsrbench.reports import export, open_run
from dsrbench.reports.export import ExportError
from dsrbench.reports.join import join_run

REPO = Path(__file__).resolve().parents[2]


def _metric_rows(df: pd.DataFrame) -> pd.DataFrame:
    key = ["dataset", "system", "method", "seed", "metric", "horizon"]
    out = df[METRIC_COLUMNS].astype(object).where(df[METRIC_COLUMNS].notna(), None)
    return out.sort_values(key, na_position="first").reset_index(drop=True)


def test_the_simulation_of_the_same_config_gives_the_shipped_stores(
    tiny_run: Path, user_run: Path
) -> None:
    ours = export.store_hash(layout.dataset_store(user_run, DATASET, SYSTEM))
    assert ours == export.store_hash(layout.dataset_store(tiny_run, DATASET, SYSTEM))


def test_the_joined_table_holds_the_shipped_rows_unchanged_and_the_users_method(
    joined: Path, shipped: Path, user_run: Path, capsys: pytest.CaptureFixture
) -> None:
    table = pd.read_parquet(layout.merged_metrics(joined))
    ship = export.read_export(shipped)
    ship = ship[ship["kind"] == "metric"]
    shipped_methods = sorted(set(ship["method"]))  # floor, mean, persistence, truth
    got = table[table["method"].isin(shipped_methods)]
    pd.testing.assert_frame_equal(_metric_rows(got), _metric_rows(ship), check_dtype=False)
    # bit for bit, not only close
    a, b = _metric_rows(got)["value"].astype(float), _metric_rows(ship)["value"].astype(float)
    assert np.array_equal(a.to_numpy().view(np.int64), b.to_numpy().view(np.int64))
    ours = pd.read_parquet(layout.merged_metrics(user_run))
    pd.testing.assert_frame_equal(
        _metric_rows(table[table["method"] == "var"]), _metric_rows(ours[ours["method"] == "var"])
    )
    assert set(table["method"]) == {"floor", "mean", "persistence", "truth", "var"}
    assert list(table.columns) == list(ours.columns)
    info = json.loads((joined / "joined.json").read_text())
    assert info["export_methods"] == ["mean", "persistence"]
    assert info["run_methods"] == ["var"]
    assert info["systems_in_common"] == [[DATASET, SYSTEM]]
    assert any("1 system(s) in common: Lorenz (tiny)" in n for n in info["notes"])
    # the pages read the run's stores through the links
    assert (joined / "predictions" / DATASET / "var").is_dir()
    run = open_run(joined)
    assert run.export_only == ["mean", "persistence"]
    assert any("show this run's methods only" in n for n in run.notes)


def test_figures_from_stores_draw_the_users_methods_only(joined: Path) -> None:
    from dsrbench.reports import system as sp

    run = open_run(joined)
    tr = sp.trajectories(run, DATASET, SYSTEM, run.methods)
    assert sorted(tr.runs) == ["truth", "var"] and not tr.missing
    fig = sp.attractor_figure(run, DATASET, SYSTEM, run.methods)
    assert [ax.get_title().split("\n")[0] for ax in fig.axes] == ["truth (oracle)", "ridge VAR"]
    fig = sp.forecast_figure(run, DATASET, SYSTEM, run.methods)
    assert not fig._suptitle  # nothing "missing": the shipped methods are left out, not failed


def _user_copy(user_run: Path, tmp_path: Path) -> Path:
    out = tmp_path / "mine"
    shutil.copytree(user_run, out, symlinks=True)
    return out


def test_a_changed_horizon_is_refused_naming_the_protocol_key(
    shipped: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    cfg = copy.deepcopy(CONFIG)
    cfg["evaluation"]["horizon"] = 61
    other = make_user_run(tmp_path / "horizon61", cfg)
    with pytest.raises(ExportError, match=r"evaluation\.horizon: 60 != 61"):
        join_run(other, shipped, tmp_path / "joined")
    assert main(["report", "join", str(other), str(shipped), "--out", str(tmp_path / "j")]) == 2
    err = capsys.readouterr().err
    assert "evaluation.horizon: 60 != 61" in err and "different protocols" in err
    assert not (tmp_path / "joined").exists() and not (tmp_path / "j").exists()


def test_a_modified_dataset_store_is_refused_naming_the_store(
    user_run: Path, shipped: Path, tmp_path: Path
) -> None:
    mine = _user_copy(user_run, tmp_path)
    store = layout.dataset_store(mine, DATASET, SYSTEM)
    x = zarr.open_array(store / "x", mode="r+")
    x[0, 5, 1] = x[0, 5, 1] + 1e-9
    with pytest.raises(ExportError, match="dataset stores") as info:
        join_run(mine, shipped, tmp_path / "joined")
    assert str(store) in str(info.value)


def test_a_method_in_both_and_no_system_in_common_are_refused(
    tiny_run: Path, shipped: Path, tmp_path: Path
) -> None:
    with pytest.raises(ExportError, match=r"mean, persistence.*in both"):
        join_run(tiny_run, shipped, tmp_path / "joined")
    other = export.read_export(shipped)
    other["system"] = other["system"].astype(str).replace(SYSTEM, "Rossler")
    moved = export.write_export(other, tmp_path / "rossler.parquet")
    with pytest.raises(ExportError, match="no .* in common"):
        join_run(tiny_run, moved, tmp_path / "joined")
