"""A results directory written at commit 4901663 (conftest's ``old_run``) renders its
leaderboard and system page with today's code (two papermill executions, about 30 s); its
export is checked in unit/test_old_results.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsrbench.reports.render import render

TEMPLATES = Path(__file__).resolve().parents[2] / "reports"


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
