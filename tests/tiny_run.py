"""A finished tiny run made through the job layer without snakemake (a few seconds):
Lorenz, one setting, the truth oracle, persistence and the trained ``mean`` predictor,
evaluated in-process, plus one failed prediction row. The default tier has no workflow run
(the shared one of report_run.py is end-to-end); tests that need a results directory use
this one through the ``tiny_run`` fixture of conftest.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dsrbench import jobs, layout
from dsrbench.config import load_config, predict_slice, simulate_slice, train_slice
from dsrbench.evaluate import COLUMNS as METRIC_COLUMNS
from dsrbench.evaluate import evaluate_prediction, truth_floor

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


def make_tiny_run(results: Path) -> Path:
    """Write the finished tiny run (see the module doc) into ``results``."""
    cfg = load_config({**CONFIG, "results_dir": str(results)})
    jobs.simulate_chunk(
        {SYSTEM: simulate_slice(cfg, SYSTEM, DATASET)},
        DATASET,
        results=results,
        chunk_record=layout.dataset_chunk(results, DATASET, "c000"),
    )
    jobs.train_chunk(
        {SYSTEM: train_slice(cfg, "mean", SYSTEM)},
        dataset=DATASET,
        method="mean",
        seeds=[0],
        results=results,
        chunk_record=layout.model_chunk(results, DATASET, "mean", "c000"),
    )
    for method in METHODS:
        jobs.predict_chunk(
            {SYSTEM: predict_slice(cfg, method, SYSTEM)},
            dataset=DATASET,
            method=method,
            seeds=[0],
            results=results,
            chunk_record=layout.prediction_chunk(results, DATASET, method, "c000"),
        )
    store = layout.dataset_store(results, DATASET, SYSTEM)
    floor = truth_floor(store, 300)
    rows = list(floor)
    for method in METHODS:
        pred = layout.prediction_store(results, DATASET, method, SYSTEM, 0)
        rows += evaluate_prediction(store, pred, floor)
    # a prediction that failed: one row with its status and reason, as jobs.evaluate writes
    rows.append(
        {
            **{c: None for c in METRIC_COLUMNS},
            "system": SYSTEM,
            "dataset": DATASET,
            "method": "persistence",
            "seed": 1,
            "metric": "predict",
            "value": np.nan,
            "status": "failed",
            "reason": "RuntimeError: boom",
        }
    )
    table = pd.DataFrame(rows, columns=METRIC_COLUMNS)
    jobs.write_metrics_table(table, layout.metrics_table(results, DATASET))
    jobs.merge([layout.metrics_table(results, DATASET)], layout.merged_metrics(results))
    return results
