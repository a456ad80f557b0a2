"""Seconds per training epoch of the latent-RNN loss gradients: numba kernels vs eager torch.

One epoch = 50 batches of 16 windows of 200 steps, D = 3, random data and weights, one
model (K = 1): the loss and all its gradients per batch (no optimiser step). shPLRNN + GTF
at M = 3, L = 100, alpha = 0.3 (Hess et al. 2023); AL-RNN at M = 20, P = 2, tau = 16
(Brenner et al. 2024). The torch column runs autograd of the methods' own rollouts
(``gtf_rollout_many``, ``sparse_tf_rollout_many`` with K = 1) in float64, eagerly. Run on
one thread:

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python \
        benchmarks/speed/rnn_kernel_speed.py [--epochs 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from dsrbench.methods._rnn_kernels import alrnn_loss_grad, shplrnn_gtf_loss_grad
from dsrbench.methods.alrnn import sparse_tf_rollout_many
from dsrbench.methods.shplrnn_gtf import gtf_rollout_many

BATCHES, B, T, D = 50, 16, 200, 3


def best_epoch(run_batch: Callable[[np.ndarray], None], xs: np.ndarray, epochs: int) -> float:
    """Fastest of ``epochs`` epochs (seconds) of ``run_batch`` over the batches ``xs``."""
    run_batch(xs[0])  # compile / warm up
    best = np.inf
    for _ in range(epochs):
        start = time.perf_counter()
        for x in xs:
            run_batch(x)
        best = min(best, time.perf_counter() - start)
    return best


def one(rollout, step, z0: torch.Tensor, x: torch.Tensor, *args):
    """A K-model rollout of the methods run on one model (K = 1), without the model axis."""
    out = rollout(lambda z: step(z[0])[None], z0[None], x[None], *args)
    return tuple(o[0] for o in out) if isinstance(out, tuple) else out[0]


def torch_loss_grad(step, p: dict[str, torch.Tensor], x: np.ndarray, rollout) -> None:
    xt = torch.as_tensor(x)
    z0 = torch.cat([xt[:, 0], xt[:, 0] @ p["L"].T], dim=1) if "L" in p else xt[:, 0]
    predicted = rollout(lambda z: step(p, z), z0, xt)
    loss = torch.mean((predicted[..., :D] - xt[:, 1:]) ** 2)
    for v in p.values():
        v.grad = None
    loss.backward()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs (the best counts)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(BATCHES, B, T, D))
    rows = []

    # shPLRNN + GTF
    m, hidden, alpha = 3, 100, 0.3
    a = torch.tensor([alpha], dtype=torch.float64)
    p = {
        "A": rng.uniform(0.5, 0.95, m),
        "W1": rng.uniform(-0.1, 0.1, (m, hidden)),
        "W2": rng.uniform(-0.5, 0.5, (hidden, m)),
        "h": np.zeros(m),
        "h2": rng.uniform(-0.1, 0.1, hidden),
    }
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}

    def sh_step(q, z):
        return q["A"] * z + torch.relu(z @ q["W2"].T + q["h2"]) @ q["W1"].T + q["h"]

    kp = {k: v[None] for k, v in p.items()} | {"L": np.zeros((1, 0, D))}
    numba_s = best_epoch(
        lambda x: shplrnn_gtf_loss_grad(**kp, x=x[None], alpha=np.array([alpha]), clipped=False),
        xs,
        args.epochs,
    )
    torch_s = best_epoch(
        lambda x: torch_loss_grad(
            sh_step, tp, x, lambda s, z0, xt: one(gtf_rollout_many, s, z0, xt, a)[0]
        ),
        xs,
        args.epochs,
    )
    rows.append(("shPLRNN+GTF M=3 L=100", numba_s, torch_s))

    # AL-RNN
    m, relu_units, tau = 20, 2, 16
    p = {
        "A": rng.uniform(0.5, 0.95, m),
        "W": rng.normal(0, 0.01, (m, m)),
        "h": np.zeros(m),
        "L": rng.uniform(-0.5, 0.5, (m - D, D)),
    }
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}

    def al_step(q, z):
        lin = m - relu_units
        phi = torch.cat([z[:, :lin], torch.relu(z[:, lin:])], dim=1)
        return q["A"] * z + phi @ q["W"].T + q["h"]

    kp = {k: v[None] for k, v in p.items()}
    numba_s = best_epoch(
        lambda x: alrnn_loss_grad(**kp, x=x[None], tau=tau, relu_units=relu_units),
        xs,
        args.epochs,
    )
    torch_s = best_epoch(
        lambda x: torch_loss_grad(
            al_step, tp, x, lambda s, z0, xt: one(sparse_tf_rollout_many, s, z0, xt, tau)
        ),
        xs,
        args.epochs,
    )
    rows.append(("AL-RNN M=20 P=2 tau=16", numba_s, torch_s))

    print(f"{'model':26s} {'numba s/epoch':>14s} {'torch s/epoch':>14s} {'speed-up':>9s}")
    for name, n, t in rows:
        print(f"{name:26s} {n:14.3f} {t:14.3f} {t / n:8.1f}x")


if __name__ == "__main__":
    main()
