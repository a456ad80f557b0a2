"""The installed package stands on its own: a non-editable install (no checkout beside it)
finds its config schema and its Lyapunov table (package data) and validates a config."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

CHECK = """
import json, sys
import dsrbench
from dsrbench.pipeline.config import ConfigError, load_config
cfg = load_config({"systems": ["Lorenz"], "datasets": {"d": {"pts_per_period": 20,
    "length": 100, "n_train": 1, "n_val": 1, "n_test": 1}}})
try:
    load_config({"systems": ["Lorenz"], "datasetz": {}})
except ConfigError as exc:
    error = str(exc)
from dsrbench.systems import chaos_flag
print(json.dumps({"file": dsrbench.__file__, "seed": cfg["seed"],
                  "burn_in": cfg["datasets"]["d"]["burn_in"], "error": error,
                  "chaos": chaos_flag("PanXuZhou").reason}))
"""


def test_a_non_editable_install_validates_a_config(tmp_path):
    # build from a copy of the sources, so that the build leaves nothing in the checkout
    src = tmp_path / "src-copy"
    src.mkdir()
    shutil.copy(REPO / "pyproject.toml", src)
    shutil.copy(REPO / "README.md", src)
    shutil.copytree(
        REPO / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    target = tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation"]
        + ["--no-compile", "--quiet", "--target", str(target), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    assert (target / "dsrbench" / "schemas" / "config.schema.yaml").is_file()
    assert (target / "dsrbench" / "data" / "lyapunov_exponents.csv").is_file()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    run = subprocess.run(
        [sys.executable, "-c", CHECK],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=elsewhere,
        env=env,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert Path(out["file"]).is_relative_to(target)  # the installed copy, not the checkout
    assert out["seed"] == 0 and out["burn_in"] == 1000  # defaults from the shipped schema
    assert "unknown config key 'datasetz' (did you mean 'datasets'?)" in out["error"]
    assert out["chaos"].startswith("not chaotic, equilibrium")  # the shipped Lyapunov table
