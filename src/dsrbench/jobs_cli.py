"""The workflow's job commands: ``dsrbench simulate | summary | train | predict`` (one
system by hand) and ``simulate-chunk | train-chunk | predict-chunk | evaluate`` (the jobs the
Snakemake rules call, one per chunk of systems). Argument parsing only; the jobs are in
the ``*_job`` modules of :mod:`dsrbench.pipeline`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dsrbench.pipeline import evaluate_job, simulate_job, true_runs_job
from dsrbench.pipeline.records import read_record

__all__ = ["add_job_parsers"]


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _slice(args: argparse.Namespace, kind: str) -> dict:
    from dsrbench.pipeline import slices  # heavy: xarray, jsonschema

    return slices.load_slice(
        kind,
        config=args.config,
        config_json=args.config_json,
        system=args.system if kind == "simulate" else _record_system(args.dataset_record),
        dataset=getattr(args, "dataset", None),
        method=getattr(args, "method", None),
    )


def _record_system(path: str) -> str:
    return str(read_record(path, "dataset record").get("system"))


def cmd_simulate(args: argparse.Namespace) -> int:
    job = _slice(args, "simulate")
    simulate_job.simulate(
        job, args.system, args.dataset, out=Path(args.out), record=Path(args.record)
    )
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    table = simulate_job.summary(args.records, _path(args.out))
    if args.out is None:
        sys.stdout.write(table.to_csv(index=False))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from dsrbench.pipeline import train_job  # heavy: xarray, jsonschema

    train_job.train(
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
    from dsrbench.pipeline import predict_job  # heavy: xarray, jsonschema

    predict_job.predict(
        _slice(args, "predict"),
        dataset_record=Path(args.dataset_record),
        model_record=_path(args.model_record),
        method=args.method,
        seed=args.seed,
        out=Path(args.out),
        record=Path(args.record),
    )
    return 0


def _cut(args: argparse.Namespace, kind: str) -> tuple[dict, dict]:
    from dsrbench.pipeline import slices  # heavy: xarray, jsonschema

    return slices.cut_chunk(
        kind,
        args.resolved_config,
        args.dataset,
        args.chunk,
        method=getattr(args, "method", None),
        slice_hash=args.slice_hash,
    )


def cmd_simulate_chunk(args: argparse.Namespace) -> int:
    _, slices = _cut(args, "simulate")
    simulate_job.simulate_chunk(
        slices,
        args.dataset,
        results=Path(args.results_dir),
        chunk_record=Path(args.chunk_record),
    )
    return 0


def cmd_train_chunk(args: argparse.Namespace) -> int:
    from dsrbench.pipeline import train_job  # heavy: xarray, jsonschema

    cfg, slices = _cut(args, "train")
    train_job.train_chunk(
        slices,
        dataset=args.dataset,
        method=args.method,
        seeds=cfg["evaluation"]["seeds"],
        results=Path(args.results_dir),
        chunk_record=Path(args.chunk_record),
        threads=args.threads,
    )
    return 0


def cmd_predict_chunk(args: argparse.Namespace) -> int:
    from dsrbench.pipeline import predict_job  # heavy: xarray, jsonschema

    cfg, slices = _cut(args, "predict")
    predict_job.predict_chunk(
        slices,
        dataset=args.dataset,
        method=args.method,
        seeds=cfg["evaluation"]["seeds"],
        results=Path(args.results_dir),
        chunk_record=Path(args.chunk_record),
    )
    return 0


def cmd_truth_chunk(args: argparse.Namespace) -> int:
    _, slices = _cut(args, "truth")
    true_runs_job.true_runs_chunk(
        slices,
        args.dataset,
        results=Path(args.results_dir),
        chunk_record=Path(args.chunk_record),
    )
    return 0


def _add_chunk_arguments(p: argparse.ArgumentParser, method: bool) -> None:
    p.add_argument(
        "--resolved-config",
        required=True,
        metavar="CONFIG.json",
        help="the run's resolved config (the workflow writes it; dsrbench.pipeline.plan)",
    )
    p.add_argument(
        "--slice-hash",
        default=None,
        metavar="SHA256",
        help="the hash of the job's slices the workflow planned it with (checked)",
    )
    p.add_argument("--dataset", required=True, help="dataset setting name")
    p.add_argument("--chunk", required=True, metavar="c000", help="the chunk of systems")
    if method:
        p.add_argument("--method", required=True)
    p.add_argument("--results-dir", required=True, help="results directory (per-system paths)")
    p.add_argument("--chunk-record", required=True, metavar="CHUNK.json", help="written last")


def cmd_evaluate(args: argparse.Namespace) -> int:
    evaluate_job.evaluate(
        args.records,
        Path(args.out),
        workers=args.workers,
        scheduler_address=args.scheduler_address,
        cache=not args.no_cache,
    )
    return 0


def _add_config_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--config", metavar="CONFIG.yaml", help="workflow config file")
    src.add_argument("--config-json", metavar="JSON", help="workflow config as a JSON object")


def add_job_parsers(sub: argparse._SubParsersAction) -> None:
    """Register the job commands on ``sub``."""
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

    p = sub.add_parser(
        "truth-chunk", help="integrate the long true runs of a chunk of systems once"
    )
    _add_chunk_arguments(p, method=False)
    p.set_defaults(func=cmd_truth_chunk)

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
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="score every store again (default: read back cached rows whose key holds)",
    )
    p.set_defaults(func=cmd_evaluate)
