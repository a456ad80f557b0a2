"""Regenerate every run page under docs/results/ from its run.yaml and export, or ship a
finished run there.

    python benchmarks/tools/results_pages.py                       # rewrite every generated page
    python benchmarks/tools/results_pages.py publish RESULTS_DIR NAME --command "snakemake ..." \\
        --configfile configs/dsr.yaml [--configfile more.yaml] [--notes TEXT] [--paper NAME] \\
        [--compare METHOD=BASE,BASE@DATASET] [--merged-with SHIPPED_RUN]
    python benchmarks/tools/results_pages.py amend NAME [--notes TEXT] [--merged-with RUN]

``amend`` changes what a shipped page says about its run, not its rows: the notes, or the
shipped runs it reads with its own (a run whose results directory is gone cannot be
published again). CI runs the first form and checks `git diff --exit-code docs/`. Folders
without a run.yaml (the archived pages of runs whose results are gone) are left alone.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dsrbench.reports.comparison import Comparison
from dsrbench.reports.run_pages import amend_run, publish_run, write_page

DOCS = Path(__file__).resolve().parents[2] / "docs" / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command_name")
    pub = sub.add_parser("publish", help="ship a finished run as docs/results/NAME/")
    pub.add_argument("results", type=Path)
    pub.add_argument("name")
    pub.add_argument("--command", required=True, help="the exact command that made the run")
    pub.add_argument("--configfile", action="append", required=True, type=Path)
    pub.add_argument("--notes", default="")
    pub.add_argument(
        "--paper",
        action="append",
        default=[],
        help="a paper (or part of its name) of the published table to set beside the run",
    )
    pub.add_argument(
        "--compare",
        action="append",
        default=[],
        type=Comparison.parse,
        metavar="METHOD=BASE[,BASE...][@DATASET]",
        help="a section setting METHOD beside the BASE methods on the systems they share, "
        "paired by system",
    )
    pub.add_argument(
        "--merged-with",
        action="append",
        default=[],
        metavar="RUN",
        help="a shipped run (docs/results/RUN/) of the same protocol whose rows the page reads "
        "with this run's: a run finished in parts (the parquet keeps this run's rows)",
    )
    pub.add_argument("--docs", type=Path, default=DOCS)
    amend = sub.add_parser("amend", help="change a shipped page's notes or merged runs")
    amend.add_argument("name")
    amend.add_argument("--notes", default=None, help="the new notes (replacing the old)")
    amend.add_argument("--merged-with", action="append", default=None, metavar="RUN")
    amend.add_argument("--docs", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    if args.command_name == "amend":
        print(amend_run(args.docs / args.name, notes=args.notes, merged_with=args.merged_with))
        return 0
    if args.command_name == "publish":
        page = publish_run(
            args.results,
            args.name,
            command=args.command,
            configfiles=args.configfile,
            docs=args.docs,
            notes=args.notes,
            papers=args.paper,
            comparisons=args.compare,
            merged_with=args.merged_with,
        )
        print(page)
        return 0
    for run_yaml in sorted(DOCS.glob("*/run.yaml")):
        print(write_page(run_yaml.parent))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
