"""The table of published numbers (dsrbench.reports.published.published_table) and the Gilpin
2023 per-system sMAPE it reads, recomputed from the authors' shipped trajectories."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support import TESTS

from dsrbench.metrics import smape
from dsrbench.reports.published import (
    DSR_PUBLISHED,
    GILPIN2023_TRAINING_SECONDS,
    PHYXMAMBA_PUBLISHED,
    PUBLISHED_COLUMNS,
    gilpin2023_per_system,
    published_table,
)

TRAJECTORIES = TESTS / "data" / "gilpin2023_multivariate_trajectories.npz"
MULTIVARIATE = {"ESN": 133, "NVAR": 133, "NODE": 131}
#: where our sMAPE (eps = 1e-10 in the denominator, as dysts 0.96) and theirs (cc777ed's
#: dysts.metrics.smape: no eps) differ by more than 1e-6: |y| + |yhat| is about 1e-5 and 2e-7
#: at one point of these forecasts, and the eps alone accounts for the difference
EPS_SENSITIVE = {("ESN", "ItikBanksTumor"), ("NODE", "LiuChen")}


@pytest.fixture(scope="module")
def per_system() -> pd.DataFrame:
    return gilpin2023_per_system()


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return published_table()


def test_smape_recomputed_from_the_published_trajectories(per_system: pd.DataFrame) -> None:
    """Their sMAPE (0-200) is 200 mean(|y - yhat| / (|y| + |yhat|)) over all 200 forecast steps
    and all dimensions (benchmarks/*_benchmarks.py at cc777ed call dysts.metrics.smape on the
    whole (200, D) arrays); ours with scale 100 must give half of it."""
    pub = per_system.set_index(["model", "system"])["smape_0_100"]
    sensitive = set()
    with np.load(TRAJECTORIES) as npz:
        keys = {tuple(k.split("/")[:2]) for k in npz.files}
        for model, n in MULTIVARIATE.items():
            assert sum(1 for m, _ in keys if m == model) == n
        for model, system in sorted(keys):
            true, pred = npz[f"{model}/{system}/true"], npz[f"{model}/{system}/pred"]
            assert true.dtype == np.float64 and true.shape == pred.shape == (200, true.shape[1])
            ours = float(smape(true, pred))
            theirs = float(pub[(model, system)])
            if abs(ours - theirs) > 1e-6:
                sensitive.add((model, system))
                # the eps's whole effect: 100 mean(|d| eps / (s (s + eps))), s = |y| + |yhat|
                s = np.abs(true) + np.abs(pred)
                bound = 100 * np.mean(np.abs(true - pred) * 1e-10 / (s * (s + 1e-10)))
                assert abs(ours - theirs) <= 1e-6 + bound, (model, system, ours, theirs)
    assert sensitive == EPS_SENSITIVE


def test_every_row_says_where_it_comes_from(table: pd.DataFrame) -> None:
    assert tuple(table.columns) == PUBLISHED_COLUMNS
    assert table["found"].dtype == bool
    for col in ("paper", "source", "where", "metric", "scale", "variant", "tolerance_reason"):
        assert table[col].map(lambda x: isinstance(x, str) and x.strip() != "").all(), col
    found = table[table["found"]]
    assert np.isfinite(found["value"].astype(float)).all()
    assert np.isfinite(found["tolerance"].astype(float)).all()
    exact = found["metric"].eq("subregions_visited")  # a count: equal or not
    assert (found.loc[~exact, "tolerance"] > 0).all()
    assert (found.loc[exact, "tolerance"] == 0).all()
    missing = table[~table["found"]]
    assert missing["value"].isna().all()
    assert missing["tolerance_reason"].str.contains("not found").all()


def test_the_table_builds_on_the_existing_constants(table: pd.DataFrame) -> None:
    dsr = table[table["paper"].str.contains("PhyxMamba|DynaMix|reference range")]
    assert len(dsr) == len(DSR_PUBLISHED)
    phyx = dsr[(dsr["published_method"] == "PhyxMamba") & (dsr["metric"] == "vpt_smape")]
    assert dict(zip(phyx["system"], phyx["value"], strict=True)) == {
        s: v["VPT"] for s, v in PHYXMAMBA_PUBLISHED.items()
    }
    times = table[(table["paper"] == "Gilpin 2023") & (table["metric"] == "fit_seconds")]
    assert dict(zip(times["published_method"], times["value"], strict=True)) == (
        GILPIN2023_TRAINING_SECONDS
    )
    assert set(times["method"]) >= {"esn", "nvar", "node", "lstm", "transformer"}


def test_the_gilpin_rows_match_the_shipped_csv(
    table: pd.DataFrame, per_system: pd.DataFrame
) -> None:
    rows = table[(table["paper"] == "Gilpin 2023") & (table["metric"] == "smape_fixed")]
    got = rows[rows["found"]].set_index(["published_method", "system"]).sort_index()
    csv = per_system.set_index(["model", "system"]).sort_index()
    assert got.index.is_unique and list(got.index) == list(csv.index)
    np.testing.assert_array_equal(got["value"], csv["smape_0_100"])
    np.testing.assert_allclose(got["value"] * 2, csv["smape_published_0_200"], rtol=1e-15)
    assert list(got["source"]) == list(csv["file"])
    assert (got["where"].str.startswith("williamgilpin/dysts@cc777ed:")).all()
    assert (got["method"] != "").all()
    # the three multivariate files plus the darts sweep's full-length point for 12 models
    assert len(csv.index.get_level_values("model").unique()) == 15
    assert set(csv["train_length"]) == {1000} and set(csv["horizon"]) == {200}
    # every (model, system) of the published system set is a row, found or not
    systems = per_system["system"].nunique()
    assert len(rows) == 15 * systems


def test_systems_changed_since_cc777ed_are_flagged(table: pd.DataFrame) -> None:
    """dysts 0.96 changed the period or the parameters of some systems since cc777ed; their
    Gilpin rows say so (the period sets the sampling at 100 points per period)."""
    rows = table[(table["paper"] == "Gilpin 2023") & table["found"]]
    flagged = set(rows.loc[rows["variant"].str.contains("dysts 0.96 changed"), "system"])
    assert {"VossDelay", "SprottDelay", "ExcitableCell", "DoublePendulum"} <= flagged
    assert "Lorenz" not in flagged
