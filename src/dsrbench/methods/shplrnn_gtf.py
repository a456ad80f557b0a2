"""Shallow PLRNN trained with generalized teacher forcing (GTF).

Hess, Monfared, Brenner & Durstewitz 2023, "Generalized teacher forcing for learning
chaotic dynamics", ICML (shared/SPEC.md section 4):

* shPLRNN: ``z_t = A z_{t-1} + W1 ReLU(W2 z_{t-1} + h2) + h1`` with A diagonal, M latent
  and L hidden units; the clipped variant uses ``W1 [ReLU(W2 z + h2) - ReLU(W2 z)]``, which
  keeps the map bounded. Identity observation model: the first D latent units are the
  (standardised) observations.
* GTF: after each step the observed units become ``(1 - alpha) z + alpha x_t``; the loss is
  the MSE of the states before forcing. ``alpha`` is fixed, or adaptive:
  ``alpha_est = max(0, 1 - 1/G)`` with G the geometric mean of the Jacobians' spectral norms
  along the forced trajectory, re-estimated every 5 batches; alpha jumps up to a larger
  estimate at once and otherwise decays as ``alpha <- 0.999 alpha + 0.001 alpha_est``.
* RAdam, learning rate 1e-3 decaying exponentially to 1e-6; 16 sequences of length 200 a
  batch, 50 batches an epoch, 5000 epochs; Lorenz-63: M = 3, L = 100.

Shortcut: unobserved latent units (M > D) start every sequence at 0 rather than from an
inferred estimate; with the paper's Lorenz-63 setting M = D there are none.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from dsrbench.methods._latent_rnn import LatentRNN

ALPHA_REESTIMATE_EVERY = 5  # batches
ALPHA_DECAY = 0.999


def gtf_rollout(
    step: Any, z0: torch.Tensor, x: torch.Tensor, alpha: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``step`` along the data ``x (B, T, D)`` with generalized teacher forcing.

    Returns ``(predicted, forced)``, both ``(B, T - 1, M)``: the states before and after
    forcing at t = 1..T-1. ``alpha = 1`` is pure teacher forcing, ``alpha = 0`` a free run.
    """
    d = x.shape[2]
    z = z0
    predicted, forced = [], []
    for t in range(1, x.shape[1]):
        z = step(z)
        predicted.append(z)
        if alpha > 0:
            obs = (1 - alpha) * z[:, :d] + alpha * x[:, t]
            z = torch.cat([obs, z[:, d:]], dim=1)
        forced.append(z)
    return torch.stack(predicted, 1), torch.stack(forced, 1)


def alpha_estimate(jacobians: torch.Tensor) -> float:
    """``max(0, 1 - 1/G)``, G the geometric mean of the spectral norms of ``jacobians``
    ``(..., M, M)`` (Hess et al. 2023, Eq. for the adaptive GTF parameter)."""
    norms = torch.linalg.matrix_norm(jacobians.reshape(-1, *jacobians.shape[-2:]), ord=2)
    g = torch.exp(torch.log(norms.clamp_min(1e-12)).mean())
    return float(torch.clamp(1 - 1 / g, min=0.0))


class ShallowPLRNNGTF(LatentRNN):
    """shPLRNN (plain or clipped) trained with generalized teacher forcing."""

    name = "shplrnn_gtf"
    hyperparameters: ClassVar[dict[str, Any]] = {
        "latent_dim": 3,
        "hidden_dim": 100,
        "clipped": False,
        "alpha": 0.1,
        "alpha_mode": "adaptive",
        "lr_start": 1e-3,
        "lr_end": 1e-6,
        "batch_size": 16,
        "seq_len": 200,
        "batches_per_epoch": 50,
        "epochs": 5000,
        "checkpoint_every": 50,
        "validate_every": 100,
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {
        "epochs": 30,
        "batches_per_epoch": 20,
        "seq_len": 50,
        "hidden_dim": 50,
        "lr_start": 3e-3,
        "lr_end": 1e-4,
        "validate_every": 10,
    }

    # -- parameters and the map -----------------------------------------------------------
    def _init_parameters(self, dim: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        m, hidden = int(self.params["latent_dim"]), int(self.params["hidden_dim"])
        if m < dim:
            raise ValueError(f"shplrnn_gtf: latent_dim {m} < observation dimension {dim}")
        if self.params["alpha_mode"] not in ("fixed", "adaptive"):
            raise ValueError("shplrnn_gtf: alpha_mode must be 'fixed' or 'adaptive'")
        return {
            "A": rng.uniform(0.5, 0.9, m),
            "W1": rng.uniform(-1, 1, (m, hidden)) / np.sqrt(hidden),
            "W2": rng.uniform(-1, 1, (hidden, m)) / np.sqrt(m),
            "h": np.zeros(m),
            "h2": rng.uniform(-1, 1, hidden),
        }

    def _torch_step(self, p: dict[str, torch.Tensor], z: torch.Tensor) -> torch.Tensor:
        pre = z @ p["W2"].T
        act = torch.relu(pre + p["h2"])
        if self.params["clipped"]:
            act = act - torch.relu(pre)
        return p["A"] * z + act @ p["W1"].T + p["h"]

    def _np_step(self, z: np.ndarray) -> np.ndarray:
        w = self.weights_
        pre = z @ w["W2"].T
        act = np.maximum(pre + w["h2"], 0)
        if self.params["clipped"]:
            act = act - np.maximum(pre, 0)
        return w["A"] * z + act @ w["W1"].T + w["h"]

    def _np_jacobian(self, z: np.ndarray) -> np.ndarray:
        w = self.weights_
        pre = z @ w["W2"].T
        gate = (pre + w["h2"] > 0).astype(np.float64)
        if self.params["clipped"]:
            gate = gate - (pre > 0)
        # A + W1 diag(gate) W2
        return np.diag(w["A"])[None] + np.einsum("ml,bl,lk->bmk", w["W1"], gate, w["W2"])

    def _torch_jacobian(self, p: dict[str, torch.Tensor], z: torch.Tensor) -> torch.Tensor:
        pre = z @ p["W2"].T
        gate = (pre + p["h2"] > 0).to(z.dtype)
        if self.params["clipped"]:
            gate = gate - (pre > 0).to(z.dtype)
        return torch.diag(p["A"]) + torch.einsum("ml,bl,lk->bmk", p["W1"], gate, p["W2"])

    # -- training -------------------------------------------------------------------------
    def _setup(self, train, val, device, seed) -> None:
        super()._setup(train, val, device, seed)
        self.alpha_ = float(self.params["alpha"])
        self.batches_seen_ = 0

    def _extra_state(self) -> dict[str, Any]:
        return {"alpha": self.alpha_, "batches_seen": self.batches_seen_}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.alpha_ = float(state["alpha"])
        self.batches_seen_ = int(state["batches_seen"])

    def _update_alpha(self, p: dict[str, torch.Tensor], forced: torch.Tensor) -> None:
        with torch.no_grad():
            jac = self._torch_jacobian(p, forced.reshape(-1, forced.shape[-1]))
            est = alpha_estimate(jac)
        if est > self.alpha_:
            self.alpha_ = est
        else:
            self.alpha_ = ALPHA_DECAY * self.alpha_ + (1 - ALPHA_DECAY) * est

    def _epoch(self, epoch: int) -> dict[str, float]:
        p = dict(self.torch_params_.items())
        total = 0.0
        n_batches = int(self.params["batches_per_epoch"])
        m = int(self.params["latent_dim"])
        for _ in range(n_batches):
            x = self._batch(int(self.params["seq_len"]), int(self.params["batch_size"]))
            z0 = self._initial_latent(x[:, 0], m)
            predicted, forced = gtf_rollout(lambda z: self._torch_step(p, z), z0, x, self.alpha_)
            loss = torch.mean((predicted[..., : self.dim_] - x[:, 1:]) ** 2)
            self.optimizer_.zero_grad()
            loss.backward()
            self.optimizer_.step()
            total += float(loss.detach())
            self.batches_seen_ += 1
            if (
                self.params["alpha_mode"] == "adaptive"
                and self.batches_seen_ % ALPHA_REESTIMATE_EVERY == 0
            ):
                self._update_alpha(p, forced.detach())
        lr = self.optimizer_.param_groups[0]["lr"]
        self.scheduler_.step()
        return {"loss": total / n_batches, "lr": lr, "alpha": self.alpha_}
