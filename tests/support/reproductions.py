"""A hand-made published table with one row of each reproduction status and a tiny
synthetic results directory that gives each row its status: the reproductions table and
command (unit/test_reproductions.py) and its page in a browser (e2e/test_browser.py)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from dsrbench.pipeline.evaluate import COLUMNS
from dsrbench.reports.published import PUBLISHED_COLUMNS
from support.synthetic_metrics import row, write_results

nan = math.nan
PAPER = "Paper 2024"


def published_row(system: str, method: str, value: float, tol: float, **kw) -> dict:
    """One row of a published table (:data:`dsrbench.reports.published.PUBLISHED_COLUMNS`)
    of :data:`PAPER`; ``kw`` overrides its columns."""
    out = {
        "paper": PAPER,
        "source": "table 1",
        "system": system,
        "method": method,
        "published_method": method.upper() or "Theirs",
        "metric": "smape_fixed",
        "value": value,
        "published_value": repr(value),
        "scale": "sMAPE 0-100",
        "variant": "100 points per period",
        "where": "the paper",
        "tolerance": tol,
        "tolerance_reason": "seed noise",
        "found": True,
    }
    return {**out, **kw}


#: one published row of each status, in order
PUBLISHED = pd.DataFrame(
    [
        published_row("Lorenz", "nvar", 2.2, 0.01),  # inside the IQR [1.5, 2.5]
        published_row("Chen", "nvar", 11.0, 0.2),  # ours 10.1: within 20%
        published_row("Aizawa", "nvar", 20.0, 0.5),  # 2 of 3 seeds diverged
        published_row("Chen", "var", 100.0, 0.5, variant="x; dysts changed it: not like-for-like"),
        published_row("Lorenz", "nvar", 57.0, 0.5),  # ours 2.0: outside
        published_row("Lorenz", "esn", 3.0, 0.5),  # no esn rows
        published_row("Lorenz", "node", nan, nan, found=False, tolerance_reason="no file has it"),
        published_row("Lorenz", "", 3.0, 0.5),  # no counterpart of ours
    ],
    columns=list(PUBLISHED_COLUMNS),
)


def write_fixture(results: Path) -> Path:
    """A results directory whose metric table gives :data:`PUBLISHED` each status."""
    rows = []
    for seed, (lorenz, aizawa) in enumerate([(1.0, 50.0), (2.0, nan), (3.0, nan)]):
        rows.append(row("Lorenz", "nvar", seed, "smape_fixed", lorenz, dataset="fine"))
        rows.append(row("Chen", "nvar", seed, "smape_fixed", 10.0 + 0.1 * seed, dataset="fine"))
        rows.append(row("Aizawa", "nvar", seed, "smape_fixed", aizawa, dataset="fine"))
        rows.append(row("Chen", "var", seed, "smape_fixed", 1.0, dataset="fine"))
        rows.append(row("Lorenz", "nvar", seed, "smape_fixed", 9.0, dataset="coarse"))
    write_results(results, pd.DataFrame(rows, columns=COLUMNS))
    return results
