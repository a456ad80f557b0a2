"""Command-line interface: ``dsrbench systems | methods | simulate | summary | train |
predict | simulate-chunk | train-chunk | predict-chunk | evaluate | merge | results |
reproductions | report`` (``merge`` is deprecated: ``results merge``, docs/migration.md;
``results export | merge | diff`` and ``report join`` do their work in dsrbench.reports).

The ``*-chunk`` commands are the workflow's jobs (one per chunk of systems); ``simulate``,
``train`` and ``predict`` run one system (and seed) by hand.

This module only parses arguments; the jobs themselves are in :mod:`dsrbench.pipeline` (the
Snakemake rules are thin calls into these commands). Heavy modules are imported inside
the commands so that ``dsrbench systems`` stays fast. Exit status: 0 on success (also when
a job failed: the failure is in its record), 2 for bad input (an input store that is not
sound included), 3 for a full disk or an exceeded file size limit, each with a message
naming the problem and the fix.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from dsrbench import references
from dsrbench.atomic import environment_error
from dsrbench.jobs_cli import add_job_parsers
from dsrbench.report_cli import add_report_parser
from dsrbench.results_cli import add_results_parsers
from dsrbench.systems import systems_table


def _setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def cmd_systems(args: argparse.Namespace) -> int:
    """Print the registry table."""
    filters = {"delay": args.delay, "nonautonomous": args.nonautonomous, "dim": args.dim}
    filters["chaotic"] = args.chaotic
    table = systems_table(**filters, name_contains=args.contains)
    if args.format == "csv":
        sys.stdout.write(table.to_csv(index=False))
    elif table.empty:
        print("no system matches these filters", file=sys.stderr)
    else:
        width = int(table["chaos_reason"].str.len().max())
        left = {"chaos_reason": lambda s: f"{s:<{width}}"}  # free text reads left-aligned
        print(table.to_string(index=False, formatters=left))
        print(f"{len(table)} systems", file=sys.stderr)
    return 0


def cmd_methods(args: argparse.Namespace) -> int:
    """Print the methods with their hyperparameters and defaults."""
    from dsrbench import methods  # its base class imports xarray

    for ref in references.REFERENCES.values():
        if ref.predicts:  # configured in evaluation.methods like a method
            print(f"{ref.name}  ({ref.description})")
    for name in methods.available():
        cls = methods.get(name)
        params = ", ".join(f"{k}={v!r}" for k, v in cls.hyperparameters.items()) or "-"
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        print(f"{name:12s} {params}\n             {doc}")
        if getattr(cls, "darts_class", None):
            print(f"             darts: {cls.darts_class} ({cls.family})")
        if cls.grid:
            print(f"             grid: {cls.grid}")
        if cls.citation:
            print(f"             citation: {cls.citation}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``dsrbench``."""
    parser = argparse.ArgumentParser(
        prog="dsrbench", description="Benchmark suite for learning chaotic dynamics (dysts)."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "systems",
        help="list the 135 continuous dysts systems (with the chaos flag of the default orbit)",
    )
    flag = argparse.BooleanOptionalAction
    p.add_argument("--delay", action=flag, help="only delay equations (--no-delay: only ODEs)")
    p.add_argument("--nonautonomous", action=flag, help="only non-autonomous (--no-...: only not)")
    p.add_argument("--dim", type=int, default=None, help="only systems of this output dimension")
    p.add_argument("--contains", metavar="STR", help="only names containing STR (any case)")
    p.add_argument(
        "--chaotic",
        action=flag,
        help="only systems whose default orbit is chaotic (--no-chaotic: only the others)",
    )
    p.add_argument("--format", choices=["table", "csv"], default="table")
    p.set_defaults(func=cmd_systems)

    p = sub.add_parser("methods", help="list the methods and their hyperparameters")
    p.set_defaults(func=cmd_methods)

    add_job_parsers(sub)

    add_results_parsers(sub)

    add_report_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dsrbench`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return int(args.func(args))
    except BrokenPipeError:  # e.g. `dsrbench systems | head`: silence the final flush too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        # imported by the commands that raise their errors
        records = sys.modules.get("dsrbench.pipeline.records")
        stores = sys.modules.get("dsrbench.stores")
        base = sys.modules.get("dsrbench.methods.base")
        if (
            (records and isinstance(exc, records.JobInputError))
            or (stores and isinstance(exc, stores.StoreIntegrityError))
            or (base and isinstance(exc, base.MissingWeightsError))
        ):
            print(f"dsrbench {args.command}: error: {exc}", file=sys.stderr)
            return 2
        env = environment_error(exc)
        if env is None:
            raise
        outputs = getattr(args, "results_dir", None) or getattr(args, "out", None)
        message = environment_message(env, outputs)
        print(f"dsrbench {args.command}: error: {message}", file=sys.stderr)
        return 3


def environment_message(exc: OSError, outputs: str | None = None) -> str:
    """What a full disk (or an exceeded file size limit, a quota, a read-only or failing
    file system) means for the job writing ``outputs`` and what to do."""
    if exc.filename:
        where = f" writing {exc.filename}"
    else:
        where = f" writing under {outputs}" if outputs else ""
    return (
        f"{exc.strerror or exc}{where} [errno {exc.errno}]: the disk holding the results is "
        "full or refuses the write (or a file size limit, `ulimit -f`, was reached). This "
        "job stopped; nothing it did not finish was renamed into place (outputs are written "
        "under a temporary name first). Free space there (or lift the limit), then run "
        "snakemake again with --rerun-incomplete (and --unlock first if it was killed): the "
        "work finished before is kept."
    )


if __name__ == "__main__":
    sys.exit(main())
