"""Training K latent RNNs together (``fit_many``) against one after another: seconds per epoch.

The paper settings of benchmarks/train_speed.py (shPLRNN + GTF: M = 3, L = 100, adaptive
alpha; AL-RNN: M = 20, P = 2, tau = 16; 16 sequences of 200 a batch) on standardised
Lorenz-63 data, K models with different seeds. Each fit runs one warm-up epoch and
``--epochs`` timed ones of ``--batches`` batches (the epoch seconds come from the epoch
log); "sequential" is K times the seconds of one model alone (what ``fit`` one task after
another costs), "together" the seconds of one epoch of the K models trained at once.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/train_many_speed.py [--k 8 32] [--batches 10]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from train_speed import SETTINGS, lorenz_dataset  # noqa: E402


def seconds_per_epoch(name: str, k: int, batches: int, epochs: int, device: str, data) -> float:
    """Seconds of one epoch of K models trained together (mean over the timed epochs)."""
    from dsrbench import methods
    from dsrbench.methods import FitTask

    params = {
        **SETTINGS[name],
        "batches_per_epoch": batches,
        "epochs": epochs + 1,
        "validate_every": 10**9,
        "checkpoint_every": 10**9,
    }
    tasks = [FitTask(data, seed=s, hyperparameters=params) for s in range(k)]
    outcomes = methods.get(name).fit_many(tasks, device=device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    return float(np.mean([r["seconds"] for r in outcomes[0].model.training_result_.history[1:]]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, nargs="+", default=[8, 32], help="models trained together")
    ap.add_argument("--batches", type=int, default=10, help="batches an epoch (paper: 50)")
    ap.add_argument("--epochs", type=int, default=1, help="timed epochs after one warm-up")
    ap.add_argument("--methods", nargs="+", default=list(SETTINGS))
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    data = lorenz_dataset()
    for name in args.methods:
        one = seconds_per_epoch(name, 1, args.batches, args.epochs, args.device, data)
        print(f"{name:12s} K=1   {one:8.3f} s/epoch ({args.batches} batches)", flush=True)
        for k in args.k:
            together = seconds_per_epoch(name, k, args.batches, args.epochs, args.device, data)
            print(
                f"{name:12s} K={k:<3d} together {together:8.3f} s/epoch, sequential "
                f"{k * one:8.3f} s/epoch: {k * one / together:5.1f}x",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
