"""Almost-linear RNN (AL-RNN) with sparse identity teacher forcing, and its symbolic code.

Brenner, Hemmer, Monfared & Durstewitz 2024, "Almost-linear RNNs yield highly interpretable
symbolic codes in dynamical systems reconstruction", NeurIPS (docs/methods.md;
details from the authors' ALRNN-DSR code):

* ``z_t = A z_{t-1} + W Phi(z_{t-1}) + h`` with A diagonal, W a full M x M matrix (as in
  the authors' Julia and torch code) and
  ``Phi(z) = [z_1, ..., z_{M-P}, ReLU(z_{M-P+1}), ..., ReLU(z_M)]``: only the last P of
  the M units are piecewise linear, so the map has at most 2^P linear subregions.
  Initialisation as in the reference code: A the diagonal of a normalised
  positive-definite matrix, W normal with standard deviation 0.01, h = 0.
* Identity observation of the first D units, ``z_0 = [x_0, L x_0]`` (see
  :mod:`dsrbench.methods._latent_rnn`). Sparse identity teacher forcing: at every t that
  is a multiple of tau the observed units are replaced by the data after the prediction;
  the loss is the MSE of the predicted (pre-forcing) observations.
* RAdam with a learning rate decaying exponentially per epoch; the weights with the best
  validation D_stsp are kept. Lorenz-63: M = 20, P = 2, tau = 16, 16 sequences of 200 a
  batch, 50 batches an epoch, 2000 epochs, lr 1e-3 to 1e-5, Gaussian noise 0.05 added to
  the batches (``settings/lorenz63.json`` of the reference code); Roessler: P = 1,
  tau = 8, sequences of 300, lr 5e-3.

Symbolic code (:meth:`AlmostLinearRNN.symbolic_code`, saved as ``symbolic_code.json``):
after training, the model reads a context from the training data (the first
``min(100, T)`` points, pure teacher forcing) and runs freely for ``code_steps`` steps; the
sign pattern of the P ReLU units at each step (a bit string, unit M-P+1 first, 1 = active)
names the linear subregion. Stored: the visited subregions, their visit frequencies and
the row-normalised matrix of transitions between consecutive steps (self-transitions
included).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import torch

from dsrbench.methods._latent_rnn import (
    LatentRNN,
    initial_latent_many,
    normalized_positive_definite,
    rnn_kernels,
)

SYMBOLIC_CODE = "symbolic_code.json"
CODE_CONTEXT = 100


def sparse_tf_rollout_many(
    step: Callable[[torch.Tensor], torch.Tensor], z0: torch.Tensor, x: torch.Tensor, tau: int
) -> torch.Tensor:
    """Predicted states ``(K, B, T - 1, M)`` at t = 1..T-1 of K models along ``x (K, B, T,
    D)`` from ``z0 (K, B, M)``; at every t that is a multiple of ``tau`` the observed units
    are set to ``x_t`` after the prediction (so the next step starts from the data)."""
    d = x.shape[3]
    z = z0
    predicted = []
    for t in range(1, x.shape[2]):
        z = step(z)
        predicted.append(z)
        if t % tau == 0:
            z = x[:, :, t] if z.shape[2] == d else torch.cat([x[:, :, t], z[..., d:]], dim=2)
    return torch.stack(predicted, 2)


def symbolic_code_of(signs: np.ndarray) -> dict[str, Any]:
    """Visited subregions, visit frequencies and transition probabilities of a boolean
    sign sequence ``(T, P)`` (True = the ReLU unit is active). A region whose only visit
    is the last step has no observed transition: its row stays zero."""
    signs = np.asarray(signs, dtype=bool)
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
        "frequencies": (counts / max(counts.sum(), 1.0)).tolist(),
        "transitions": trans.tolist(),
    }


class AlmostLinearRNN(LatentRNN):
    """AL-RNN: P ReLU units among M linear ones, sparse identity teacher forcing."""

    name = "alrnn"
    label = "AL-RNN"
    color = "#9467bd"
    hyperparameters: ClassVar[dict[str, Any]] = {
        "latent_dim": 20,
        "relu_units": 2,
        "forcing_interval": 16,
        "noise_level": 0.05,
        "lr_start": 1e-3,
        "lr_end": 1e-5,
        "batch_size": 16,
        "seq_len": 200,
        "batches_per_epoch": 50,
        "epochs": 2000,
        "checkpoint_every": 10,
        "validate_every": 25,
        "code_steps": 10_000,
        "dtype": "auto",
        # the JAWS-style Jacobian penalty (methods/_jacobian_penalty.py): off at weight 0
        "jacobian_weight": 0.0,
        "jacobian_weighting": "adaptive",  # or "uniform"
        "jacobian_points": 32,
        "jacobian_probes": 1,
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {
        "latent_dim": 10,
        "epochs": 30,
        "batches_per_epoch": 20,
        "seq_len": 25,
        "forcing_interval": 8,
        "noise_level": 0.0,
        "lr_start": 1e-2,
        "lr_end": 1e-3,
        "validate_every": 10,
        "code_steps": 2000,
    }

    @property
    def relu_units(self) -> int:
        return int(self.params["relu_units"])

    # -- parameters and the map -----------------------------------------------------------
    def _init_parameters(self, dim: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        m = self.latent_size(dim)
        if not 0 <= self.relu_units <= m:
            raise ValueError(f"alrnn: relu_units must be in 0..latent_dim ({m})")
        if int(self.params["forcing_interval"]) < 1:
            raise ValueError("alrnn: forcing_interval must be >= 1")
        return {
            "A": np.diag(normalized_positive_definite(m, rng)).copy(),
            "W": 0.01 * rng.standard_normal((m, m)),
            "h": np.zeros(m),
        }

    def _stepper(self, p: dict[str, torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
        """``z -> A z + W Phi(z) + h`` for K models, as fused batched products."""
        wt, a, h = p["W"].transpose(1, 2), p["A"][:, None], p["h"][:, None]
        m, relu = p["h"].shape[1], self.relu_units
        piecewise = torch.arange(m, device=wt.device) >= m - relu

        def step(z: torch.Tensor) -> torch.Tensor:
            phi = torch.where(piecewise, torch.relu(z), z) if relu else z
            return torch.baddbmm(torch.addcmul(h, a, z), phi, wt)

        return step

    def _phi_gate(self, z: np.ndarray) -> np.ndarray:
        """Phi'(z): 1 on the linear units, the ReLU's step on the last P."""
        gate = np.ones_like(z)
        if self.relu_units:
            k = z.shape[1] - self.relu_units
            gate[:, k:] = z[:, k:] > 0
        return gate

    def _np_step(self, z: np.ndarray) -> np.ndarray:
        w = self.weights_
        phi = z
        if self.relu_units:
            k = z.shape[1] - self.relu_units
            phi = np.concatenate([z[:, :k], np.maximum(z[:, k:], 0)], axis=1)
        return w["A"] * z + phi @ w["W"].T + w["h"]

    def _np_jacobian(self, z: np.ndarray) -> np.ndarray:
        w = self.weights_
        # diag(A) + W diag(Phi'(z))
        return np.diag(w["A"])[None] + w["W"][None] * self._phi_gate(z)[:, None, :]

    # -- training: sparse identity teacher forcing ------------------------------------------
    def _predict_many(
        self, p: dict[str, torch.Tensor], x: torch.Tensor, alpha: torch.Tensor
    ) -> torch.Tensor:
        z0 = initial_latent_many(p, x[:, :, 0])
        tau = int(self.params["forcing_interval"])
        return sparse_tf_rollout_many(self._stepper(p), z0, x, tau)

    def _predict_with_inputs_many(
        self, p: dict[str, torch.Tensor], x: torch.Tensor, alpha: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        z0 = initial_latent_many(p, x[:, :, 0])
        tau = int(self.params["forcing_interval"])
        predicted = sparse_tf_rollout_many(self._stepper(p), z0, x, tau)
        # the input of step t + 1 is the state at t, its observed units forced when tau | t
        inputs = torch.cat([z0[:, :, None], predicted[:, :, :-1]], dim=2)
        d, steps = x.shape[3], x.shape[2] - 1
        forced = torch.arange(steps, device=x.device) % tau == 0
        forced[0] = False  # z_0 is the data already
        observed = torch.where(forced[:, None], x[:, :, :steps], inputs[..., :d])
        return predicted, torch.cat([observed, inputs[..., d:]], dim=3)

    def _loss_and_grad_numba(
        self, p: dict[str, torch.Tensor], x: torch.Tensor, alpha: torch.Tensor
    ) -> torch.Tensor:
        a = self._numpy_params(p, x)
        loss, grads = rnn_kernels().alrnn_loss_grad(
            a["A"], a["W"], a["h"], a["L"], x.numpy(),
            int(self.params["forcing_interval"]), self.relu_units,
        )  # fmt: skip
        self._set_grads(p, grads)
        return torch.as_tensor(np.asarray(loss), dtype=x.dtype)

    # -- the symbolic code --------------------------------------------------------------------
    def _after_training(self) -> None:
        x = self.train_x_[0, :CODE_CONTEXT]
        self.code_ = self.compute_symbolic_code(x[None], int(self.params["code_steps"]))

    def compute_symbolic_code(self, ctx_std: np.ndarray, steps: int) -> dict[str, Any]:
        """The symbolic code of a free run of ``steps`` steps after reading the
        standardised context ``ctx_std (1, Tc, D)``."""
        z = self._read_context(np.asarray(ctx_std, dtype=np.float64))
        k = self.latent_dim - self.relu_units
        signs = np.zeros((steps, self.relu_units), dtype=bool)
        with np.errstate(all="ignore"):
            for t in range(steps):
                z = self._np_step(z)
                signs[t] = z[0, k:] > 0
        code = symbolic_code_of(signs)
        code["finite"] = bool(np.all(np.isfinite(z)))
        return code

    def symbolic_code(self) -> dict[str, Any]:
        """Visited linear subregions (``regions``, bit strings), their visit
        ``frequencies`` and the row-normalised ``transitions`` matrix, from the free run
        made after training."""
        return self.code_

    def save(self, directory: str | Path) -> None:
        super().save(directory)
        (Path(directory) / SYMBOLIC_CODE).write_text(json.dumps(self.code_, indent=1) + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        model = super().load(directory)
        model.code_ = json.loads((Path(directory) / SYMBOLIC_CODE).read_text())
        return model
