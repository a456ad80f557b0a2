"""``dsrbench report join``: the leaderboard and the DSR paper page rendered by papermill
from a user's run joined to a shipped run's export (12 to 15 s a page). The runs are
conftest's fixtures ``shipped``, ``user_run`` and ``joined``; the other join tests are in
unit/test_join.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import REPO

from dsrbench.reports.render import render


@pytest.mark.parametrize("template", ["leaderboard", "dsr"])
def test_the_pages_render_the_shipped_baselines_beside_the_users_method(
    joined: Path, template: str
) -> None:
    page = render(
        REPO / "reports" / f"{template}.ipynb",
        joined / "reports" / f"{template}.html",
        {"results_dir": str(joined), "n_boot": 50},
        cwd=REPO,
        timeout=300,
    )
    html = page.read_text()
    for name in ("persistence", "mean", "ridge VAR"):
        assert name in html, name
    assert "1 system(s) in common" in html
    if template == "dsr":
        assert "show this run&#x27;s methods only" in html or "show this run's methods only" in html
