"""``dsrbench results`` (export, merge, diff: portable results of a run), the deprecated
``dsrbench merge`` and ``dsrbench reproductions``: argument parsing only; the work lives in
:mod:`dsrbench.reports.export`, :mod:`dsrbench.reports.combine` and
:mod:`dsrbench.reports.reproductions`. Exit status 2 for bad input, with a message naming
the thing and the fix.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dsrbench.pipeline import evaluate_job

__all__ = ["add_results_parsers"]


def cmd_merge(args: argparse.Namespace) -> int:
    print(
        "dsrbench merge is deprecated and will be removed in the next release: use "
        "`dsrbench results merge` (docs/migration.md)",
        file=sys.stderr,
    )
    evaluate_job.merge(args.tables, Path(args.out))
    return 0


def cmd_results_merge(args: argparse.Namespace) -> int:
    from dsrbench.reports.combine import merge_exports
    from dsrbench.reports.export import ExportError

    try:
        merged = merge_exports(args.exports, args.out)
    except ExportError as exc:
        print(f"dsrbench results merge: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {merged.out} ({merged.kind}): {merged.rows_out} rows of {merged.rows_in} "
        f"({merged.rows_in - merged.rows_out} found twice, equal, kept once)",
        file=sys.stderr,
    )
    return 0


def cmd_results_diff(args: argparse.Namespace) -> int:
    from dsrbench.reports.combine import diff_exports, diff_text
    from dsrbench.reports.export import ExportError

    try:
        diff = diff_exports(args.a, args.b, rtol=args.rtol, atol=args.atol)
    except ExportError as exc:
        print(f"dsrbench results diff: error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(diff_text(diff, args.format))
    for note in diff.notes:
        print(f"note: {note}", file=sys.stderr)
    print(diff.summary(args.a, args.b, args.rtol, args.atol), file=sys.stderr)
    return 0 if diff.equal else 1


def cmd_results_export(args: argparse.Namespace) -> int:
    from dsrbench.reports.export import ExportError, export_run

    try:
        out = export_run(args.results_dir, args.out)
    except ExportError as exc:
        print(f"dsrbench results export: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}", file=sys.stderr)
    return 0


def cmd_reproductions(args: argparse.Namespace) -> int:
    from dsrbench.reports.reproductions import ReproductionError, cli

    try:
        summary, table = cli(args.run or [], args.format)
    except ReproductionError as exc:
        print(f"dsrbench reproductions: error: {exc}", file=sys.stderr)
        return 2
    if args.format == "csv":  # the table alone on stdout, the summary beside it
        print(summary, file=sys.stderr)
        sys.stdout.write(table)
    else:
        print(f"{summary}\n\n{table}")
    return 0


def add_results_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``results``, ``merge`` (deprecated) and ``reproductions`` on ``sub``."""
    p = sub.add_parser("merge", help="deprecated: `dsrbench results merge`")
    p.add_argument("tables", nargs="+")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_merge)

    p = sub.add_parser("results", help="portable results of a run (export, merge, diff)")
    results = p.add_subparsers(dest="results_command", required=True)
    r = results.add_parser("export", help="one tidy parquet of a run's metrics and training")
    r.add_argument("results_dir", help="results directory of a finished run")
    r.add_argument("--out", default=None, help="default: <results_dir>/export/<run>.parquet")
    r.set_defaults(func=cmd_results_export)
    r = results.add_parser("merge", help="combine exports of one protocol (or metric tables)")
    r.add_argument("exports", nargs="+", metavar="EXPORT", help="exports or metric tables")
    r.add_argument("--out", required=True, metavar="PATH", help="the merged parquet")
    r.set_defaults(func=cmd_results_merge)
    r = results.add_parser("diff", help="metrics that changed between two exports (exit 1)")
    r.add_argument("a", metavar="A", help="an export (or metric table)")
    r.add_argument("b", metavar="B", help="another export of the same protocol")
    r.add_argument("--rtol", type=float, default=1e-6, help="relative tolerance")
    r.add_argument("--atol", type=float, default=0.0, help="absolute tolerance")
    r.add_argument("--format", choices=["table", "csv"], default="table")
    r.set_defaults(func=cmd_results_diff)

    p = sub.add_parser(
        "reproductions", help="every published number with ours beside it and a status"
    )
    p.add_argument(
        "--run",
        action="append",
        metavar="PAPER=PATH",
        help="a paper (or a unique part of its name) and its results directory, run export "
        "or folder of exports; repeatable",
    )
    p.add_argument("--format", choices=["table", "csv"], default="table")
    p.set_defaults(func=cmd_reproductions)
