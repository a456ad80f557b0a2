"""What a database run (a workflow results directory) did, system by system and method by method.

The tables of :mod:`dsrbench.reports.database` (per system: simulate, truth and floor
status, integration fallbacks, chaos flag; per method: rows by status, medians and the
floor fractions; the training rows' ``stopped_by``; the work per method), built from the
run's export (:func:`dsrbench.reports.export.build_export`) and printed; with ``--doc``
written as Markdown and CSV. A shipped run's tables are regenerated from its export in
docs/results/<run>/ by ``python benchmarks/tools/results_pages.py``.

    python benchmarks/tools/database_report.py results/gilpin2023_statistical \
        [--doc /tmp/database_gilpin2023_statistical]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from dsrbench.reports.database import database_tables, database_text
from dsrbench.reports.export import build_export


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path)
    ap.add_argument("--doc", type=Path, default=None, help="write <doc>.md and <doc>.csv")
    args = ap.parse_args(argv)
    tables = database_tables(build_export(args.results))
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        for name in ("methods", "stopped_by", "work"):
            print(tables[name].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    if args.doc is not None:
        args.doc.parent.mkdir(parents=True, exist_ok=True)
        tables["systems"].to_csv(args.doc.with_suffix(".csv"), index=False)
        source = (
            f"Command: `python benchmarks/tools/database_report.py {args.results} "
            f"--doc {args.doc}`."
        )
        args.doc.with_suffix(".md").write_text(database_text(tables, str(args.results), source))
        print(f"-> {args.doc.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
