"""The report tables at the scale of the whole database, on synthetic metric tables
(tests/support/synthetic_metrics.py) checked against hand computations: seeds aggregated per
system first (median), the spread over seeds beside the spread over systems, the systems
x methods matrix of the heat map, the non-chaotic toggle, the index's systems table."""

from __future__ import annotations

import math
import re
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from support.synthetic_metrics import COLUMNS, row, synthetic_metrics, write_results

from dsrbench import layout
from dsrbench.reports import leaderboard as lb
from dsrbench.reports import stats
from dsrbench.reports.index import systems_table
from dsrbench.reports.render import build_index
from dsrbench.reports.results import Run, open_run
from dsrbench.reports.specs import spec

nan = math.nan


def table(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


# ------------------------------------------------------------------ seeds first, then systems
def test_ranks_and_medians_aggregate_the_seeds_of_a_system_by_their_median():
    # A: seeds 1, 1, 100 (median 1, mean 34); B: 5, 5, 5 -> on the median A is better
    rows = [row("S", "A", s, "D_stsp", v, floor=0.5) for s, v in enumerate([1.0, 1.0, 100.0])]
    rows += [row("S", "B", s, "D_stsp", 5.0, floor=0.5) for s in range(3)]
    rows += [
        row("T", m, s, "D_stsp", v, floor=0.5)
        for m, v in (("A", 2.0), ("B", 3.0))
        for s in range(3)
    ]
    sc = table(rows)
    ranks = stats.rank_methods(sc, higher_is_better=False).set_index(["system", "method"])
    assert ranks.loc[("S", "A"), "rank"] == 1 and ranks.loc[("S", "B"), "rank"] == 2
    assert ranks.loc[("S", "A"), "value"] == 1.0
    summary = stats.summarize(sc, higher_is_better=False, n_boot=200).set_index("method")
    assert summary.loc["A", "value"].estimate == pytest.approx(np.median([1.0, 2.0]))
    assert summary.loc["A", "rank"].estimate == 1.0 and summary.loc["B", "rank"].estimate == 2.0
    # the bootstrap resamples seed medians: every resample of A's S is 1 or 100, median 1
    iv = stats.bootstrap_ci([np.array([1.0, 1.0, 100.0])], within="median", n_boot=500)
    assert iv.estimate == 1.0 and iv.low == 1.0
    assert stats.bootstrap_ci([np.array([1.0, 1.0, 100.0])]).estimate == pytest.approx(34.0)


def test_seed_spread_against_a_hand_computation():
    seeds = {"s1": [1, 2, 4], "s2": [10, 10, 13], "s3": [5, nan, 7], "s4": [nan, nan, 3]}
    rows = [
        row(system, "A", k, "vpt_nrmse", float(v))
        for system, values in seeds.items()
        for k, v in enumerate(values)
    ]
    rows += [row("s1", "B", 0, "vpt_nrmse", 2.0)]  # one seed: no seed spread
    got = stats.seed_spread(table(rows)).set_index("method")
    a = got.loc["A"]
    # per system: std (ddof 1) sqrt(7/3), sqrt(3), sqrt(2); IQR 1.5, 1.5, 1.0; s4 has one seed
    assert a["seed_std"] == pytest.approx(math.sqrt(7 / 3))
    assert a["seed_iqr"] == pytest.approx(1.5)
    # seed medians 2, 10, 6, 3: quartiles 2.75 and 7 (linear interpolation), median 4.5
    assert a["system_iqr"] == pytest.approx(4.25)
    assert a["median"] == pytest.approx(4.5)
    assert (a["systems"], a["systems_with_seeds"]) == (4, 3)
    b = got.loc["B"]
    assert math.isnan(b["seed_std"]) and math.isnan(b["system_iqr"]) and b["median"] == 2.0
    run = Run(None, table(rows))  # a Run without files
    text = lb.seed_spread_table(run, (spec("vpt_nrmse"),))
    assert list(text["method"]) == ["A", "B"]
    assert text.iloc[0]["systems with ≥ 2 finite seeds"] == "3 of 4"
    assert text.iloc[0]["IQR over systems (of seed medians)"] == "4.25"


# ------------------------------------------------------------------ systems x methods
def test_system_matrix_is_systems_by_methods_of_seed_medians():
    rows = []
    for system, floor, values in (
        ("Lorenz", 0.5, {"alrnn": [1.0, 3.0, 2.0], "var": [nan, nan, nan]}),
        ("Rossler", 0.25, {"alrnn": [1.0, nan, 0.5], "var": [4.0, 4.0, 8.0]}),
    ):
        rows.append(row(system, "floor", 0, "D_stsp", floor))
        rows += [row(system, "truth", 0, "D_stsp", floor)]
        for method, vs in values.items():
            rows += [row(system, method, s, "D_stsp", v, floor=floor) for s, v in enumerate(vs)]
    run = Run(None, table(rows))
    scores = run.scores("D_stsp")
    m = lb.system_matrix(scores)
    assert list(m.index) == ["Lorenz", "Rossler"] and list(m.columns) == ["alrnn", "var"]
    expected = np.array([[2.0, nan], [0.75, 4.0]])
    np.testing.assert_allclose(m.to_numpy(), expected)
    np.testing.assert_allclose(
        lb.system_matrix(scores, value="ratio").to_numpy(), expected / np.array([[0.5], [0.25]])
    )
    with pytest.raises(ValueError, match="'value' or 'ratio'"):
        lb.system_matrix(scores, value="mean")


def test_heatmap_height_grows_with_the_systems():
    methods = ["alrnn", "esn", "var"]
    few = Run(None, synthetic_metrics([f"S{i}" for i in range(2)], methods, [0, 1]))
    many = Run(None, synthetic_metrics([f"S{i:03d}" for i in range(135)], methods, [0, 1]))
    specs = (spec("D_stsp"), spec("vpt_nrmse"))
    small = lb.systems_heatmap_figure(few, specs)
    big = lb.systems_heatmap_figure(many, specs)
    assert big.get_size_inches()[1] >= 0.12 * 135 > 5 * small.get_size_inches()[1] / 3
    ax = big.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert sorted(labels) == sorted(many.systems)  # one row per system, every one labelled
    # rows sorted by the median over methods of D_stsp / floor, best first
    ratio = lb.system_matrix(many.scores("D_stsp"), value="ratio").median(axis=1)
    assert labels == list(ratio.sort_values(kind="stable").index)


# ------------------------------------------------------------------ non-chaotic systems
def _flag(chaotic: bool) -> SimpleNamespace:
    return SimpleNamespace(
        chaotic=chaotic, reason="chaotic" if chaotic else "not chaotic, periodic", max_lyapunov=0.0
    )


def test_excluding_nonchaotic_systems_changes_the_systems_ranked():
    systems = ["A1", "B2", "C3", "D4"]
    run = Run(None, synthetic_metrics(systems, ["alrnn", "var"], [0, 1, 2]))
    flags = {s: _flag(s != "C3") for s in systems}
    kept, listed = lb.chaos_selection(run.systems, exclude_nonchaotic=False, flags=flags)
    assert kept == systems and list(listed["system"]) == ["C3"]
    assert list(listed["excluded from the ranking"]) == ["no"]
    kept, listed = lb.chaos_selection(run.systems, exclude_nonchaotic=True, flags=flags)
    assert kept == ["A1", "B2", "D4"] and list(listed["excluded from the ranking"]) == ["yes"]
    specs = (spec("vpt_nrmse"),)
    every = lb.leaderboard_table(run, specs, n_boot=100)
    chaotic = lb.leaderboard_table(run.restricted(kept), specs, n_boot=100)
    assert set(every["systems with a value"]) == {"4 of 4"}
    assert set(chaotic["systems with a value"]) == {"3 of 3"}
    assert "C3" not in set(run.restricted(kept).metrics["system"])


# ------------------------------------------------------------------ the index
class _Table(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.heads: list[str] = []
        self.rows: list[dict] = []
        self.links: list[str] = []
        self._in = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "th":
            self.heads.append(a.get("data-col"))
        if tag == "tr" and "data-name" in a:
            self.rows.append(a)
        if tag == "a" and self.rows:
            self.links.append(a["href"])


@pytest.mark.parametrize("n_systems", [2, 135])
def test_index_has_a_sortable_systems_table_with_a_column_per_method(tmp_path, n_systems):
    from dsrbench.systems import all_systems

    systems = all_systems()[:n_systems]
    methods = ["alrnn", "esn", "var"]
    metrics = synthetic_metrics(systems, methods, [0, 1, 2])
    results = tmp_path / "results"
    write_results(results, metrics)
    reports = layout.reports_dir(results)
    pages = [layout.report_page(results, layout.page_id("leaderboard"))]
    pages += [layout.report_page(results, layout.page_id("system", s)) for s in systems]
    for p in pages:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"<html><title>{p.stem}</title></html>")
        p.with_suffix(".ipynb").write_text("{}")
    out = build_index(pages, reports / "index.html", results_dir=results)
    text = out.read_text()
    parsed = _Table()
    parsed.feed(text)
    assert [r["data-name"] for r in parsed.rows] == sorted(systems)
    for method in methods:
        assert f"{method} D_stsp" in parsed.heads and f"{method} VPT" in parsed.heads
    assert "truth D_stsp" not in parsed.heads and "floor D_stsp" in parsed.heads
    linked = {link.split("/")[-1] for link in parsed.links}
    assert linked >= {f"{s}.html" for s in systems} | {f"{s}.ipynb" for s in systems}
    assert 'id="dsrbench-filter"' in text and 'addEventListener("click"' in text
    assert not re.search(r"<script[^>]+src=", text)  # inline, nothing loaded
    # each cell the median over seeds
    tab = systems_table(pd.read_parquet(layout.merged_metrics(results))).set_index("system")
    s = systems[0]
    sel = metrics[(metrics["system"] == s) & (metrics["method"] == "esn")]
    vpt = sel[sel["metric"] == "vpt_nrmse"]["value"]
    assert tab.loc[s, "esn VPT"] == pytest.approx(np.median(vpt))
    assert tab.loc[s, "dimension"] >= 3


def test_open_run_on_a_synthetic_tree(tmp_path):
    write_results(tmp_path, synthetic_metrics(["Lorenz"], ["var"], [0, 1]))
    run = open_run(tmp_path)
    assert run.systems == ["Lorenz"] and run.seeds("var") == [0, 1]


# ------------------------------------------------------------------ the Gilpin 2023 page
def _gilpin_run(tmp_path, methods, *, records=True):
    from support.synthetic_metrics import gilpin_metrics, write_gilpin_records

    from dsrbench.systems import all_systems

    systems = all_systems()[:8]
    write_results(tmp_path, gilpin_metrics(systems, methods))
    if records:
        write_gilpin_records(tmp_path, systems, methods)
    return open_run(tmp_path)


def test_gilpin_rank_correlation_is_one_in_the_published_order_and_minus_one_reversed(tmp_path):
    from support.synthetic_metrics import GILPIN_ORDER

    from dsrbench.reports import gilpin

    same = Run(
        None, _gilpin_run(tmp_path / "a", [*GILPIN_ORDER, "persistence"], records=False).metrics
    )
    table, rho, n = gilpin.gilpin_rank_correlation(same)
    assert n == 12 and rho == pytest.approx(1.0)
    assert list(table["our position"]) == list(range(1, 13))
    assert table.attrs["systems"] == 8 and table.attrs["metric"] == "smape_fixed"
    reversed_ = Run(
        None,
        same.metrics.replace({"method": dict(zip(GILPIN_ORDER, GILPIN_ORDER[::-1], strict=True))}),
    )
    _, rho, n = gilpin.gilpin_rank_correlation(reversed_)
    assert n == 12 and rho == pytest.approx(-1.0)
    # only the models present enter; with fewer than 3 it cannot be computed
    few = Run(None, same.metrics[same.metrics["method"].isin(["truth", "nbeats", "kalman"])])
    table, rho, n = gilpin.gilpin_rank_correlation(few)
    assert n == 2 and math.isnan(rho)
    assert "cannot be computed" in gilpin.gilpin_rank_correlation_sentence(few)
    assert "ρ = 1.00" in gilpin.gilpin_rank_correlation_sentence(same)
    # without smape_fixed rows the ranking falls back to smape over the whole forecast
    whole = Run(None, same.metrics[same.metrics["metric"] != "smape_fixed"])
    table, rho, _ = gilpin.gilpin_rank_correlation(whole)
    assert table.attrs["metric"] == "smape" and rho == pytest.approx(1.0)


def test_gilpin_figures_use_the_systems_where_every_model_is_finite(tmp_path):
    from dsrbench.reports import gilpin

    methods = ["nvar", "node", "esn", "persistence"]
    run = _gilpin_run(tmp_path, methods)
    m = run.metrics
    hit = (m["method"] == "esn") & (m["metric"] == "smape_fixed") & (m["system"] == run.systems[0])
    m.loc[hit, "value"] = np.nan  # esn diverged on the first system
    common = gilpin.common_systems(run, "smape_fixed")
    assert common.n == 7 and common.total == 8 and common.lost == {"esn": 1}
    assert common.models == methods  # ordered by mean rank
    assert "n = 7 of 8 systems" in common.text()
    table = gilpin.gilpin_ranking_table(run, n_boot=50)
    assert list(table["method"]) == ["NG-RC (NVAR)", "neural ODE", "ESN", "persistence"]
    assert set(table["systems"]) == {7}
    # every figure renders with data (no no-data path)
    for build in (
        gilpin.fixed_horizon_figure,
        gilpin.error_vs_horizon_figure,
        gilpin.error_correlation_figure,
        gilpin.lyapunov_correlation_figure,
        gilpin.time_vs_error_figure,
        gilpin.invariants_figure,
        gilpin.data_limited_figure,
        gilpin.gilpin_ranking_figure,
    ):
        kw = (
            {"n_boot": 50}
            if build in (gilpin.fixed_horizon_figure, gilpin.gilpin_ranking_figure)
            else {}
        )
        fig = build(run, **kw)
        ax = fig.axes[0]
        drawn = ax.collections or ax.lines or ax.images
        assert drawn, build.__name__
    horizons = gilpin.error_vs_horizon_figure(run).axes[0]
    assert len(horizons.lines) == len(methods)
    assert [t.get_text() for t in horizons.get_xticklabels()][-1] == "10\n7"  # n at 10 Lyap. t.
    # invariants: |relative error| ranked, models in their order on every property
    ranks = gilpin.invariant_ranks(run)
    assert list(ranks.index) == methods
    np.testing.assert_allclose(ranks["largest Lyapunov exponent (|rel. error|)"], [1, 2, 3, 4])
    # the data-limited records: one line per model, median over systems per length
    dl = gilpin.data_limited_figure(run).axes[0]
    assert [list(line.get_xdata()) for line in dl.lines] == [[100, 300, 1000]] * len(methods)
    # the tables: training / inference times, tuned hyperparameters
    tt = gilpin.training_time_table(run).set_index("method")
    assert tt.loc["neural ODE", "published median training time (s, one CPU)"] == "25.0"
    hp = gilpin.tuned_hyperparameters_table(run)
    lags = hp[(hp["method"] == "ESN") & (hp["parameter"] == "lags")].iloc[0]
    assert lags["most frequent value"] == "5" and lags["systems"] == "5 of 8"
    assert lags["grid"] == "5, 10"


def test_gilpin_figures_say_what_is_missing(tmp_path):
    from dsrbench.reports import gilpin
    from dsrbench.reports.results import NoData

    metrics = synthetic_metrics(["Lorenz", "Rossler"], ["esn"], [0])
    run = Run(None, metrics[metrics["metric"] != "smape200"])  # no sMAPE rows
    for build, message in (
        (gilpin.fixed_horizon_figure, "smape_fixed"),
        (gilpin.error_vs_horizon_figure, "smape200"),
        (gilpin.invariants_figure, "two models"),
        (gilpin.data_limited_figure, "no data-limited"),
        (gilpin.time_vs_error_figure, "smape_fixed"),
    ):
        with pytest.raises(NoData, match=message):
            build(run)
    with pytest.raises(NoData, match="smape_fixed"):
        gilpin.gilpin_rank_correlation(run)
    assert "cannot be computed" in gilpin.gilpin_rank_correlation_sentence(run)


def test_the_models_that_ran_on_every_system_are_ranked_over_all_of_them(tmp_path):
    """With the torch models on a subset (systems_by_method), the ranking of every model is
    limited to that subset; the models that ran on every system get their own ranking over
    all systems, and their own rank correlation with the published order."""
    from support.synthetic_metrics import GILPIN_ORDER

    from dsrbench.reports import gilpin
    from dsrbench.reports.results import NoData

    full = _gilpin_run(tmp_path, [*GILPIN_ORDER, "persistence"], records=False)
    with pytest.raises(NoData, match="same systems"):
        gilpin.widest_models(full)  # every model on all 8 systems
    torch = ["nbeats", "nhits", "lstm", "transformer", "node"]
    subset = set(full.systems[:3])
    m = full.metrics
    m = m[~(m["method"].isin(torch) & ~m["system"].isin(subset))]
    # a failed prediction (row without a value) still counts as run on that system
    failed = m["method"].eq("kalman") & m["system"].eq(full.systems[-1])
    m = pd.concat([m[~failed], m[failed].head(1).assign(metric="predict", value=nan)])
    run = Run(None, m)
    widest = gilpin.widest_models(run)
    assert set(widest) == set(GILPIN_ORDER) - set(torch) | {"persistence"}
    every = gilpin.gilpin_ranking_table(run, n_boot=50)
    assert set(every["systems"]) == {3}  # every model: the torch subset only
    wide = gilpin.widest_ranking_table(run, n_boot=50)
    # Kalman has no value on the last system: 7 of the 8 systems are common to the widest
    assert set(wide["systems"]) == {7} and len(wide) == len(widest)
    assert "Kalman filter" in set(wide["method"]) and "N-BEATS" not in set(wide["method"])
    table, rho, n = gilpin.gilpin_rank_correlation(run, widest)
    assert n == 7 and rho == pytest.approx(1.0) and table.attrs["systems"] == 7
    assert set(table.loc[np.isfinite(table["our mean rank"]), "published model"]).isdisjoint(
        {"NBEATS", "NHiTS", "LSTM", "Transformer", "NODE"}
    )
    assert "n = 7 of the 12" in gilpin.gilpin_rank_correlation_sentence(run, widest)


def test_a_run_reads_the_records_of_its_own_datasets_and_systems_only(tmp_path):
    """Records of another dataset setting (a second granularity) or of systems outside the
    run's rows stay out of its training and inference tables."""
    from support.synthetic_metrics import gilpin_metrics, write_gilpin_records

    from dsrbench.reports import gilpin
    from dsrbench.reports.results import NoData
    from dsrbench.systems import all_systems

    systems, methods = all_systems()[:4], ["nvar", "esn"]
    fine = gilpin_metrics(systems, methods)
    coarse = gilpin_metrics(systems[:2], methods, rng_seed=1).assign(dataset="coarse")
    write_results(tmp_path, pd.concat([fine, coarse], ignore_index=True))
    write_gilpin_records(tmp_path, systems, methods)  # dataset "tiny"
    write_gilpin_records(tmp_path, systems[:2], methods, dataset="coarse")
    write_gilpin_records(tmp_path, systems, methods, dataset="not_evaluated")

    both = open_run(tmp_path)
    nvar = both.training("nvar")
    pairs = set(zip(nvar["dataset"], nvar["system"], strict=True))
    assert pairs == {("tiny", s) for s in systems} | {("coarse", s) for s in systems[:2]}

    tiny = open_run(tmp_path, datasets=["tiny"])
    assert set(tiny.training("esn")["dataset"]) == {"tiny"}
    assert set(tiny.prediction_timing("esn")["dataset"]) == {"tiny"}
    two = open_run(tmp_path, systems=systems[2:])
    assert sorted(two.training("esn")["system"]) == sorted(systems[2:])
    # esn's fit_seconds are 0.2 (1 + i) on the i-th system: the table's median follows the
    # scope (0.5 over all four systems, 0.7 over the last two)
    for run, expected in ((tiny, "0.500"), (two, "0.700")):
        times = gilpin.training_time_table(run).set_index("method")
        assert times.loc["ESN"].iloc[0] == expected
    with pytest.raises(NoData, match=r"not_evaluated.*it has \['coarse', 'tiny'\]"):
        open_run(tmp_path, datasets=["not_evaluated"])


def test_the_gilpin_page_says_which_settings_and_which_models_it_covers():
    from support.synthetic_metrics import gilpin_metrics

    from dsrbench.reports import gilpin
    from dsrbench.systems import all_systems

    systems = all_systems()[:5]
    fine = gilpin_metrics(systems, ["nvar", "esn", "nbeats"]).assign(dataset="fine")
    coarse = gilpin_metrics(systems[:3], ["nvar", "esn"]).assign(dataset="coarse")
    one = Run(None, fine)
    assert gilpin.scope_sentence(one) == "Dataset settings on this page: fine (5 systems)."
    text = gilpin.scope_sentence(Run(None, pd.concat([fine, coarse], ignore_index=True)))
    assert text.startswith("Dataset settings on this page: coarse (3 systems), fine (5 systems)")
    assert "pair counts as one system" in text
    assert text.endswith("; N-BEATS only on fine.")
    assert "ESN" not in text and "NG-RC" not in text


TEMPLATES = sorted((Path(__file__).resolve().parents[2] / "reports").glob("*.ipynb"))


@pytest.mark.parametrize("template", TEMPLATES, ids=[t.stem for t in TEMPLATES])
def test_report_templates_are_valid_notebooks_with_cell_ids(template):
    """nbformat validates each template as it is: no cell without an id (nbformat warns on
    every render otherwise, and its future versions refuse it)."""
    import json

    import nbformat

    raw = json.loads(template.read_text())  # nbformat.read would add the missing ids
    assert [i for i, cell in enumerate(raw["cells"]) if not cell.get("id")] == []
    nbformat.validate(nbformat.from_dict(raw))
