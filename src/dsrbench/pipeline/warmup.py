"""Compile dsrbench's numba kernels once, into their on-disk cache.

Every kernel is compiled with ``cache=True``, so only the first process that runs it pays
the compilation (about 20 s for the DOP853 integrator on one core). ``make install`` runs
``python -m dsrbench.pipeline.warmup`` so that neither the first workflow jobs nor the test workers
compile the same kernels side by side. It runs each kernel family once on a tiny problem:
the ODE, SDE and delay integrators, the tangent-space (Lyapunov) kernels of both, the
Gaussian-mixture form of D_stsp, and the loss gradients of the latent RNNs (shPLRNN + GTF,
plain and clipped, its forced states, and the AL-RNN).
"""

from __future__ import annotations

import time

import numpy as np

from dsrbench.integration import simulate

__all__ = ["main", "warm_up"]


def warm_up() -> dict[str, float]:
    """Run every numba kernel family once; returns the seconds each took."""
    from dsrbench.integration.lyapunov import system_max_lyapunov
    from dsrbench.methods import _rnn_kernels as rnn
    from dsrbench.metrics.attractor import state_space_divergence

    steps = {
        "ode (DOP853)": lambda: simulate("Lorenz", 20),
        "sde (Heun)": lambda: simulate("Lorenz", 20, dynamical_noise=1e-3, seed=0),
        "delay (RK4, method of steps)": lambda: simulate("MackeyGlass", 20),
        "lyapunov (flow)": lambda: system_max_lyapunov("Lorenz", n_steps=200, transient=10),
        "lyapunov (delay)": lambda: system_max_lyapunov("MackeyGlass", n_steps=50, transient=5),
        "D_stsp (Gaussian mixture)": lambda: state_space_divergence(
            np.random.default_rng(0).normal(size=(50, 6)),
            np.random.default_rng(1).normal(size=(50, 6)),
            n_samples=20,
        ),
        "latent RNN gradients": lambda: _latent_rnn_kernels(rnn),
    }
    seconds = {}
    for name, run in steps.items():
        start = time.perf_counter()
        run()
        seconds[name] = time.perf_counter() - start
    return seconds


def _latent_rnn_kernels(rnn) -> None:
    """Every entry point of :mod:`dsrbench.methods._rnn_kernels` on a tiny problem, for one
    model and for two (the parallel variants, when numba has several threads)."""
    for k in (1, 2):
        _latent_rnn_once(rnn, k)


def _latent_rnn_once(rnn, k: int) -> None:
    rng = np.random.default_rng(0)
    m, d, hidden = 4, 2, 3
    x = rng.normal(size=(k, 2, 5, d))
    sh = {
        "A": np.full((k, m), 0.5),
        "W1": rng.normal(size=(k, m, hidden)),
        "W2": rng.normal(size=(k, hidden, m)),
        "h": np.zeros((k, m)),
        "h2": np.zeros((k, hidden)),
        "L": rng.normal(size=(k, m - d, d)),
    }
    alpha = np.full(k, 0.5)
    for clipped in (False, True):
        rnn.shplrnn_gtf_loss_grad(**sh, x=x, alpha=alpha, clipped=clipped)
        rnn.shplrnn_gtf_forced_states(**sh, x=x, alpha=alpha, clipped=clipped)
    al = {"A": sh["A"], "W": rng.normal(size=(k, m, m)), "h": sh["h"], "L": sh["L"]}
    rnn.alrnn_loss_grad(**al, x=x, tau=2, relu_units=1)


def main() -> None:
    """Warm every kernel up and print the seconds each took."""
    for kernel, s in warm_up().items():
        print(f"warm-up: {kernel:30s} {s:6.1f} s")


if __name__ == "__main__":
    main()
