"""``dsrbench report``: render report pages and the index (what the report rules call).

    dsrbench report render reports/system.ipynb --out results/reports/systems/Lorenz.html \\
        --param system Lorenz --param results_dir results --kernel dsrbench --timeout 600
    dsrbench report index results/reports/leaderboard.html ... --out results/reports/index.html
    dsrbench report join results/mine docs/results/RUN/RUN.parquet --out results/joined
    dsrbench report kernel            # register the Jupyter kernel for this environment

Exit status 1 when a notebook fails (the failing cell's error is printed), 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dsrbench.reports.render import RenderError, build_index, ensure_kernel, render

__all__ = ["add_report_parser"]

DEFAULT_KERNEL = "dsrbench"  # as dsrbench.reports.render (not imported here: keeps the CLI fast)


def _value(text: str) -> Any:
    """A parameter value: JSON when it parses (numbers, lists, null), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _parameters(args: argparse.Namespace) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if args.params_json:
        try:
            loaded = json.loads(args.params_json)
        except json.JSONDecodeError as exc:
            raise SystemExit(f"dsrbench report render: --params-json is not JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise SystemExit("dsrbench report render: --params-json must be a JSON object")
        params.update(loaded)
    for name, value in args.param or []:
        params[name] = _value(value)
    if args.figures:
        params["figures_dir"] = args.figures
    return params


def cmd_render(args: argparse.Namespace) -> int:
    params = _parameters(args)
    if args.figures:
        Path(args.figures).mkdir(parents=True, exist_ok=True)
    try:
        out = render(
            args.template,
            args.out,
            params,
            cwd=args.cwd,
            kernel=args.kernel,
            timeout=args.timeout,
        )
    except RenderError as exc:
        print(f"dsrbench report render: error: {exc}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"dsrbench report render: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out} and {out.with_suffix('.ipynb')}", file=sys.stderr)
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    try:
        out = build_index(args.pages, args.out, results_dir=args.results_dir)
    except FileNotFoundError as exc:
        print(f"dsrbench report index: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out} linking {len(args.pages)} pages", file=sys.stderr)
    return 0


def cmd_join(args: argparse.Namespace) -> int:
    from dsrbench.reports.export import ExportError
    from dsrbench.reports.join import join_run

    try:
        joined = join_run(args.results_dir, args.export, args.out, rtol=args.rtol)
    except ExportError as exc:
        print(f"dsrbench report join: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {joined.out}/metrics.parquet: {joined.rows_export} rows of the export, "
        f"{joined.rows_run} of the run",
        file=sys.stderr,
    )
    for note in joined.notes:
        print(f"note: {note}", file=sys.stderr)
    print(
        f"render: dsrbench report render reports/leaderboard.ipynb --param results_dir "
        f"{joined.out} --out {joined.out}/reports/leaderboard.html",
        file=sys.stderr,
    )
    return 0


def cmd_kernel(args: argparse.Namespace) -> int:
    print(ensure_kernel(args.kernel))
    return 0


def add_report_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``report`` (with ``render``, ``index``, ``join``, ``kernel``) to the ``dsrbench``
    parser's subcommands ``sub``."""
    p = sub.add_parser("report", help="render report pages (papermill) and the index")
    rsub = p.add_subparsers(dest="report_command", required=True)

    r = rsub.add_parser("render", help="execute a notebook template and export it as HTML")
    r.add_argument("template", metavar="TEMPLATE.ipynb", help="template with a parameters cell")
    r.add_argument("--out", required=True, metavar="PAGE.html", help="HTML page to write")
    r.add_argument(
        "--param",
        "-p",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="a parameter (VALUE parsed as JSON when it is, else a string); repeatable",
    )
    r.add_argument("--params-json", default=None, metavar="JSON", help="parameters as an object")
    r.add_argument("--figures", default=None, metavar="DIR", help="also save figures as PNG here")
    r.add_argument("--kernel", default=DEFAULT_KERNEL, help="Jupyter kernel name")
    r.add_argument("--timeout", type=float, default=600, help="seconds per cell")
    r.add_argument("--cwd", default=".", help="working directory of the notebook")
    r.set_defaults(func=cmd_render)

    i = rsub.add_parser("index", help="write the index page linking every page")
    i.add_argument("pages", nargs="*", metavar="PAGE.html")
    i.add_argument("--out", required=True, metavar="index.html")
    i.add_argument("--results-dir", default=None, help="for the run summary")
    i.set_defaults(func=cmd_index)

    j = rsub.add_parser(
        "join", help="a run of your methods beside a shipped run's export, for the pages"
    )
    j.add_argument("results_dir", metavar="RESULTS_DIR", help="your run (same protocol)")
    j.add_argument("export", metavar="EXPORT", help="the shipped run's export (.parquet)")
    j.add_argument("--out", required=True, metavar="JOINED_DIR", help="the joined directory")
    j.add_argument("--rtol", type=float, default=1e-6, help="for the truth/floor comparison")
    j.set_defaults(func=cmd_join)

    k = rsub.add_parser("kernel", help="register the Jupyter kernel for this environment")
    k.add_argument("--kernel", default=DEFAULT_KERNEL)
    k.set_defaults(func=cmd_kernel)
    return p
