"""The evaluate stage: every metric of a dataset's prediction records on Dask
(:func:`evaluate`), and the concatenation of per-dataset metric tables (:func:`merge`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dsrbench.pipeline.records import (
    read_record,
    record_paths,
    write_metrics_table,
)

__all__ = ["evaluate", "merge"]

log = logging.getLogger("dsrbench")


def evaluate(
    items: Sequence[str],
    out: Path,
    *,
    workers: int | None = None,
    scheduler_address: str | None = None,
    cache: bool = True,
) -> Any:
    """Every metric of the ``ok`` prediction records (on Dask) and one row per prediction
    that was skipped or failed; writes the table to ``out``. With ``cache``, the rows of a
    store scored before under the same key are read back (:func:`dsrbench.pipeline.evaluate.
    run_evaluation`)."""
    import pandas as pd

    from dsrbench.pipeline.evaluate import COLUMNS, metric_row, run_evaluation

    jobs, rows = [], []
    for path in record_paths(items):
        rec = read_record(path, "prediction record")
        if rec["status"] == "ok":
            jobs.append(rec)
        else:
            rows.append(
                metric_row(
                    rec["system"],
                    rec["dataset"],
                    rec["method"],
                    rec["seed"],
                    "predict",
                    status=rec["status"],
                    reason=rec["reason"],
                )
            )
    table = run_evaluation(
        jobs, n_workers=workers, scheduler_address=scheduler_address, cache=cache
    )
    if rows:
        table = pd.concat([table, pd.DataFrame(rows, columns=COLUMNS)], ignore_index=True)
    write_metrics_table(table, out)
    bad = table[~table.status.isin(["ok", "diverged"])]
    log.info("%d rows (%d not ok) -> %s", len(table), len(bad), out)
    return table


def merge(tables: Sequence[str | Path], out: Path) -> Any:
    """Concatenate per-dataset metric tables into one."""
    import pandas as pd

    table = pd.concat([pd.read_parquet(p) for p in tables], ignore_index=True)
    write_metrics_table(table, out)
    return table
