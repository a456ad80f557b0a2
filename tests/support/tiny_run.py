"""A finished tiny run made through the job layer without snakemake (a few seconds):
Lorenz, one setting, the truth oracle, persistence and the trained ``mean`` predictor,
evaluated in-process, plus one failed prediction row. The default tier has no workflow run
(the shared one of report_run.py is end-to-end); tests that need a results directory use
this one through the ``tiny_run`` fixture of conftest.py."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dsrbench import layout
from dsrbench.pipeline import evaluate_job, predict_job, records, simulate_job, train_job
from dsrbench.pipeline.config import load_config
from dsrbench.pipeline.evaluate import COLUMNS as METRIC_COLUMNS
from dsrbench.pipeline.evaluate import evaluate_prediction, truth_floor
from dsrbench.pipeline.plan import is_trained, predict_slice, simulate_slice, train_slice

DATASET, SYSTEM = "tiny", "Lorenz"
METHODS = ["truth", "persistence", "mean"]
CONFIG = {
    "systems": [SYSTEM],
    "datasets": {
        DATASET: {
            "pts_per_period": 20,
            "length": 300,
            "n_train": 1,
            "n_val": 1,
            "n_test": 1,
            "burn_in": 100,
        }
    },
    "evaluation": {
        "methods": METHODS,
        "seeds": [0],
        "context_length": 20,
        "horizon": 60,
        "contexts_per_trajectory": 2,
        "long_run_length": 300,
    },
    "training": {"device": "cpu"},
}


def make_run(
    results: Path,
    config: dict[str, Any],
    *,
    extra_rows: Sequence[dict[str, Any]] = (),
) -> Path:
    """A finished run of ``config`` (one system, one dataset setting, methods and seeds of
    its ``evaluation``) through the job layer: simulate, train the methods that need a fit,
    predict, evaluate in-process (plus ``extra_rows``, as evaluate_job.evaluate writes failures)
    and merge."""
    cfg = load_config({**config, "results_dir": str(results)})
    (system,), (dataset,) = cfg["systems"], list(cfg["datasets"])
    methods, seeds = cfg["evaluation"]["methods"], cfg["evaluation"]["seeds"]
    simulate_job.simulate_chunk(
        {system: simulate_slice(cfg, system, dataset)},
        dataset,
        results=results,
        chunk_record=layout.dataset_chunk(results, dataset, "c000"),
    )
    for method in methods:
        names = {"dataset": dataset, "method": method, "seeds": seeds, "results": results}
        if is_trained(method):
            train_job.train_chunk(
                {system: train_slice(cfg, method, system)},
                **names,
                chunk_record=layout.model_chunk(results, dataset, method, "c000"),
            )
        predict_job.predict_chunk(
            {system: predict_slice(cfg, method, system)},
            **names,
            chunk_record=layout.prediction_chunk(results, dataset, method, "c000"),
        )
    store = layout.dataset_store(results, dataset, system)
    floor = truth_floor(store, int(cfg["evaluation"]["long_run_length"]))
    rows = list(floor)
    for method in methods:
        for seed in seeds:
            pred = layout.prediction_store(results, dataset, method, system, seed)
            rows += evaluate_prediction(store, pred, floor)
    rows += [{**{c: None for c in METRIC_COLUMNS}, **r} for r in extra_rows]
    table = pd.DataFrame(rows, columns=METRIC_COLUMNS)
    records.write_metrics_table(table, layout.metrics_table(results, dataset))
    evaluate_job.merge([layout.metrics_table(results, dataset)], layout.merged_metrics(results))
    return results


def make_tiny_run(results: Path) -> Path:
    """Write the finished tiny run (see the module doc) into ``results``, with a prediction
    that failed: one row with its status and reason."""
    failed = {
        "system": SYSTEM,
        "dataset": DATASET,
        "method": "persistence",
        "seed": 1,
        "metric": "predict",
        "value": np.nan,
        "status": "failed",
        "reason": "RuntimeError: boom",
    }
    return make_run(results, CONFIG, extra_rows=[failed])


#: the methods of a user's run in the join tests: the oracle and a method the tiny run lacks
USER_METHODS = ["truth", "var"]


def make_user_run(results: Path, config: dict[str, Any] = CONFIG) -> Path:
    """A finished run of ``config`` with the oracle and ``var`` only: a user's run to join
    to the tiny run's export (``dsrbench report join``)."""
    evaluation = {**config["evaluation"], "methods": USER_METHODS}
    return make_run(results, {**config, "evaluation": evaluation})
