"""A method beside named baselines on the systems they share (dsrbench.reports.comparison)."""

from __future__ import annotations

import copy
import importlib.util
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import binomtest

from dsrbench.reports import export
from dsrbench.reports.comparison import (
    Comparison,
    arm_table,
    paired_table,
    shared_systems,
    system_values,
)
from dsrbench.reports.export import read_export
from dsrbench.reports.run_pages import page_export, run_page

HAVOK = Path(__file__).resolve().parents[2] / "docs/results/havok_database/havok_database.parquet"


def _rows(entries: list[tuple[str, str, int, str, float, str]]) -> pd.DataFrame:
    """Metric rows of an export: (system, method, seed, metric, value, status)."""
    return pd.DataFrame(
        [
            {
                "kind": "metric",
                "dataset": "fine",
                "system": system,
                "method": method,
                "seed": seed,
                "metric": metric,
                "horizon": np.nan,
                "value": value,
                "status": status,
                "fit_seconds": np.nan,
                "predict_seconds": 0.5,
                "epochs_run": np.nan,
            }
            for system, method, seed, metric, value, status in entries
        ]
    )


def test_parse_reads_method_baselines_and_dataset():
    c = Comparison.parse("entrope = phyxmamba, nbeats,transformer @fine")
    assert c == Comparison("entrope", ("phyxmamba", "nbeats", "transformer"), "fine")
    assert c.arms == ("entrope", "phyxmamba", "nbeats", "transformer", "persistence")
    assert Comparison.from_meta(c.as_meta()) == c
    assert Comparison.parse("a=b").dataset is None
    with pytest.raises(ValueError, match="METHOD=BASE"):
        Comparison.parse("entrope phyxmamba")
    with pytest.raises(ValueError, match="among its own baselines"):
        Comparison.parse("a=b,a")


def test_the_shipped_havok_run_against_an_independent_count():
    export = read_export(HAVOK)
    comparison = Comparison.parse("havok=sindy,edmd@fine")
    systems = shared_systems(export, comparison)
    fine = export[(export["kind"] == "metric") & (export["dataset"] == "fine")]
    d_stsp = fine[fine["metric"] == "D_stsp"]
    # independently: the systems where each arm has a row
    ran = [set(fine.loc[fine["method"] == arm, "system"].astype(str)) for arm in comparison.arms]
    assert systems == sorted(set.intersection(*ran))
    assert len(systems) > 100
    # SprottD and SprottN: havok's forecast failed there (a failure row, no metric): shared,
    # and havok's values there are the worst
    assert {"SprottD", "SprottN"} <= set(systems)
    values = system_values(export, comparison).set_index(["system", "method", "metric"])
    assert values.loc[("SprottD", "havok", "D_stsp"), "value"] == np.inf
    assert values.loc[("SprottN", "havok", "vpt_nrmse"), "value"] == -np.inf
    # the wins against sindy on D_stsp, counted here by hand (one seed: the value itself,
    # a missing value as +inf)
    wide = d_stsp[d_stsp["system"].isin(systems)].pivot_table(
        index="system", columns="method", values="value", aggfunc="median", observed=True
    )
    ours = wide["havok"].astype(float).fillna(np.inf)
    theirs = wide["sindy"].astype(float).fillna(np.inf)
    wins, losses = int((ours < theirs).sum()), int((ours > theirs).sum())
    paired = paired_table(export, comparison).set_index(["baseline", "metric"])
    row = paired.loc[("sindy", "D_stsp")]
    assert row["wins / ties / losses"] == f"{wins} / {len(systems) - wins - losses} / {losses}"
    assert float(row["sign test p"]) == pytest.approx(
        binomtest(wins, wins + losses).pvalue, rel=0.05
    )
    arms = arm_table(export, comparison).set_index("method")
    median = np.median(ours.to_numpy())
    assert arms.loc["havok", "D_stsp (lower is better)"].startswith(f"{median:.3g} [")
    assert list(arms.index) == ["havok", "sindy", "edmd", "persistence"]


def test_a_diverged_seed_counts_as_the_worst_value_and_a_weak_baseline_is_no_yardstick():
    entries = []
    for i, system in enumerate(["A", "B", "C", "D", "E", "F"]):
        entries += [
            (system, "new", 0, "D_stsp", 1.0 + i, "ok"),
            (system, "base", 0, "D_stsp", 20.0 + i, "ok"),  # worse than persistence
            (system, "persistence", 0, "D_stsp", 10.0 + i, "ok"),
            (system, "new", 0, "vpt_nrmse", 2.0, "ok"),
            (system, "base", 0, "vpt_nrmse", 1.0, "ok"),  # better than persistence
            (system, "persistence", 0, "vpt_nrmse", 0.1, "ok"),
        ]
    # system A: new's D_stsp has a second seed that diverged (no value): the median of
    # {1, inf} is inf, so new loses on A
    entries.append(("A", "new", 1, "D_stsp", np.nan, "diverged"))
    entries.append(("A", "new", 1, "vpt_nrmse", 2.0, "ok"))
    # system G lacks the baseline: not shared
    entries.append(("G", "new", 0, "D_stsp", 1.0, "ok"))
    # system B: new's seed 1 failed to forecast (a failure row, no metric): the worst value
    # on both metrics, so new's median on B is inf for D_stsp, (2 + -inf) / 2 for VPT
    entries.append(("B", "new", 1, "predict", np.nan, "failed"))
    export = _rows(entries)
    comparison = Comparison("new", ("base",), "fine")
    assert shared_systems(export, comparison) == ["A", "B", "C", "D", "E", "F"]
    values = system_values(export, comparison).set_index(["system", "method", "metric"])
    assert values.loc[("A", "new", "D_stsp"), "value"] == np.inf
    assert values.loc[("B", "new", "D_stsp"), "value"] == np.inf
    assert values.loc[("B", "new", "vpt_nrmse"), "value"] == -np.inf
    paired = paired_table(export, comparison).set_index(["baseline", "metric"])
    assert paired.loc[("base", "D_stsp"), "wins / ties / losses"] == "4 / 0 / 2"
    assert paired.loc[("base", "D_stsp"), "verdict"].startswith("not tested")
    assert paired.loc[("base", "D_stsp"), "baseline beats persistence"] == "no"
    vpt = paired.loc[("base", "VPT (NRMSE > 0.5)")]
    assert vpt["wins / ties / losses"] == "5 / 0 / 1"
    assert float(vpt["sign test p"]) == pytest.approx(binomtest(5, 6).pvalue, rel=0.05)
    assert vpt["verdict"] == "no difference detected"  # p = 0.22
    assert paired.loc[("persistence", "D_stsp"), "baseline beats persistence"] == (
        "(the reference)"
    )


def test_a_missing_arm_is_refused_by_name():
    export = _rows([("A", "new", 0, "D_stsp", 1.0, "ok")])
    with pytest.raises(ValueError, match=r"no metric rows of \['base', 'persistence'\]"):
        shared_systems(export, Comparison("new", ("base",)))


def test_the_run_page_shows_a_comparison_section():
    export = read_export(HAVOK)
    export = export[export["system"].isin(["Lorenz", "Rossler", "Chen"])]
    comparison = Comparison.parse("havok=sindy@fine")
    meta = {"run": "havok_database", "command": "x", "comparisons": [comparison.as_meta()]}
    page = run_page(meta, export)
    section = page[page.index("## `havok` beside `sindy` on the systems they share (fine)") :]
    assert "On the 3 systems where every arm ran (Chen, Lorenz, Rossler)" in (section)
    for line in paired_table(export, comparison).to_markdown(index=False).splitlines():
        assert line in section


def _results_pages():
    """benchmarks/tools/results_pages.py as a module (it is a script, not a package)."""
    script = Path(__file__).resolve().parents[2] / "benchmarks/tools/results_pages.py"
    spec_ = importlib.util.spec_from_file_location("results_pages", script)
    module = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(module)
    return module


def _tiny_config(tmp_path: Path) -> Path:
    config = tmp_path / "tiny.yaml"
    config.write_text("systems: [Lorenz]\n")
    return config


def test_the_publish_script_stores_and_renders_a_comparison(tiny_run, tmp_path):
    """``results_pages.py publish --compare``: run.yaml keeps it, the page shows it."""
    module, config = _results_pages(), _tiny_config(tmp_path)
    argv = ["publish", str(tiny_run), "tiny", "--command", "c", "--configfile", str(config)]
    assert module.main([*argv, "--compare", "mean=persistence", "--docs", str(tmp_path)]) == 0
    meta = yaml.safe_load((tmp_path / "tiny/run.yaml").read_text())
    assert meta["comparisons"] == [{"method": "mean", "against": ["persistence"], "dataset": None}]
    text = (tmp_path / "tiny/README.md").read_text()
    assert "## `mean` beside `persistence` on the systems they share" in text
    assert "On the 1 systems where every arm ran (Lorenz)" in text
    with pytest.raises(SystemExit):
        module.main([*argv, "--compare", "mean persistence", "--docs", str(tmp_path)])


def test_a_run_finished_in_parts_is_read_with_its_shipped_part_and_another_protocol_is_refused(
    tiny_run, user_run, tmp_path
):
    """``publish --merged-with RUN``: the page reads the shipped run's rows with its own (a
    comparison across the two parts), its parquet keeps its own rows only; a shipped run
    of another protocol is refused, naming the key, before anything is written."""
    module, config = _results_pages(), _tiny_config(tmp_path)
    common = ["--command", "c", "--configfile", str(config), "--docs", str(tmp_path)]
    assert module.main(["publish", str(tiny_run), "tiny", *common]) == 0
    argv = ["publish", str(user_run), "mine", *common, "--merged-with", "tiny"]
    assert module.main([*argv, "--compare", "var=mean"]) == 0
    own = read_export(tmp_path / "mine/mine.parquet")
    assert "mean" not in set(own["method"]) and "var" in set(own["method"])
    meta = yaml.safe_load((tmp_path / "mine/run.yaml").read_text())
    assert meta["merged_with"] == ["tiny"]
    merged = page_export(tmp_path / "mine", meta)
    shipped = read_export(tmp_path / "tiny/tiny.parquet")
    assert {"var", "mean", "persistence", "truth"} <= set(merged["method"])
    assert len(merged) == len(own) + len(shipped) - len(
        own.merge(shipped, on=["kind", "dataset", "system", "method", "seed", "metric", "horizon"])
    )  # the truth rows both runs scored are kept once (they are bit-equal)
    text = (tmp_path / "mine/README.md").read_text()
    assert (
        f"- Read with the rows of the shipped run [`tiny`](../tiny/README.md) ({len(shipped)} rows)"
        in text
    )
    assert f"every table below is over {len(merged)} rows, {len(own)} of them this run's" in text
    assert "## `var` beside `mean` on the systems they share" in text
    assert "On the 1 systems where every arm ran (Lorenz)" in text
    # a shipped run of another horizon: refused by key, nothing written
    table = export.read_export(tmp_path / "tiny/tiny.parquet")
    (old,) = table.attrs["protocols"].values()
    proto = copy.deepcopy(old)
    proto["evaluation"]["horizon"] = float(old["evaluation"]["horizon"]) + 1
    table["protocol_hash"] = export.protocol_hash(proto)
    (tmp_path / "other").mkdir()
    export.write_export(
        table, tmp_path / "other/other.parquet", protocols={table["protocol_hash"][0]: proto}
    )
    argv = ["publish", str(user_run), "mine2", *common, "--merged-with", "other"]
    with pytest.raises(export.ExportError, match=r"evaluation\.horizon"):
        module.main(argv)
    assert not (tmp_path / "mine2").exists()
    argv = ["publish", str(user_run), "mine3", *common, "--merged-with", "absent"]
    with pytest.raises(FileNotFoundError, match="ship that run first"):
        module.main(argv)
    # amend: a shipped page's notes and merged runs change (checked first), its rows do not
    before = (tmp_path / "tiny/run.yaml").read_text()
    amend = ["amend", "tiny", "--docs", str(tmp_path)]
    with pytest.raises(export.ExportError, match=r"evaluation\.horizon"):
        module.main([*amend, "--merged-with", "other"])
    assert (tmp_path / "tiny/run.yaml").read_text() == before
    assert module.main([*amend, "--notes", "Amended notes.", "--merged-with", "mine"]) == 0
    text = (tmp_path / "tiny/README.md").read_text()
    assert "Amended notes." in text and "[`mine`](../mine/README.md)" in text
    assert re.search(r"\| Lorenz\s+\| var\s+\|", text)  # mine's rows in tiny's metric table
    pd.testing.assert_frame_equal(read_export(tmp_path / "tiny/tiny.parquet"), shipped)
