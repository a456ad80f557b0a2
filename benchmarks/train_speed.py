"""Training speed of the DSR models at the paper settings: seconds per epoch and throughput.

shPLRNN + GTF (Hess et al. 2023: M = 3, L = 100, 16 sequences of 200 steps, 50 batches an
epoch) and the AL-RNN (Brenner et al. 2024: M = 20, P = 2, tau = 16, 16 sequences of 200,
50 batches an epoch) on standardised Lorenz-63 data, on the CPU (torch threads as given)
and on CUDA when present. One warm-up epoch, then ``--epochs`` timed epochs through the
methods' own training loop. Throughput = batches x batch size x sequence length / second.

    .venv/bin/python benchmarks/train_speed.py [--epochs 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import csv
import platform
import time
from pathlib import Path

import numpy as np
import torch
import xarray as xr

SETTINGS = {
    "shplrnn_gtf": {"latent_dim": 3, "hidden_dim": 100, "seq_len": 200, "batch_size": 16},
    "alrnn": {
        "latent_dim": 20,
        "relu_units": 2,
        "forcing_interval": 16,
        "seq_len": 200,
        "batch_size": 16,
    },
}


def lorenz_dataset(n: int = 20_000) -> xr.Dataset:
    from dsrbench.integration import simulate

    x = simulate("Lorenz", n, transient=1000, pts_per_period=150)
    return xr.Dataset(
        {
            "x": (("trajectory", "time", "dim"), x),
            "train_mean": (("dim",), x.mean(axis=(0, 1))),
            "train_std": (("dim",), x.std(axis=(0, 1))),
        },
        coords={"time": 0.01 * np.arange(n)},
    )


def seconds_per_epoch(name: str, device: str, epochs: int, data: xr.Dataset) -> float:
    from dsrbench import methods

    params = {
        **SETTINGS[name],
        "batches_per_epoch": 50,
        "validate_every": 10**9,
        "checkpoint_every": 10**9,
    }
    methods.get(name)(**params, epochs=1).fit(data, device=device)  # warm-up
    start = time.perf_counter()
    methods.get(name)(**params, epochs=epochs).fit(data, device=device)
    return (time.perf_counter() - start) / epochs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--out", type=Path, default=Path("docs/train_speed.csv"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = lorenz_dataset()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for name, s in SETTINGS.items():
        steps = 50 * s["batch_size"] * s["seq_len"]
        for device in devices:
            sec = seconds_per_epoch(name, device, args.epochs, data)
            label = torch.cuda.get_device_name() if device == "cuda" else platform.processor()
            rows.append(
                {
                    "method": name,
                    "device": device,
                    "hardware": label or platform.machine(),
                    "torch_threads": args.threads if device == "cpu" else "",
                    "seconds_per_epoch": round(sec, 4),
                    "sequence_steps_per_second": round(steps / sec),
                }
            )
            print(f"{name:12s} {device:4s} {sec:8.3f} s/epoch  {steps / sec:10.0f} steps/s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
