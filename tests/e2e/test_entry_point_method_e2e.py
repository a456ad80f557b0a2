"""A method from another installed package (entry-point group ``dsrbench.methods``) run
through the whole workflow with ``PYTHONPATH`` pointing at the package; the in-process
checks are in unit/test_entry_point_method.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml
from support import REPO
from support.method_package import make_method_package
from support.tiny_run import CONFIG as TINY

from dsrbench import layout

SNAKEMAKE = Path(sys.executable).parent / "snakemake"


def test_an_installed_method_runs_through_the_workflow(tmp_path: Path) -> None:
    """snakemake on a tiny config (Lorenz, truth, persistence, linmap) with the package on
    ``PYTHONPATH`` only: planned, trained, predicted and scored like a built-in method
    (about a minute on 2 cores)."""
    site = make_method_package(
        tmp_path / "site", "dsrb-linmap", "dsrb_linmap", {"linmap": "dsrb_linmap.linmap:LinearMap"}
    )
    workdir = tmp_path / "run"
    workdir.mkdir()
    results = workdir / "results"
    config = {
        "systems": TINY["systems"],
        "results_dir": str(results),
        "datasets": TINY["datasets"],  # tests/support/tiny_run.py's setting
        "evaluation": {
            "methods": ["truth", "persistence", "linmap"],
            "seeds": [0],
            "context_length": 20,
            "horizon": 40,
            "contexts_per_trajectory": 2,
            "long_run_length": 300,
        },
        "training": {"device": "cpu"},
        "reports": {"enabled": False},
    }
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    path = os.pathsep.join([str(site), str(REPO / "src"), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}
    cmd = [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir)]
    cmd += ["--cores", "2", "--configfile", str(configfile)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=workdir, env=env)
    assert res.returncode == 0, res.stderr[-6000:]
    metrics = pd.read_parquet(layout.merged_metrics(results))
    rows = metrics[metrics["method"] == "linmap"]
    assert len(rows) > 0
    assert set(metrics["method"]) >= {"truth", "persistence", "linmap"}
