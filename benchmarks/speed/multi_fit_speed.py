"""Models trained together against the same models trained one after another.

For K = 1, 8, 32 and 135 models (K seeds on standardised Lorenz-63 data, the paper sizes of
``benchmarks/speed/train_speed.py``: shPLRNN + GTF with M = 3, L = 100, adaptive alpha; AL-RNN with
M = 20, P = 2, tau = 16; 16 sequences of 200 steps, 50 batches an epoch), this times

* together: one ``Method.fit_many`` call with the K tasks (the vectorised trainer);
* one after another: ``fit_many`` of each task alone (the same single-model code),

and prints seconds per epoch of all K models and the ratio. Seconds per epoch come from
the Trainer's per-epoch log after one warm-up epoch (set-up, validation and the AL-RNN's
symbolic code are not counted). ``node`` (the neural ODE at the database run's CPU settings
of Gilpin 2023's network: RK4, one step per data step, 10 batches of 64 windows of 15
points, float64 on the CPU) is timed the same way. CPU runs use float64 and one thread
unless ``--threads``; with a GPU present a CUDA row in float32 is added (together only).

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 .venv/bin/python benchmarks/speed/multi_fit_speed.py \
        [--ks 1 8 32 135] [--epochs 2] [--methods shplrnn_gtf alrnn node]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_speed import BATCHES, SETTINGS, lorenz_dataset, write_rows  # noqa: E402

#: the methods timed: the latent RNNs at the paper sizes, the neural ODE at the database
#: run's settings (configs/overrides/gilpin2023_cpu_budget.yaml)
TIMED = {
    **{name: {**settings, "batches_per_epoch": BATCHES} for name, settings in SETTINGS.items()},
    "node": {
        "method": "rk4",
        "substeps": 1,
        "seq_len": 15,
        "batch_size": 64,
        "batches_per_epoch": 10,
    },
}


def tasks(name: str, k: int, epochs: int, data, dtype: str) -> list:
    from dsrbench.methods import FitTask

    params = {
        **TIMED[name],
        "epochs": epochs + 1,
        "validate_every": 10**9,
        "checkpoint_every": 10**9,
        "dtype": dtype,
    }
    return [FitTask(train=data, seed=s, hyperparameters=params, name=f"seed{s}") for s in range(k)]


def epoch_seconds(outcome) -> float:
    """Mean seconds of the timed epochs (after the warm-up) of one fitted model."""
    if not outcome.ok:
        raise RuntimeError(outcome.error)
    history = outcome.model.training_result_.history
    return float(np.mean([row["seconds"] for row in history[1:]]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ks", type=int, nargs="+", default=[1, 8, 32, 135])
    ap.add_argument("--epochs", type=int, default=2, help="timed epochs after one warm-up")
    ap.add_argument("--methods", nargs="+", default=list(TIMED))
    ap.add_argument("--threads", type=int, default=1, help="torch and numba threads")
    ap.add_argument("--out", type=Path, default=Path("docs/multi_fit_speed.csv"))
    args = ap.parse_args(argv)

    import numba

    from dsrbench import methods

    torch.set_num_threads(args.threads)
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    data = lorenz_dataset()
    rows = []
    for name in args.methods:
        cls = methods.get(name)
        for k in args.ks:
            together = cls.fit_many(tasks(name, k, args.epochs, data, "float64"), device="cpu")
            t_together = epoch_seconds(together[0])
            t_alone = sum(
                epoch_seconds(cls.fit_many([task], device="cpu")[0])
                for task in tasks(name, k, args.epochs, data, "float64")
            )
            row = {
                "method": name,
                "K": k,
                "device": "cpu",
                "threads": args.threads,
                "dtype": "float64",
                "together_s_per_epoch": round(t_together, 4),
                "one_after_another_s_per_epoch": round(t_alone, 4),
                "ratio": round(t_alone / t_together, 2),
            }
            rows.append(row)
            print(
                f"{name:12s} K={k:4d} cpu  together {t_together:8.3f} s/epoch  "
                f"one after another {t_alone:8.3f} s/epoch  ratio {t_alone / t_together:6.2f}",
                flush=True,
            )
            if torch.cuda.is_available():
                out = cls.fit_many(tasks(name, k, args.epochs, data, "float32"), device="cuda")
                torch.cuda.synchronize()
                t_cuda = epoch_seconds(out[0])
                rows.append(
                    {
                        **row,
                        "device": "cuda",
                        "threads": "",
                        "dtype": "float32",
                        "together_s_per_epoch": round(t_cuda, 4),
                        "one_after_another_s_per_epoch": "",
                        "ratio": round(t_alone / t_cuda, 2),
                    }
                )
                print(f"{name:12s} K={k:4d} cuda together {t_cuda:8.3f} s/epoch", flush=True)
    write_rows(args.out, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
