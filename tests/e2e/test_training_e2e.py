"""A real `dsrbench train` killed (SIGKILL) after its first checkpoint: the rerun resumes
from it; the trainer's other tests are in unit/test_training.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from support import LORENZ_SETTING
from support.training import TINY, log_epochs

from dsrbench.methods import trainer


def test_a_killed_training_job_resumes_from_its_checkpoint(lorenz_store, tmp_path) -> None:
    """SIGKILL a real `dsrbench train` after its first checkpoint; the rerun continues."""
    record = tmp_path / "dataset.json"
    record.write_text(
        json.dumps(
            {"system": "Lorenz", "dataset": "methods", "status": "ok", "path": str(lorenz_store)}
        )
    )
    params = {**TINY, "epochs": 60, "batches_per_epoch": 3, "validate_every": 1000}
    cfg = json.dumps(
        {
            "systems": ["Lorenz"],
            "datasets": {"methods": LORENZ_SETTING},
            "training": {"device": "cpu"},
            "evaluation": {"methods": ["shplrnn_gtf"], "hyperparameters": {"shplrnn_gtf": params}},
        }
    )
    ckpt, log = tmp_path / "ckpt", tmp_path / "epochs.csv"
    cmd = [
        sys.executable,
        "-m",
        "dsrbench.cli",
        "train",
        "--config-json",
        cfg,
        "--dataset-record",
        str(record),
        "--method",
        "shplrnn_gtf",
        "--out",
        str(tmp_path / "model"),
        "--record",
        str(tmp_path / "rec.json"),
        "--checkpoint-dir",
        str(ckpt),
        "--epoch-log",
        str(log),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (ckpt / trainer.CHECKPOINT_NAME).exists():
        assert proc.poll() is None, "dsrbench train exited before its first checkpoint"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "model").exists() and not (tmp_path / "rec.json").exists()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    rec = json.loads((tmp_path / "rec.json").read_text())
    assert rec["status"] == "ok", rec
    assert 1 <= rec["resumed_from_epoch"] < 60 and rec["epochs_run"] == 60
    assert log_epochs(log) == list(range(1, 61))
    assert Path(rec["model_path"]).is_dir()
