"""Command-line interface: ``dsrbench systems | simulate | summary | methods | predict |
evaluate | merge``.

The Snakemake rules are thin calls into these commands. Imports of the heavy modules
(datasets, integration, xarray, zarr) happen inside the commands so that
``dsrbench systems`` stays fast. Exit status: 0 on success (also when an integration
failed: the failure is recorded in the record), 2 for bad input, with a message naming
the problem and the fix.
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("dsrbench")


class UsageError(Exception):
    """Bad input on the command line; reported without a traceback, exit status 2."""


def _setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def write_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename (atomic on POSIX)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


# --------------------------------------------------------------------------- systems


def cmd_systems(args: argparse.Namespace) -> int:
    """Print the registry table."""
    from dsrbench.systems import systems_table

    table = systems_table(
        delay=args.delay,
        nonautonomous=args.nonautonomous,
        dim=args.dim,
        name_contains=args.contains,
    )
    if args.format == "csv":
        sys.stdout.write(table.to_csv(index=False))
    else:
        if table.empty:
            print("no system matches these filters", file=sys.stderr)
            return 0
        print(table.to_string(index=False))
        print(f"{len(table)} systems", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------- simulate


def _load(args: argparse.Namespace) -> dict[str, Any]:
    from dsrbench.config import ConfigError, load_config

    try:
        if args.config_json is not None:
            try:
                raw = json.loads(args.config_json)
            except json.JSONDecodeError as exc:
                raise UsageError(f"--config-json is not valid JSON: {exc}") from None
            if not isinstance(raw, dict):
                raise UsageError("--config-json must be a JSON object")
            return load_config(raw)
        return load_config(args.config)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def cmd_simulate(args: argparse.Namespace) -> int:
    """Build one dataset and write its record (status "ok" or "failed")."""
    from dsrbench.config import job_config
    from dsrbench.systems import UnknownSystemError, get_system_info

    cfg = _load(args)
    try:
        get_system_info(args.system)
    except UnknownSystemError as exc:
        raise UsageError(f"--system: {exc}") from None
    if args.dataset not in cfg["datasets"]:
        raise UsageError(
            f"--dataset {args.dataset!r} is not a dataset setting of the config; "
            f"choose one of: {', '.join(cfg['datasets'])}"
        )
    job = job_config(cfg, args.system, args.dataset)
    # What defines the data (hashed into the store): not where it is written.
    defining = {k: v for k, v in job.items() if k != "results_dir"}
    setting = job["datasets"][args.dataset]
    log.info("simulating %s / %s: %s", args.system, args.dataset, setting)

    from dsrbench.datasets import build_dataset

    start = time.perf_counter()
    try:
        result = build_dataset(
            args.system,
            args.dataset,
            setting,
            seed=job["seed"],
            integration=job["integration"],
            config=defining,
            out=Path(args.out),
        ).to_json()
    except Exception as exc:  # a crash in one system must not stop the run
        log.error("build_dataset raised:\n%s", traceback.format_exc())
        result = {
            "system": args.system,
            "dataset": args.dataset,
            "status": "failed",
            "reason": f"internal error: {type(exc).__name__}: {exc}",
            "wall_time_s": time.perf_counter() - start,
            "n_trajectories": 0,
            "n_time": 0,
            "n_dim": 0,
            "path": None,
        }
    write_atomic(args.record, json.dumps(result, indent=2, sort_keys=True) + "\n")
    if result["status"] == "ok":
        log.info(
            "%s / %s: ok in %.1f s -> %s",
            args.system,
            args.dataset,
            result["wall_time_s"],
            result["path"],
        )
    else:
        log.warning("%s / %s: FAILED: %s", args.system, args.dataset, result["reason"])
    return 0


# --------------------------------------------------------------------------- summary


def _record_paths(items: Sequence[str]) -> list[Path]:
    paths: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            paths.extend(sorted(p.rglob("*.json")))
        elif p.is_file():
            paths.append(p)
        else:
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                raise UsageError(
                    f"no record matches {item!r} (expected a .json file, "
                    "a directory or a glob pattern)"
                )
            paths.extend(Path(m) for m in matches)
    return list(dict.fromkeys(paths))


def cmd_summary(args: argparse.Namespace) -> int:
    """Aggregate record JSONs into one CSV."""
    records = []
    for path in _record_paths(args.records):
        try:
            rec = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"cannot read record {path}: {exc}; delete it and rerun") from None
        if not isinstance(rec, dict) or "status" not in rec:
            raise UsageError(f"{path} is not a dataset record (no 'status' key)")
        records.append(rec)

    from dsrbench.datasets import summarize

    table = summarize(records)
    if args.out is None:
        sys.stdout.write(table.to_csv(index=False))
    else:
        write_atomic(args.out, table.to_csv(index=False))
    n_ok = int((table["status"] == "ok").sum()) if len(table) else 0
    log.info(
        "%d records: %d ok, %d failed%s",
        len(table),
        n_ok,
        len(table) - n_ok,
        f" -> {args.out}" if args.out else "",
    )
    return 0


# --------------------------------------------------------------------------- main


# --------------------------------------------------------------------------- methods


def cmd_methods(args: argparse.Namespace) -> int:
    """Print the methods with their hyperparameters and defaults."""
    from dsrbench import methods

    print("truth  (reference oracle: true continuations; independent true free run)")
    for name in methods.available():
        cls = methods.get(name)
        params = ", ".join(f"{k}={v!r}" for k, v in cls.hyperparameters.items()) or "-"
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        print(f"{name:12s} {params}\n             {doc}")
    return 0


# --------------------------------------------------------------------------- train


def cmd_train(args: argparse.Namespace) -> int:
    """Train one method on one dataset store; write the model and a record."""
    cfg = _load(args)
    from dsrbench.config import method_hyperparameters

    dataset_record = json.loads(Path(args.dataset_record).read_text())
    system = dataset_record["system"]
    result: dict[str, Any] = {
        "system": system,
        "dataset": dataset_record["dataset"],
        "method": args.method,
        "seed": args.seed,
        "model_path": None,
        "status": "ok",
        "reason": None,
    }
    start = time.perf_counter()
    if dataset_record.get("status") != "ok":
        result["status"] = "skipped"
        result["reason"] = f"dataset not available: {dataset_record.get('reason')}"
    else:
        import torch

        from dsrbench.methods import RunFiles
        from dsrbench.train import train_to_directory

        torch.set_num_threads(cfg["training"]["threads"])
        try:
            record = train_to_directory(
                args.method,
                Path(dataset_record["path"]),
                Path(args.out),
                seed=args.seed,
                hyperparameters=method_hyperparameters(cfg, args.method, system),
                device=cfg["training"]["device"],
                budget=cfg["training"]["budget_seconds"],
                train_length=cfg["training"]["train_length"],
                val_length=cfg["training"]["val_length"],
                run=RunFiles(
                    checkpoint_dir=Path(args.checkpoint_dir) if args.checkpoint_dir else None,
                    epoch_log=Path(args.epoch_log) if args.epoch_log else None,
                ),
                config=cfg,
            )
            result["model_path"] = str(args.out)
            result.update({k: v for k, v in record.items() if k not in ("provenance",)})
        except Exception as exc:  # a failing method is recorded, the run goes on
            log.error("train raised:\n%s", traceback.format_exc())
            result["status"] = "failed"
            result["reason"] = f"{type(exc).__name__}: {exc}"
    result["wall_time_s"] = time.perf_counter() - start
    write_atomic(args.record, json.dumps(result, indent=2, sort_keys=True) + "\n")
    log.info("%s / %s / %s: %s", system, args.method, args.seed, result["status"])
    return 0


# --------------------------------------------------------------------------- predict


def cmd_predict(args: argparse.Namespace) -> int:
    """Predict with one method on one dataset store; write a record (ok/skipped/failed)."""
    cfg = _load(args)
    ev = cfg["evaluation"]
    dataset_record = json.loads(Path(args.dataset_record).read_text())
    result: dict[str, Any] = {
        "system": dataset_record["system"],
        "dataset": dataset_record["dataset"],
        "method": args.method,
        "seed": args.seed,
        "dataset_path": dataset_record.get("path"),
        "prediction_path": None,
        "long_run_length": ev["long_run_length"],
        "status": "ok",
        "reason": None,
    }
    start = time.perf_counter()
    model_record = json.loads(Path(args.model_record).read_text()) if args.model_record else None
    if dataset_record.get("status") != "ok":
        result["status"] = "skipped"
        result["reason"] = f"dataset not available: {dataset_record.get('reason')}"
    elif model_record is not None and model_record.get("status") != "ok":
        result["status"] = "skipped" if model_record["status"] == "skipped" else "failed"
        result["reason"] = f"training {model_record['status']}: {model_record.get('reason')}"
    else:
        from dsrbench.config import method_hyperparameters
        from dsrbench.predict import predict_to_store

        try:
            path = predict_to_store(
                args.method,
                Path(dataset_record["path"]),
                Path(args.out),
                context_length=ev["context_length"],
                horizon=ev["horizon"],
                contexts_per_trajectory=ev["contexts_per_trajectory"],
                long_run_length=ev["long_run_length"],
                seed=args.seed,
                hyperparameters=method_hyperparameters(cfg, args.method, result["system"])
                if args.method != "truth"
                else {},
                model_dir=Path(model_record["model_path"]) if model_record else None,
                device=cfg["training"]["device"],
                config=cfg,
            )
            result["prediction_path"] = str(path)
            from dsrbench import stores

            attrs = stores.open_predictions(path).attrs
            result["model_lyapunov"] = bool(attrs.get("model_lyapunov"))
            result["timing"] = attrs.get("timing", {})
        except Exception as exc:  # a failing method is recorded, the run goes on
            log.error("predict raised:\n%s", traceback.format_exc())
            result["status"] = "failed"
            result["reason"] = f"{type(exc).__name__}: {exc}"
    result["wall_time_s"] = time.perf_counter() - start
    write_atomic(args.record, json.dumps(result, indent=2, sort_keys=True) + "\n")
    log.info("%s / %s / %s: %s", result["system"], args.method, args.seed, result["status"])
    return 0


# --------------------------------------------------------------------------- evaluate


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Evaluate prediction records on a Dask cluster; write a tidy parquet table."""
    import pandas as pd

    from dsrbench.evaluate import COLUMNS, metric_row, run_evaluation

    jobs, rows = [], []
    for path in _record_paths(args.records):
        rec = json.loads(path.read_text())
        if rec.get("status") == "ok":
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
    table = run_evaluation(jobs, n_workers=args.workers, scheduler_address=args.scheduler_address)
    if rows:
        table = pd.concat([table, pd.DataFrame(rows, columns=COLUMNS)], ignore_index=True)
    _write_parquet(table, Path(args.out))
    bad = table[~table.status.isin(["ok", "diverged"])]
    log.info("%d rows (%d not ok) -> %s", len(table), len(bad), args.out)
    return 0


def _write_parquet(table: Any, out: Path) -> None:
    """Atomic parquet write; the file's schema metadata carries dsrbench's provenance."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dsrbench.provenance import provenance

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    meta = dict(arrow.schema.metadata or {})
    meta[b"dsrbench_provenance"] = json.dumps(provenance({}), sort_keys=True).encode()
    arrow = arrow.replace_schema_metadata(meta)
    try:
        pq.write_table(arrow, tmp)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()


def cmd_merge(args: argparse.Namespace) -> int:
    """Concatenate per-dataset metric tables into one."""
    import pandas as pd

    table = pd.concat([pd.read_parquet(p) for p in args.tables], ignore_index=True)
    _write_parquet(table, Path(args.out))
    return 0


def _add_config_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--config", metavar="CONFIG.yaml", help="workflow config file")
    src.add_argument("--config-json", metavar="JSON", help="workflow config as a JSON object")


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``dsrbench``."""
    parser = argparse.ArgumentParser(
        prog="dsrbench", description="Benchmark suite for learning chaotic dynamics (dysts)."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("systems", help="list the 135 continuous dysts systems")
    p.add_argument(
        "--delay",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="only delay equations (--no-delay: only ODE flows)",
    )
    p.add_argument(
        "--nonautonomous",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="only non-autonomous systems (--no-nonautonomous: only autonomous)",
    )
    p.add_argument("--dim", type=int, default=None, help="only systems of this output dimension")
    p.add_argument(
        "--contains",
        default=None,
        metavar="STR",
        help="only names containing STR (case-insensitive)",
    )
    p.add_argument("--format", choices=["table", "csv"], default="table")
    p.set_defaults(func=cmd_systems)

    p = sub.add_parser("simulate", help="build the dataset of one system and setting")
    _add_config_arguments(p)
    p.add_argument("--system", required=True, help="system name (see `dsrbench systems`)")
    p.add_argument("--dataset", required=True, help="dataset setting name in the config")
    p.add_argument("--out", required=True, metavar="STORE.zarr", help="zarr store to write")
    p.add_argument(
        "--record", required=True, metavar="RECORD.json", help="where to write the outcome record"
    )
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("summary", help="aggregate dataset records into a CSV")
    p.add_argument(
        "records",
        nargs="+",
        metavar="RECORD",
        help="record .json files, directories (searched recursively) or globs",
    )
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
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("predict", help="predict with one method on one dataset")
    _add_config_arguments(p)
    p.add_argument("--dataset-record", required=True, metavar="RECORD.json")
    p.add_argument(
        "--model-record",
        default=None,
        metavar="RECORD.json",
        help="record of `dsrbench train` (default: fit here)",
    )
    p.add_argument("--method", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, metavar="STORE.zarr")
    p.add_argument("--record", required=True, metavar="RECORD.json")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("evaluate", help="evaluate prediction records (Dask)")
    p.add_argument("records", nargs="+", metavar="RECORD")
    p.add_argument("--out", required=True, metavar="metrics.parquet")
    p.add_argument("--workers", type=int, default=None, help="LocalCluster workers")
    p.add_argument("--scheduler-address", default=None, help="use a running Dask scheduler")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("merge", help="concatenate metric tables")
    p.add_argument("tables", nargs="+")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_merge)

    from dsrbench.report_cli import add_report_parser

    add_report_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dsrbench`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"dsrbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `dsrbench systems | head`: silence the final flush too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
