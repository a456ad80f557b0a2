"""Training speed of the DSR models at the paper settings: seconds per epoch and throughput.

shPLRNN + GTF (Hess et al. 2023: M = 3, L = 100, adaptive alpha, 16 sequences of 200
steps, 50 batches an epoch) and the AL-RNN (Brenner et al. 2024: M = 20, P = 2, tau = 16,
16 sequences of 200, 50 batches an epoch) on standardised Lorenz-63 data, through the
methods' own training loop (``fit``, dtype "auto": float64 on the CPU, float32 on CUDA),
on the CPU with each given number of torch threads
and on CUDA when present. Each fit runs one warm-up epoch and ``--epochs`` timed ones; the
seconds of the timed epochs come from the Trainer's per-epoch log, so model set-up and the
AL-RNN's symbolic code are not counted. Throughput = batches x batch size x sequence
length / second (sequence steps per second).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/speed/train_speed.py [--epochs 3] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import csv
import platform
from pathlib import Path

import numpy as np
import torch
import xarray as xr

BATCHES = 50
SETTINGS = {
    "shplrnn_gtf": {"latent_dim": 3, "hidden_dim": 100, "seq_len": 200, "batch_size": 16},
    "alrnn": {
        "latent_dim": 20,
        "relu_units": 2,
        "forcing_interval": 16,
        "seq_len": 200,
        "batch_size": 16,
        "code_steps": 10,
    },
}


def lorenz_dataset(n: int = 20_000) -> xr.Dataset:
    """One Lorenz-63 trajectory at about 0.01 time units a point, in the dataset schema."""
    from dsrbench.integration import simulate

    x = np.asarray(simulate("Lorenz", n, transient=1000, pts_per_period=150))
    x = x.reshape(1, n, -1)
    return xr.Dataset(
        {
            "x": (("trajectory", "time", "dim"), x),
            "train_mean": (("dim",), x.mean(axis=(0, 1))),
            "train_std": (("dim",), x.std(axis=(0, 1))),
        },
        coords={"time": 0.01 * np.arange(n)},
    )


def seconds_per_epoch(name: str, device: str, epochs: int, data: xr.Dataset) -> float:
    """Mean seconds of ``epochs`` epochs after a warm-up epoch, from the epoch log."""
    from dsrbench import methods

    params = {
        **SETTINGS[name],
        "batches_per_epoch": BATCHES,
        "epochs": epochs + 1,
        "validate_every": 10**9,
        "checkpoint_every": 10**9,
    }
    model = methods.get(name)(**params).fit(data, device=device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return float(np.mean([row["seconds"] for row in model.training_result_.history[1:]]))


def write_rows(path: Path, rows: list[dict]) -> None:
    """Write benchmark rows as CSV (the header from the first row) and say where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"-> {path}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs after one warm-up")
    ap.add_argument("--threads", type=int, nargs="+", default=[1], help="torch CPU threads")
    ap.add_argument("--out", type=Path, default=Path("docs/train_speed.csv"))
    args = ap.parse_args(argv)
    data = lorenz_dataset()
    runs = [("cpu", t) for t in args.threads]
    if torch.cuda.is_available():
        runs.append(("cuda", None))
    rows = []
    for name, s in SETTINGS.items():
        steps = BATCHES * s["batch_size"] * s["seq_len"]
        for device, threads in runs:
            if threads is not None:
                torch.set_num_threads(threads)
            sec = seconds_per_epoch(name, device, args.epochs, data)
            label = torch.cuda.get_device_name() if device == "cuda" else platform.processor()
            rows.append(
                {
                    "method": name,
                    "device": device,
                    "hardware": label or platform.machine(),
                    "torch_threads": threads if threads is not None else "",
                    "dtype": "float64" if device == "cpu" else "float32",
                    "timed_epochs": args.epochs,
                    "seconds_per_epoch": round(sec, 4),
                    "sequence_steps_per_second": round(steps / sec),
                }
            )
            where = f"{device}" + (f" x{threads}" if threads is not None else "")
            print(f"{name:12s} {where:8s} {sec:8.3f} s/epoch  {steps / sec:10.0f} steps/s")
    write_rows(args.out, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
