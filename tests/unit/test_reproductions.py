"""The reproductions table, command and page (dsrbench.reports.reproductions) on a tiny
synthetic run and a hand-made published table: one row of each status, the CLI, and the
page rendered by papermill."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.reproductions import PAPER, PUBLISHED, published_row, write_fixture
from support.synthetic_metrics import row, write_results

from dsrbench import layout
from dsrbench.cli import main
from dsrbench.pipeline.evaluate import COLUMNS
from dsrbench.reports import reproductions as rp
from dsrbench.reports.published import PUBLISHED_COLUMNS, published_table

REPO = Path(__file__).resolve().parents[2]
nan = math.nan


@pytest.fixture
def results(tmp_path):
    return write_fixture(tmp_path / "results")


def test_one_row_of_each_status_with_its_cause(results):
    table = rp.reproductions({PAPER: results}, published=PUBLISHED, datasets={PAPER: "fine"})
    assert len(table) == len(PUBLISHED)
    iqr, tol, diverged, changed, outside, no_rows, not_found, no_method = table.to_dict("records")
    assert (iqr["status"], iqr["rule"]) == ("reproduced", "IQR")
    assert (iqr["ours"], iqr["q25"], iqr["q75"], iqr["n_seeds"]) == (2.0, 1.5, 2.5, 3)
    assert (tol["status"], tol["rule"]) == ("reproduced", "tolerance")
    assert tol["ours"] == pytest.approx(10.1)
    # the diverged seeds count as +inf (sMAPE: lower is better), never dropped
    assert diverged["status"] == "differs" and diverged["n_failed"] == 2
    assert diverged["ours"] == math.inf and diverged["n_seeds"] == 3
    assert diverged["cause"].startswith("diverged on 2 of 3 seeds (ours inf, published 20.0")
    assert changed["status"] == "differs"
    assert changed["cause"].startswith("dysts changed it: not like-for-like (ours 1.00")
    assert outside["status"] == "differs"
    assert outside["cause"] == "outside tolerance (ours 2.00, published 57.0, tolerance 0.5)"
    assert no_rows["status"] == "not run"
    assert no_rows["cause"] == "no smape_fixed of esn on Lorenz (fine)"
    assert not_found["status"] == "not run"
    assert not_found["cause"] == "published number not found: no file has it"
    assert no_method["status"] == "not run" and "stands for THEIRS" not in no_method["cause"]
    assert no_method["cause"] == "no method of ours stands for Theirs"
    summary = rp.summary(table).set_index("method")
    assert summary.loc["nvar", ["reproduced", "differs", "not run"]].tolist() == [2, 2, 0]
    assert summary.loc["esn", "not run"] == 1 and summary["total"].sum() == len(PUBLISHED)


def test_dataset_setting_per_paper_and_seeds_of_an_export(results, tmp_path):
    from dsrbench.reports.export import write_export

    # the coarse rows (9.0) stand in when the paper's setting is coarse
    coarse = rp.reproductions({PAPER: results}, published=PUBLISHED, datasets={PAPER: "coarse"})
    assert coarse.loc[0, "ours"] == 9.0 and coarse.loc[0, "status"] == "differs"
    missing = rp.reproductions({PAPER: results}, published=PUBLISHED, datasets={PAPER: "dsr"})
    assert "the run has dataset settings ['coarse', 'fine']" in missing.loc[0, "cause"]
    # an export of the same rows reads the same; two runs for one paper: 6 seeds
    metrics = pd.read_parquet(layout.merged_metrics(results)).assign(kind="metric")
    export = write_export(metrics, tmp_path / "run.parquet", run="run")
    both = rp.reproductions(
        {PAPER: [results, export]}, published=PUBLISHED, datasets={PAPER: "fine"}
    )
    assert both.loc[0, "n_seeds"] == 6 and both.loc[0, "status"] == "reproduced"
    # a higher-is-better metric: a diverged seed counts as -inf
    vpt = rp._seed_values(
        pd.DataFrame(
            {
                "run": "r",
                "seed": [0, 1, 2],
                "value": [5.0, nan, 6.0],
                "status": ["ok", "diverged", "ok"],
                "reason": None,
            }
        ),
        "vpt_smape",
    )
    assert vpt[0].tolist() == [5.0, -math.inf, 6.0] and vpt[1] == 1
    assert rp._quantile(vpt[0], 0.25) == -math.inf and rp._quantile(vpt[0], 0.75) == 5.5


def test_bad_sources_name_the_thing_and_the_fix(results, tmp_path):
    papers = published_table()["paper"]
    assert rp.resolve_paper("gilpin", papers) == "Gilpin 2023"
    with pytest.raises(rp.ReproductionError, match="'Nobody' is not a paper.*'Gilpin 2023'"):
        rp.parse_runs([f"Nobody={results}"], papers)
    with pytest.raises(rp.ReproductionError, match="does not exist"):
        rp.parse_runs([f"Gilpin 2023={tmp_path / 'nowhere'}"], papers)
    with pytest.raises(rp.ReproductionError, match="neither a results directory"):
        rp.reproductions({PAPER: tmp_path}, published=PUBLISHED)


def _gilpin_fixture(results: Path) -> Path:
    """Ours around the published Gilpin 2023 NVAR sMAPE: Lorenz inside the IQR, Chen
    within the tolerance, Aizawa diverged."""
    pub = published_table()
    pub = pub[(pub["paper"] == "Gilpin 2023") & (pub["method"] == "nvar")].set_index("system")
    rows = []
    for seed, (f, div) in enumerate([(0.9, 50.0), (1.0, nan), (1.1, nan)]):
        for system, value in (
            ("Lorenz", pub.loc["Lorenz", "value"] * f),
            ("Chen", pub.loc["Chen", "value"] * 1.3),
            ("Aizawa", div),
        ):
            rows.append(row(system, "nvar", seed, "smape_fixed", value, dataset="fine"))
    write_results(results, pd.DataFrame(rows, columns=COLUMNS))
    return results


def test_the_command_prints_the_summary_and_the_table(tmp_path, capsys):
    results = _gilpin_fixture(tmp_path / "results")
    assert main(["reproductions", "--run", f"gilpin={results}"]) == 0
    out = capsys.readouterr().out
    assert "2 reproduced, 1 differs, " in out and " not run of " in out
    lines = {line.split()[2]: line for line in out.splitlines() if " nvar " in line}
    assert "reproduced" in lines["Lorenz"] and "reproduced" in lines["Chen"]
    assert "differs" in lines["Aizawa"] and "diverged on 2 of 3 seeds" in lines["Aizawa"]
    assert main(["reproductions", "--run", f"Gilpin 2023={results}", "--format", "csv"]) == 0
    captured = capsys.readouterr()
    csv = pd.read_csv(__import__("io").StringIO(captured.out))
    assert list(csv.columns) == rp.COLUMNS and "reproduced" in captured.err
    assert main(["reproductions", "--run", f"Nobody={results}"]) == 2
    err = capsys.readouterr().err
    assert "'Nobody' is not a paper" in err and "'Liu et al. 2025 (PhyxMamba)'" in err


def test_the_page_renders_the_statuses_and_the_index_links_it(results, tmp_path):
    from dsrbench.reports.render import build_index, render

    csv = tmp_path / "published.csv"
    PUBLISHED.to_csv(csv, index=False)
    out = render(
        REPO / "reports" / "reproductions.ipynb",
        layout.report_page(results, layout.page_id("reproductions")),
        {"sources": {PAPER: str(results)}, "published": str(csv), "datasets": {PAPER: "fine"}},
        cwd=tmp_path,
        timeout=120,
    )
    html = out.read_text(encoding="utf-8")
    assert "Reproductions of the published numbers" in html
    for text in ("reproduced", "differs", "not run", "diverged on 2 of 3 seeds"):
        assert text in html, text
    assert "<strong>2</strong> reproduced, <strong>3</strong> differs" in html
    assert 'id="dsrbench-systems"' in html and 'id="fig-reproductions"' in html
    assert html.count("<tr data-name=") == len(PUBLISHED)
    assert "Traceback" not in html
    index = build_index([], layout.report_index(results))
    assert 'href="reproductions.html"' in index.read_text(encoding="utf-8")


def test_quantiles_keep_the_counted_failures():
    values = np.array([1.0, math.inf, math.inf])
    assert rp._quantile(values, 0.5) == math.inf and rp._quantile(values, 0.25) == math.inf
    assert rp._quantile(np.array([1.0, 2.0, 3.0, 4.0]), 0.25) == pytest.approx(1.75)


def test_training_times_are_medians_over_systems_within_a_factor(results):
    import json

    for system, seconds in (("Lorenz", 0.2), ("Chen", 0.3), ("Aizawa", 0.4)):
        record = layout.model_record(results, "fine", "nvar", system, 0)
        layout.model_dir(results, "fine", "nvar", system, 0).mkdir(parents=True)
        record.write_text(json.dumps({"status": "ok"}))
        info = layout.model_dir(results, "fine", "nvar", system, 0) / "training.json"
        info.write_text(json.dumps({"fit_seconds": seconds}))
    factor = "hardware-dependent wall time: within a factor of two"
    published = pd.DataFrame(
        [
            published_row("median over systems", "nvar", v, 1.0, metric="fit_seconds", **kw)
            for v, kw in ((0.21, {"tolerance_reason": factor}), (0.7, {}), (0.7, {}))
        ],
        columns=list(PUBLISHED_COLUMNS),
    )
    published.loc[2, "tolerance_reason"] = factor
    table = rp.reproductions({PAPER: results}, published=published, datasets={PAPER: "fine"})
    assert table["ours"].tolist() == [0.3, 0.3, 0.3] and table["n_seeds"].tolist() == [1, 1, 1]
    # 0.3 against 0.7: within 100% relative, but not within a factor of two
    assert table["status"].tolist() == ["reproduced", "reproduced", "differs"]
