"""Reports: the HTML pages rendered from the pipeline's outputs by papermill.

Each page is a parameterized notebook template in ``reports/`` (a cell tagged
``parameters``) that reads only what the pipeline wrote under the results directory. The
notebooks stay short: what they show is built here, so that it is tested and linted.

* :mod:`.results`: :class:`Run`, loading metrics, dataset and prediction stores, training
  records, epoch logs and the AL-RNN's symbolic codes (missing pieces are noted, not fatal);
* :mod:`.stats`: seed aggregates, ranks, seeded bootstrap confidence intervals and the
  spread over seeds beside the spread over systems;
* :mod:`.style`: one colour per method on every page, figure helpers;
* :mod:`.leaderboard`, :mod:`.system`, :mod:`.method`, :mod:`.papers`: what each page shows;
* :mod:`.page`: :class:`Page`, displaying figures (saved as PNG too), tables and notes;
* :mod:`.render`: :func:`render` (papermill, explicit kernel, per-cell timeout, HTML without
  code, atomic writes) and :func:`build_index`, whose systems table (sortable, filterable)
  comes from :mod:`.index`.

Nothing else in dsrbench imports this package.
"""

from __future__ import annotations

from typing import Any

__all__ = ["NoData", "Page", "Run", "open_run"]


def __getattr__(name: str) -> Any:
    # Lazy: `dsrbench.reports.render` (the CLI) must not import pandas and matplotlib.
    if name == "Page":
        from dsrbench.reports.page import Page

        return Page
    if name in ("NoData", "Run", "open_run"):
        from dsrbench.reports import results

        return getattr(results, name)
    raise AttributeError(name)
