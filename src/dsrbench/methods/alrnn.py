"""Almost-linear RNN (AL-RNN) with sparse identity teacher forcing, and its symbolic code.

Brenner, Hemmer, Monfared & Durstewitz 2024, "Almost-linear RNNs yield highly interpretable
symbolic codes in dynamical systems reconstruction", NeurIPS (shared/SPEC.md section 4):

* ``z_t = A z_{t-1} + W Phi(z_{t-1}) + h`` with A diagonal, W off-diagonal, and
  ``Phi(z) = [z_1, ..., z_{M-P}, ReLU(z_{M-P+1}), ..., ReLU(z_M)]``: only the last P of
  the M units are piecewise linear, so the map has at most 2^P linear subregions;
* identity observation of the first D units; sparse identity teacher forcing: every tau
  steps the observed units are replaced by the data; the loss is the MSE of the predicted
  (pre-forcing) observations;
* RAdam with an exponentially decaying learning rate; the checkpoint with the best
  validation D_stsp is kept. Lorenz-63: M = 20, P = 2, tau = 16, sequences of 200, 2000
  epochs, lr 1e-3 to 1e-5; Roessler: M = 20, P = 1, tau = 8, sequences of 300, lr 5e-3.

Symbolic code (:meth:`AlmostLinearRNN.symbolic_code`, saved as ``symbolic_code.json``):
the sign pattern of the P ReLU units along a long free run; the visited linear subregions
(bit strings, unit M-P+1 first), their visit frequencies and the row-normalised transition
matrix between them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import torch

from dsrbench.methods._latent_rnn import LatentRNN

SYMBOLIC_CODE = "symbolic_code.json"


def symbolic_code_of(signs: np.ndarray) -> dict[str, Any]:
    """Visited subregions, frequencies and transitions of a boolean sign sequence
    ``(T, P)`` (True = the ReLU unit is active)."""
    words = ["".join("1" if b else "0" for b in row) for row in signs]
    regions = sorted(set(words))
    index = {r: i for i, r in enumerate(regions)}
    seq = np.array([index[w] for w in words], dtype=np.int64)
    k = len(regions)
    counts = np.bincount(seq, minlength=k).astype(np.float64)
    trans = np.zeros((k, k))
    np.add.at(trans, (seq[:-1], seq[1:]), 1.0)
    rows = trans.sum(axis=1, keepdims=True)
    trans = np.divide(trans, rows, out=np.zeros_like(trans), where=rows > 0)
    return {
        "relu_units": int(signs.shape[1]),
        "steps": int(signs.shape[0]),
        "n_regions": k,
        "regions": regions,
        "frequencies": (counts / counts.sum()).tolist(),
        "transitions": trans.tolist(),
    }


class AlmostLinearRNN(LatentRNN):
    """AL-RNN: P ReLU units among M linear ones, sparse identity teacher forcing."""

    name = "alrnn"
    hyperparameters: ClassVar[dict[str, Any]] = {
        "latent_dim": 20,
        "relu_units": 2,
        "forcing_interval": 16,
        "lr_start": 1e-3,
        "lr_end": 1e-5,
        "batch_size": 16,
        "seq_len": 200,
        "batches_per_epoch": 50,
        "epochs": 2000,
        "checkpoint_every": 50,
        "validate_every": 50,
        "code_steps": 10_000,
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {
        "latent_dim": 10,
        "epochs": 30,
        "batches_per_epoch": 20,
        "seq_len": 64,
        "forcing_interval": 8,
        "lr_start": 3e-3,
        "lr_end": 1e-4,
        "validate_every": 10,
        "code_steps": 2000,
    }

    @property
    def _p(self) -> int:
        return int(self.params["relu_units"])

    # -- parameters and the map -----------------------------------------------------------
    def _init_parameters(self, dim: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        m = int(self.params["latent_dim"])
        if m < dim:
            raise ValueError(f"alrnn: latent_dim {m} < observation dimension {dim}")
        if not 0 <= self._p <= m:
            raise ValueError(f"alrnn: relu_units must be in 0..latent_dim ({m})")
        w = rng.normal(0, 0.1 / np.sqrt(m), (m, m))
        np.fill_diagonal(w, 0.0)
        return {"A": rng.uniform(0.5, 0.9, m), "W": w, "h": np.zeros(m)}

    def _mask(self, m: int) -> np.ndarray:
        mask = np.zeros(m, dtype=bool)
        if self._p:
            mask[m - self._p :] = True
        return mask

    def _torch_step(self, p: dict[str, torch.Tensor], z: torch.Tensor) -> torch.Tensor:
        m = z.shape[1]
        phi = z
        if self._p:
            phi = torch.cat([z[:, : m - self._p], torch.relu(z[:, m - self._p :])], dim=1)
        w = p["W"] * (1 - torch.eye(m, dtype=z.dtype, device=z.device))  # off-diagonal
        return p["A"] * z + phi @ w.T + p["h"]

    def _np_step(self, z: np.ndarray) -> np.ndarray:
        w = self.weights_
        mask = self._mask(z.shape[1])
        phi = np.where(mask, np.maximum(z, 0), z)
        return w["A"] * z + phi @ (w["W"] * (1 - np.eye(z.shape[1]))).T + w["h"]

    def _np_jacobian(self, z: np.ndarray) -> np.ndarray:
        w = self.weights_
        m = z.shape[1]
        mask = self._mask(m)
        dphi = np.where(mask, (z > 0).astype(np.float64), 1.0)  # (B, M)
        woff = w["W"] * (1 - np.eye(m))
        return np.diag(w["A"])[None] + woff[None] * dphi[:, None, :]

    # -- training: sparse identity teacher forcing ------------------------------------------
    def _epoch(self, epoch: int) -> dict[str, float]:
        p = dict(self.torch_params_.items())
        m, tau = int(self.params["latent_dim"]), int(self.params["forcing_interval"])
        n_batches = int(self.params["batches_per_epoch"])
        total = 0.0
        for _ in range(n_batches):
            x = self._batch(int(self.params["seq_len"]), int(self.params["batch_size"]))
            predicted = sparse_tf_rollout(
                lambda z: self._torch_step(p, z), self._initial_latent(x[:, 0], m), x, tau
            )
            loss = torch.mean((predicted[..., : self.dim_] - x[:, 1:]) ** 2)
            self.optimizer_.zero_grad()
            loss.backward()
            self.optimizer_.step()
            total += float(loss.detach())
        lr = self.optimizer_.param_groups[0]["lr"]
        self.scheduler_.step()
        return {"loss": total / n_batches, "lr": lr, "alpha": 1.0 / tau}

    # -- the symbolic code --------------------------------------------------------------------
    def fit(self, train, val=None, **kwargs: Any) -> Self:
        super().fit(train, val, **kwargs)
        x = (np.asarray(train["x"].values[0], dtype=np.float64) - self.mean_) / self.std_
        self.code_ = self._compute_code(x[None, :1])
        return self

    def _compute_code(self, ctx_std: np.ndarray) -> dict[str, Any]:
        m = self.latent_dim
        z = self._read_context(ctx_std)
        steps = int(self.params["code_steps"])
        signs = np.zeros((steps, self._p), dtype=bool)
        with np.errstate(all="ignore"):
            for t in range(steps):
                z = self._np_step(z)
                signs[t] = z[0, m - self._p :] > 0
        code = symbolic_code_of(signs)
        code["finite"] = bool(np.all(np.isfinite(z)))
        return code

    def symbolic_code(self) -> dict[str, Any]:
        """Visited linear subregions, visit frequencies and the transition matrix."""
        return self.code_

    def save(self, directory: str | Path) -> None:
        super().save(directory)
        (Path(directory) / SYMBOLIC_CODE).write_text(json.dumps(self.code_, indent=1) + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        model = super().load(directory)
        model.code_ = json.loads((Path(directory) / SYMBOLIC_CODE).read_text())
        return model


def sparse_tf_rollout(step: Any, z0: torch.Tensor, x: torch.Tensor, tau: int) -> torch.Tensor:
    """Predicted states ``(B, T - 1, M)`` along ``x (B, T, D)``; every ``tau`` steps (t a
    multiple of tau) the observed units are replaced by the data after the prediction."""
    d = x.shape[2]
    z = z0
    predicted = []
    for t in range(1, x.shape[1]):
        z = step(z)
        predicted.append(z)
        if t % tau == 0:
            z = torch.cat([x[:, t], z[:, d:]], dim=1)
    return torch.stack(predicted, 1)
