"""The zero-shot stack (configs/lyapunov.yaml + configs/zeroshot.yaml + a tiny override) run by
real snakemake on two systems; the other zero-shot tests are in unit/test_zeroshot.py."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml
from support import REPO
from support.zeroshot import CONFIG, DATASET

from dsrbench import layout, stores

#: the tiny stack on configs/lyapunov.yaml + configs/zeroshot.yaml of the workflow test
TINY_OVERRIDE = {
    "systems": ["Lorenz", "Torus"],
    "datasets": {DATASET: {"length": 160, "n_train": 2, "n_val": 1, "n_test": 1, "burn_in": 200}},
    "training": {"device": "cpu"},
    "evaluation": {k: v for k, v in CONFIG["evaluation"].items() if k not in ("methods",)}
    | {"methods": ["truth", "persistence", "context_parroting", "linear_regression"]},
}


def test_workflow_runs_the_zeroshot_stack_on_two_systems(tmp_path) -> None:
    """Real snakemake on configs/lyapunov.yaml + configs/zeroshot.yaml + a tiny override
    (2 systems, 4 contexts each): per-context model records, predictions from every
    initial condition, the sweep in the metrics, and the zero-shot page."""
    import subprocess
    import sys

    results = tmp_path / "results"
    override = tmp_path / "tiny.yaml"
    override.write_text(yaml.safe_dump({**TINY_OVERRIDE, "results_dir": str(results)}))
    cmd = [
        str(Path(sys.executable).parent / "snakemake"),
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(tmp_path),
        "--cores",
        "2",
        "--configfile",
        str(REPO / "configs/lyapunov.yaml"),
        str(REPO / "configs/zeroshot.yaml"),
        str(override),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-5000:]
    for system in ("Lorenz", "Torus"):
        rec = json.loads(
            layout.model_record(results, DATASET, "linear_regression", system, 0).read_text()
        )
        assert rec["status"] == "ok" and len(rec["contexts"]) == 4
        for k in range(4):
            assert (Path(rec["model_path"]) / f"context{k:03d}" / "training.json").exists()
    table = pd.read_parquet(layout.merged_metrics(results))
    sweep = table[table.metric == "smape200_context"]
    assert set(sweep.method) == {"context_parroting", "persistence"}
    assert sorted(sweep[sweep.system == "Lorenz"].n_points.unique()) == [20, 60, 120]
    pred = stores.open_predictions(
        layout.prediction_store(results, DATASET, "linear_regression", "Lorenz", 0)
    )
    assert pred.sizes["context"] == 4 and pred.attrs["fit_on_context"]
    page = (results / "reports" / "papers" / "zeroshot.html").read_text(encoding="utf-8")
    assert "What each method saw" in page and "fitted on each 60-point context alone" in page
    assert "Torus" in page and "not chaotic" in page  # flagged, with its reason
