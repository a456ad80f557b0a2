"""What the trainer's tests in both tiers share: the tiny shPLRNN + GTF settings and the
epochs of an epoch log (unit/test_training.py, e2e/test_training_e2e.py)."""

from __future__ import annotations

import csv
from pathlib import Path

#: shPLRNN + GTF settings small enough for a test (seconds)
TINY = {
    "epochs": 6,
    "batches_per_epoch": 5,
    "seq_len": 20,
    "hidden_dim": 20,
    "validate_every": 3,
    "checkpoint_every": 1,
    "alpha_update_every": 2,
}


def log_epochs(path: Path) -> list[int]:
    """The epoch column of an epoch log (csv)."""
    return [int(r["epoch"]) for r in csv.DictReader(path.open())]
