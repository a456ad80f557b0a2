"""The report pages, on the outputs of a real tiny workflow run (tests/support/report_run.py).

Every template is executed by papermill through the workflow's rules; the pages hold their
figures and no error output; a failing notebook fails the render (and the CLI the rules
call) with the cell's error and leaves no HTML; the index links every page; the figures are
flagged for ``snakemake --report``. The helpers that need no run are in unit/test_reports.py.
"""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from support.report_run import PAPERS, REPO, SYSTEMS, report_run, snakemake

from dsrbench import layout
from dsrbench.reports.render import RenderError, render

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="session")
def run(tmp_path_factory):
    return report_run(tmp_path_factory)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "img":
            self.images.append(a.get("src") or "")


def parse(path: Path) -> _Links:
    p = _Links()
    p.feed(path.read_text(encoding="utf-8"))
    return p


# ------------------------------------------------------------------------ the pages
def test_every_page_is_rendered_with_its_notebook_and_figures(run):
    pages = run.pages()
    assert set(pages) >= {"leaderboard", "paper/gilpin2023", "paper/dsr"}
    for name, page in pages.items():
        assert page.is_file(), f"{name}: {page} missing"
        notebook = page.with_suffix(".ipynb")
        assert notebook.is_file(), f"{name}: executed notebook missing"
        assert not page.with_suffix(".failed.ipynb").exists()
        html = page.read_text(encoding="utf-8")
        body = re.sub(r"<style.*?</style>", "", html, flags=re.S)  # the CSS names every kind
        images = parse(page).images
        assert images, f"{name} has no figure"
        for src in images:
            assert src.startswith("data:image/png;base64,"), f"{name}: image not embedded"
            assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG)
        # no code, no error output, nothing loaded from the internet
        assert "from dsrbench.reports import" not in html, f"{name} shows code"
        assert "Traceback" not in body and "application/vnd.jupyter.stderr" not in body
        assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?://", html), name
        nb = nbformat.read(notebook, as_version=4)
        assert nb.metadata["kernelspec"]["name"] == "dsrbench"
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                assert out["output_type"] != "error", f"{name}: {out}"
                assert not (out["output_type"] == "stream" and out["name"] == "stderr"), (
                    f"{name} wrote to stderr: {out['text'][:500]}"
                )


def test_pages_carry_their_parameters_and_say_what_is_missing(run):
    pages = run.pages()
    for system in SYSTEMS:
        nb = nbformat.read(pages[f"system/{system}"].with_suffix(".ipynb"), as_version=4)
        injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert injected and f'system = "{system}"' in injected[0].source
        html = pages[f"system/{system}"].read_text(encoding="utf-8")
        assert "<h1" in html and system in html
        assert "Lyapunov times" in html  # forecasts on the horizon axis in Lyapunov times
    # the horizon of 60 steps is about 4 Lyapunov times: sMAPE at 10 is absent, and said so
    lb = pages["leaderboard"].read_text(encoding="utf-8")
    assert "not in this run" in lb and "sMAPE at 10 Lyapunov times" in lb
    assert "truth floor" in lb
    # two seeds: ranked on seed medians, the spread over seeds beside that over systems
    assert f"Systems ranked: all {len(SYSTEMS)} systems of this run" in lb
    assert "Spread over seeds" in lb and "2 of 2" in lb
    assert 'id="fig-systems_methods"' in lb  # systems x methods heat map
    nb = nbformat.read(pages["leaderboard"].with_suffix(".ipynb"), as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert "exclude_nonchaotic = False" in injected[0].source  # from the config's default
    dsr = pages["paper/dsr"].read_text(encoding="utf-8")
    assert "Rossler is not among this run" in dsr
    for method in ("shplrnn_gtf", "alrnn"):
        if method not in run.methods:
            assert f"({method}) has no results in this run" in dsr
    assert "PhyxMamba" in dsr and "DynaMix" in dsr  # published figures beside ours
    gilpin = pages["paper/gilpin2023"].read_text(encoding="utf-8")
    assert "published order" in gilpin.lower() or "Gilpin 2023" in gilpin
    assert "no data-limited sweep" in gilpin
    assert "every model ran on the same systems" in gilpin  # no subset: no second ranking
    px = pages["paper/phyxmamba"].read_text(encoding="utf-8")
    assert "PhyxMamba (published)" in px and "5.06" in px and "67.3" in px
    # ours both ways: dsrbench's metrics and the reference variants with and without filter
    assert "dsrbench: D_frac, D_stsp on long free runs" in px
    assert "reference variants, all forecasts" in px and "reference variants, D_stsp &lt; 40" in px
    assert "Rossler is not in this run" in px  # the report run has Lorenz and MackeyGlass
    for method in ("phyxmamba", "koopman_ae"):
        if method in run.methods:
            assert 'id="fig-phyxmamba_learning"' in px
            assert "training seconds" in px and " cores" in px  # the hardware it ran on
    if "phyxmamba" in run.methods:
        assert "Our Lorenz-63 VPT is" in px


def test_method_pages_show_training_and_the_alrnn_symbolic_code(run):
    pages = run.pages()
    for method in run.methods:
        if method == "truth":
            continue
        html = pages[f"method/{method}"].read_text(encoding="utf-8")
        assert "training time" in html.lower()
        epoch_logs = layout.find(run.results, "epoch_log", method=method)
        if epoch_logs:
            assert 'id="fig-training_curves"' in html
        else:
            assert "not trained by epochs" in html
        codes = [
            f
            for f in layout.find(run.results, "model_dir", method=method)
            if (f.path / "symbolic_code.json").is_file()
        ]
        if codes:
            assert 'id="fig-symbolic_code"' in html


def test_figures_saved_for_snakemake_report(run, tmp_path):
    for page in [
        layout.page_id("leaderboard"),
        *(layout.page_id("system", s) for s in SYSTEMS),
        *(layout.page_id("paper", p) for p in PAPERS),
    ]:
        figures = layout.report_figures(run.results, page)
        pngs = list(figures.glob("*.png"))
        assert pngs, f"no figure saved under {figures}"
        assert all(p.read_bytes().startswith(PNG) for p in pngs)
    out = tmp_path / "report.zip"
    res = snakemake(
        run.workdir, "--cores", "1", "--configfile", str(run.configfile), "--report", str(out)
    )
    assert res.returncode == 0, res.stderr[-3000:]
    names = zipfile.ZipFile(out).namelist()
    assert any(n.endswith("short_term.png") for n in names)
    assert any(n.endswith("attractors_tiny.png") for n in names)


def test_index_links_every_page_and_notebook(run):
    index = layout.report_index(run.results)
    links = parse(index).links
    targets = {(index.parent / link).resolve() for link in links}
    for page in run.pages().values():
        assert page.resolve() in targets, f"index does not link {page}"
        assert page.with_suffix(".ipynb").resolve() in targets
    assert all(t.is_file() for t in targets), [t for t in targets if not t.is_file()]
    # the systems as a sortable table, one row per system, each linking its page
    html = index.read_text(encoding="utf-8")
    assert 'id="dsrbench-systems"' in html
    assert html.count("<tr data-name=") == len(SYSTEMS)
    # every page links back to the index and to its notebook
    for page in run.pages().values():
        back = {(page.parent / link).resolve() for link in parse(page).links}
        assert index.resolve() in back and page.with_suffix(".ipynb").resolve() in back


# ------------------------------------------------------------------------ failures
def test_a_failing_notebook_fails_the_render_and_leaves_no_html(run, tmp_path):
    out = tmp_path / "reports" / "leaderboard.html"
    out.parent.mkdir(parents=True)
    out.write_text("<html>an old page</html>")  # must not survive as if it were this run's
    with pytest.raises(RenderError) as err:
        render(
            REPO / "reports" / "leaderboard.ipynb",
            out,
            {"results_dir": str(tmp_path / "no-such-results")},
            cwd=tmp_path,
            timeout=120,
        )
    msg = str(err.value)
    assert "FileNotFoundError" in msg and "no-such-results" in msg and "does not exist" in msg
    assert re.search(r"code cell \d+ \(In \[\d+\]\) raised FileNotFoundError", msg)
    assert not out.exists() and not out.with_suffix(".ipynb").exists()
    assert out.with_suffix(".failed.ipynb").is_file()
    assert not list(out.parent.glob(".*tmp*"))


def test_the_cli_the_rules_call_exits_non_zero_with_the_cell_error(run, tmp_path):
    out = tmp_path / "systems" / "Nowhere.html"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "dsrbench.cli",
            "report",
            "render",
            str(REPO / "reports" / "system.ipynb"),
            "--out",
            str(out),
            "--param",
            "results_dir",
            str(run.results),
            "--param",
            "system",
            "Lorenz63",
            "--cwd",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 1, res.stderr
    assert "UnknownSystemError" in res.stderr and "Lorenz63" in res.stderr
    assert not out.exists()
