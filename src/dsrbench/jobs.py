"""Deprecated alias of the stage modules of :mod:`dsrbench.pipeline` (split in 0.1.0,
docs/migration.md): each old name of ``dsrbench.jobs`` is looked up in its new module.
Import those instead: this module goes in the next release."""

import importlib
import warnings

warnings.warn(
    "dsrbench.jobs is deprecated: import the stage modules of dsrbench.pipeline "
    "(simulate_job, true_runs_job, train_job, predict_job, evaluate_job, slices; "
    "docs/migration.md)",
    DeprecationWarning,
    stacklevel=2,
)

#: old name -> the module of dsrbench.pipeline that holds it now
MOVED = {
    "load_slice": "slices",
    "cut_chunk": "slices",
    "simulate": "simulate_job",
    "simulate_chunk": "simulate_job",
    "summary": "simulate_job",
    "true_runs_chunk": "true_runs_job",
    "train": "train_job",
    "train_chunk": "train_job",
    "PAUSE_ENV": "train_job",
    "predict": "predict_job",
    "predict_chunk": "predict_job",
    "evaluate": "evaluate_job",
    "merge": "evaluate_job",
}
__all__ = sorted(MOVED)


def __getattr__(name: str):
    if name not in MOVED:
        raise AttributeError(f"module 'dsrbench.jobs' has no attribute {name!r}")
    return getattr(importlib.import_module(f"dsrbench.pipeline.{MOVED[name]}"), name)
