"""Command-line interface: ``dsrbench systems | methods | simulate | summary | train |
predict | simulate-chunk | train-chunk | predict-chunk | evaluate | merge | results |
reproductions | report`` (``merge`` is deprecated: ``results merge``, docs/migration.md;
``results export | merge | diff`` and ``report join`` do their work in dsrbench.reports).

The ``*-chunk`` commands are the workflow's jobs (one per chunk of systems); ``simulate``,
``train`` and ``predict`` run one system (and seed) by hand.

This module only parses arguments; the jobs themselves are in :mod:`dsrbench.jobs` (the
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
from pathlib import Path


def _setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def cmd_systems(args: argparse.Namespace) -> int:
    """Print the registry table."""
    from dsrbench.systems import systems_table

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
    from dsrbench import methods

    print("truth  (reference oracle: true continuations; independent true free run)")
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


def _slice(args: argparse.Namespace, kind: str) -> dict:
    from dsrbench import jobs

    return jobs.load_slice(
        kind,
        config=args.config,
        config_json=args.config_json,
        job_json=args.job_json,
        system=args.system if kind == "simulate" else _record_system(args.dataset_record),
        dataset=getattr(args, "dataset", None),
        method=getattr(args, "method", None),
    )


def _record_system(path: str) -> str:
    from dsrbench.jobs import read_record

    return str(read_record(path, "dataset record").get("system"))


def cmd_simulate(args: argparse.Namespace) -> int:
    from dsrbench import jobs

    job = _slice(args, "simulate")
    jobs.simulate(job, args.system, args.dataset, out=Path(args.out), record=Path(args.record))
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from dsrbench import jobs

    table = jobs.summary(args.records, _path(args.out))
    if args.out is None:
        sys.stdout.write(table.to_csv(index=False))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from dsrbench import jobs

    jobs.train(
        _slice(args, "train"),
        dataset_record=Path(args.dataset_record),
        method=args.method,
        seed=args.seed,
        out=Path(args.out),
        record=Path(args.record),
        checkpoint_dir=_path(args.checkpoint_dir),
        epoch_log=_path(args.epoch_log),
        threads=args.threads,
    )
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from dsrbench import jobs

    jobs.predict(
        _slice(args, "predict"),
        dataset_record=Path(args.dataset_record),
        model_record=_path(args.model_record),
        method=args.method,
        seed=args.seed,
        out=Path(args.out),
        record=Path(args.record),
    )
    return 0


def _systems(text: str) -> list[str]:
    return [s for s in text.split(",") if s]


def _seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s]
    except ValueError:
        raise SystemExit(f"--seeds must be comma-separated integers, got {text!r}") from None


def cmd_simulate_chunk(args: argparse.Namespace) -> int:
    from dsrbench import jobs

    systems = _systems(args.systems)
    jobs.simulate_chunk(
        jobs.load_chunk_slices("simulate", args.job_json, systems),
        args.dataset,
        results=Path(args.results_dir),
        chunk_record=Path(args.chunk_record),
    )
    return 0


def cmd_train_chunk(args: argparse.Namespace) -> int:
    from dsrbench import jobs

    jobs.train_chunk(
        jobs.load_chunk_slices("train", args.job_json, _systems(args.systems), method=args.method),
        dataset=args.dataset,
        method=args.method,
        seeds=_seeds(args.seeds),
        results=Path(args.results_dir),
        chunk_record=Path(args.chunk_record),
        threads=args.threads,
    )
    return 0


def cmd_predict_chunk(args: argparse.Namespace) -> int:
    from dsrbench import jobs

    jobs.predict_chunk(
        jobs.load_chunk_slices(
            "predict", args.job_json, _systems(args.systems), method=args.method
        ),
        dataset=args.dataset,
        method=args.method,
        seeds=_seeds(args.seeds),
        results=Path(args.results_dir),
        chunk_record=Path(args.chunk_record),
    )
    return 0


def _add_chunk_arguments(p: argparse.ArgumentParser, method: bool) -> None:
    p.add_argument("--systems", required=True, metavar="A,B,C", help="the systems of the chunk")
    p.add_argument(
        "--job-json",
        required=True,
        metavar="JSON",
        help="object mapping each system to its slice of the config (what the rules pass)",
    )
    p.add_argument("--dataset", required=True, help="dataset setting name")
    if method:
        p.add_argument("--method", required=True)
        p.add_argument("--seeds", default="0", metavar="0,1", help="comma-separated seeds")
    p.add_argument("--results-dir", required=True, help="results directory (per-system paths)")
    p.add_argument("--chunk-record", required=True, metavar="CHUNK.json", help="written last")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from dsrbench import jobs

    jobs.evaluate(
        args.records,
        Path(args.out),
        workers=args.workers,
        scheduler_address=args.scheduler_address,
    )
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from dsrbench import jobs

    print(
        "dsrbench merge is deprecated and will be removed in the next release: use "
        "`dsrbench results merge` (docs/migration.md)",
        file=sys.stderr,
    )
    jobs.merge(args.tables, Path(args.out))
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
        out = export_run(args.results_dir, _path(args.out))
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


def _add_config_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--config", metavar="CONFIG.yaml", help="workflow config file")
    src.add_argument("--config-json", metavar="JSON", help="workflow config as a JSON object")
    src.add_argument(
        "--job-json", metavar="JSON", help="the job's slice of the config (what the rules pass)"
    )


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

    p = sub.add_parser("simulate", help="build the dataset of one system and setting")
    _add_config_arguments(p)
    p.add_argument("--system", required=True, help="system name (see `dsrbench systems`)")
    p.add_argument("--dataset", required=True, help="dataset setting name in the config")
    p.add_argument("--out", required=True, metavar="STORE.zarr", help="zarr store to write")
    p.add_argument("--record", required=True, metavar="RECORD.json", help="the job's record")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("summary", help="aggregate dataset records into a CSV")
    p.add_argument("records", nargs="+", metavar="RECORD", help="record files, dirs or globs")
    p.add_argument("--out", default=None, metavar="summary.csv", help="default: stdout")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("methods", help="list the methods and their hyperparameters")
    p.set_defaults(func=cmd_methods)

    p = sub.add_parser("train", help="train one method on one dataset")
    _add_config_arguments(p)
    p.add_argument("--dataset-record", required=True, metavar="RECORD.json")
    p.add_argument("--method", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, metavar="MODEL_DIR", help="model directory to write")
    p.add_argument("--record", required=True, metavar="RECORD.json")
    p.add_argument("--checkpoint-dir", default=None, help="checkpoints (a rerun resumes from them)")
    p.add_argument("--epoch-log", default=None, metavar="EPOCHS.csv", help="per-epoch log")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("predict", help="predict with one method on one dataset")
    _add_config_arguments(p)
    p.add_argument("--dataset-record", required=True, metavar="RECORD.json")
    p.add_argument("--model-record", metavar="RECORD.json", help="`dsrbench train`'s record")
    p.add_argument("--method", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, metavar="STORE.zarr")
    p.add_argument("--record", required=True, metavar="RECORD.json")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("simulate-chunk", help="simulate a chunk of systems (the workflow's job)")
    _add_chunk_arguments(p, method=False)
    p.set_defaults(func=cmd_simulate_chunk)

    p = sub.add_parser("train-chunk", help="train one method on a chunk of systems, all seeds")
    _add_chunk_arguments(p, method=True)
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.set_defaults(func=cmd_train_chunk)

    p = sub.add_parser("predict-chunk", help="predict with one method on a chunk of systems")
    _add_chunk_arguments(p, method=True)
    p.set_defaults(func=cmd_predict_chunk)

    p = sub.add_parser("evaluate", help="evaluate prediction records (Dask)")
    p.add_argument("records", nargs="+", metavar="RECORD")
    p.add_argument("--out", required=True, metavar="metrics.parquet")
    p.add_argument("--workers", type=int, default=None, help="LocalCluster workers")
    p.add_argument("--scheduler-address", default=None, help="use a running Dask scheduler")
    p.set_defaults(func=cmd_evaluate)

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

    from dsrbench.report_cli import add_report_parser

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
        from dsrbench.atomic import environment_error

        # imported by the commands that raise their errors
        jobs = sys.modules.get("dsrbench.jobs")
        stores = sys.modules.get("dsrbench.stores")
        if (jobs and isinstance(exc, jobs.JobInputError)) or (
            stores and isinstance(exc, stores.StoreIntegrityError)
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
