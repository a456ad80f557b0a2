"""Shallow PLRNN trained with generalized teacher forcing (GTF).

Hess, Monfared, Brenner & Durstewitz 2023, "Generalized teacher forcing for learning
chaotic dynamics", ICML (docs/methods.md; defaults from the paper and the
authors' GTF-shPLRNN code):

* shPLRNN: ``z_t = A z_{t-1} + W1 ReLU(W2 z_{t-1} + h2) + h1`` with A diagonal, M latent
  and L hidden units; the clipped variant uses ``W1 [ReLU(W2 z + h2) - ReLU(W2 z)]``, which
  keeps orbits bounded when ``||A|| < 1``. Identity observation model: the first D latent
  units are the (standardised) observations; ``z_0 = [x_0, L x_0]`` (see
  :mod:`dsrbench.methods._latent_rnn`). Initialisation as in the reference code: A the
  diagonal of a normalised positive-definite matrix, h1 = 0, W1 and W2 uniform in
  +-1/sqrt(fan-in), h2 = 0 (plain) or uniform in +-1/sqrt(L) (clipped).
* GTF: after each step the observed units become ``(1 - alpha) z + alpha x_t``; the loss is
  the MSE between the states before forcing and the data. ``alpha_mode="fixed"`` keeps
  ``alpha``; ``"adaptive"`` starts from ``alpha`` and every ``alpha_update_every`` (5)
  batches estimates ``alpha_est = max(0, 1 - 1/G)``, G the geometric mean of the spectral
  norms of the Jacobians at the forced states of the current batch (observed units = the
  data, as the reference code's forcing signals; unobserved units from the GTF rollout
  when M > D), before that batch's gradient step; alpha jumps to a larger estimate at once
  and otherwise decays as ``alpha <- 0.999 alpha + 0.001 alpha_est``. The reference runs
  start the adaptive alpha at 1 (pure teacher forcing), so does our default.
* RAdam, learning rate 1e-3 decaying exponentially (per epoch) to 1e-6; 16 sequences of
  length 200 a batch, 50 batches an epoch, 5000 epochs; Lorenz-63: M = 3, L = 100.

``has_jacobian``: the state is the latent z (M units); the Jacobian is
``diag(A) + W1 diag(1[W2 z + h2 > 0]) W2`` (clipped: ``... diag(1[W2 z + h2 > 0] -
1[W2 z > 0]) W2``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch

from dsrbench.methods._latent_rnn import (
    LatentRNN,
    gradient_backend,
    initial_latent_many,
    normalized_positive_definite,
    rnn_kernels,
    uniform_init,
)

Step = Callable[[torch.Tensor], torch.Tensor]


def gtf_rollout_many(
    step: Step, z0: torch.Tensor, x: torch.Tensor, alpha: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalized teacher forcing of K models along their data ``x (K, B, T, D)`` from
    ``z0 (K, B, M)``, one ``alpha`` per model ``(K,)``: ``(predicted, forced)``, both
    ``(K, B, T - 1, M)``, the states at t = 1..T-1 before forcing (the loss is on these)
    and after it, ``(1 - alpha) z + alpha x_t`` in the observed units (the inputs of the
    next step). ``alpha = 1`` is pure teacher forcing, ``alpha = 0`` a free run.

    The forcing is one fused product a step: ``forced = c * z + b_t`` with ``c = 1 -
    alpha`` on the observed units and 1 on the others, ``b_t = alpha x_t`` padded with
    zeros (the same rounding as ``(1 - alpha) z + alpha x_t``)."""
    n_models, batch, length, d = x.shape
    m = z0.shape[2]
    a = alpha.to(x.dtype).reshape(-1, 1, 1)
    c = torch.ones(n_models, 1, m, dtype=x.dtype, device=x.device)
    c[..., :d] = 1 - a
    b = torch.zeros(n_models, batch, length, m, dtype=x.dtype, device=x.device)
    b[..., :d] = a[..., None] * x
    z = z0
    predicted, forced = [], []
    for t in range(1, length):
        z = step(z)
        predicted.append(z)
        z = torch.addcmul(b[:, :, t], c, z)
        forced.append(z)
    return torch.stack(predicted, 2), torch.stack(forced, 2)


def alpha_estimate(jacobians: torch.Tensor) -> float:
    """``max(0, 1 - 1/G)``, G the geometric mean of the spectral norms of ``jacobians``
    ``(..., M, M)``: the smallest alpha for which ``(1 - alpha) G <= 1``, i.e. the forced
    Jacobian products do not grow on average (Hess et al. 2023, section 4)."""
    return float(alpha_estimates(jacobians.reshape(1, -1, *jacobians.shape[-2:]))[0])


def alpha_estimates(jacobians: torch.Tensor) -> np.ndarray:
    """:func:`alpha_estimate` of each of K models, ``jacobians (K, N, M, M) -> (K,)``."""
    k, m = jacobians.shape[0], jacobians.shape[-1]
    # a diverged model's non-finite Jacobians must not stop the SVD of the others
    jac = torch.where(torch.isfinite(jacobians), jacobians, torch.zeros_like(jacobians))
    norms = torch.linalg.matrix_norm(jac.reshape(-1, m, m), ord=2).reshape(k, -1)
    g = torch.exp(torch.log(norms.to(torch.float64).clamp_min(1e-300)).mean(dim=1))
    return np.maximum(0.0, 1.0 - 1.0 / g.cpu().numpy())


def anneal_alpha(alpha: float, estimate: float, decay: float = 0.999) -> float:
    """The adaptive-alpha update: jump up to a larger estimate, otherwise decay towards it."""
    return estimate if estimate > alpha else decay * alpha + (1 - decay) * estimate


def anneal_alphas(alpha: np.ndarray, estimate: np.ndarray, decay: float = 0.999) -> np.ndarray:
    """:func:`anneal_alpha` per model (arrays ``(K,)``)."""
    return np.where(estimate > alpha, estimate, decay * alpha + (1 - decay) * estimate)


class ShallowPLRNNGTF(LatentRNN):
    """shPLRNN (plain or clipped) trained with generalized teacher forcing."""

    name = "shplrnn_gtf"
    label = "shPLRNN+GTF"
    color = "#d62728"
    hyperparameters: ClassVar[dict[str, Any]] = {
        "latent_dim": 3,
        "hidden_dim": 100,
        "clipped": False,
        "alpha": 1.0,  # the fixed alpha, or the starting value of the adaptive one
        "alpha_mode": "adaptive",
        "alpha_update_every": 5,  # batches
        "alpha_decay": 0.999,
        "noise_level": 0.0,
        "lr_start": 1e-3,
        "lr_end": 1e-6,
        "batch_size": 16,
        "seq_len": 200,
        "batches_per_epoch": 50,
        "epochs": 5000,
        "checkpoint_every": 10,
        "validate_every": 50,
        "dtype": "auto",
        # the JAWS-style Jacobian penalty (methods/_jacobian_penalty.py): off at weight 0
        "jacobian_weight": 0.0,
        "jacobian_weighting": "adaptive",  # or "uniform"
        "jacobian_points": 32,
        "jacobian_probes": 1,
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {
        "epochs": 30,
        "batches_per_epoch": 20,
        "seq_len": 25,
        "hidden_dim": 50,
        "alpha": 0.2,
        "lr_start": 5e-3,
        "lr_end": 5e-4,
        "validate_every": 10,
    }

    # -- parameters and the map -----------------------------------------------------------
    def _init_parameters(self, dim: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        m, hidden = self.latent_size(dim), int(self.params["hidden_dim"])
        if self.params["alpha_mode"] not in ("fixed", "adaptive"):
            raise ValueError("shplrnn_gtf: alpha_mode must be 'fixed' or 'adaptive'")
        if not 0.0 <= float(self.params["alpha"]) <= 1.0:
            raise ValueError("shplrnn_gtf: alpha must lie in [0, 1]")
        return {
            "A": np.diag(normalized_positive_definite(m, rng)).copy(),
            "W1": uniform_init((m, hidden), rng),
            "W2": uniform_init((hidden, m), rng),
            "h": np.zeros(m),
            "h2": uniform_init((hidden,), rng) if self.params["clipped"] else np.zeros(hidden),
        }

    def _stepper(self, p: dict[str, torch.Tensor]) -> Step:
        """``z -> A z + W1 ReLU(W2 z + h2) + h`` (clipped: ``... [ReLU(W2 z + h2) -
        ReLU(W2 z)] ...``) for K models, as fused batched products."""
        w1t, w2t = p["W1"].transpose(1, 2), p["W2"].transpose(1, 2)
        a, h, h2 = p["A"][:, None], p["h"][:, None], p["h2"][:, None]
        clipped = bool(self.params["clipped"])

        def step(z: torch.Tensor) -> torch.Tensor:
            if clipped:
                pre = z @ w2t
                act = torch.relu(pre + h2) - torch.relu(pre)
            else:
                act = torch.relu(torch.baddbmm(h2, z, w2t))
            return torch.baddbmm(torch.addcmul(h, a, z), act, w1t)

        return step

    def _jacobian_many(self, p: dict[str, torch.Tensor], z: torch.Tensor) -> torch.Tensor:
        """Jacobians ``(K, N, M, M)`` of K models at the states ``z (K, N, M)``."""
        pre = z @ p["W2"].transpose(1, 2)
        gate = (pre + p["h2"][:, None] > 0).to(z.dtype)
        if self.params["clipped"]:
            gate = gate - (pre > 0).to(z.dtype)
        diag = torch.diag_embed(p["A"])[:, None]
        return diag + torch.einsum("kml,knl,klj->knmj", p["W1"], gate, p["W2"])

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
        return np.diag(w["A"])[None] + np.einsum("ml,bl,lk->bmk", w["W1"], gate, w["W2"])

    # -- generalized teacher forcing --------------------------------------------------------
    def forced_states_many(
        self, p: dict[str, torch.Tensor], x: torch.Tensor, alpha: torch.Tensor
    ) -> torch.Tensor:
        """The states ``(K, B, T - 1, M)`` at which the adaptive alpha evaluates Jacobians,
        of K models along ``x (K, B, T, D)`` with ``alpha (K,)``: the data ``x_1..x_{T-1}``
        in the observed units, the GTF rollout's unobserved units."""
        d, m = x.shape[3], p["h"].shape[1]
        if m == d:
            return x[:, :, 1:]
        if gradient_backend(x.device, x.dtype) == "numba":
            a = self._numpy_params(p, x)
            states = rnn_kernels().shplrnn_gtf_forced_states(
                a["A"],
                a["W1"],
                a["W2"],
                a["h"],
                a["h2"],
                a["L"],
                x.numpy(),
                alpha.to(torch.float64).numpy(),
                bool(self.params["clipped"]),
            )
            forced = torch.as_tensor(states, dtype=x.dtype)
            return torch.cat([x[:, :, 1:], forced[..., d:]], dim=3)
        with torch.no_grad():
            z0 = initial_latent_many(p, x[:, :, 0])
            _, forced = gtf_rollout_many(self._stepper(p), z0, x, alpha)
        return torch.cat([x[:, :, 1:], forced[..., d:]], dim=3)

    def estimate_alphas(
        self, p: dict[str, torch.Tensor], x: torch.Tensor, alpha: torch.Tensor
    ) -> np.ndarray:
        """``max(0, 1 - 1/G)`` of each of K models ``(K,)``, along the forced states of its
        own batch."""
        with torch.no_grad():
            states = self.forced_states_many(p, x, alpha)
            k, m = states.shape[0], states.shape[-1]
            jac = self._jacobian_many(p, states.reshape(k, -1, m))
        return alpha_estimates(jac)

    # -- training -------------------------------------------------------------------------
    def _initial_alpha(self) -> float:
        return float(self.params["alpha"])

    def _update_alpha(
        self, p: dict[str, torch.Tensor], x: torch.Tensor, alpha: np.ndarray, batches_seen: int
    ) -> np.ndarray:
        """Adaptive mode: every ``alpha_update_every`` batches, anneal each model's alpha
        towards its estimate on its current batch, before that batch's gradient step."""
        every = int(self.params["alpha_update_every"])
        if self.params["alpha_mode"] != "adaptive" or batches_seen % every:
            return alpha
        est = self.estimate_alphas(p, x, torch.as_tensor(alpha, dtype=x.dtype, device=x.device))
        return anneal_alphas(alpha, est, float(self.params["alpha_decay"]))

    def _predict_many(
        self, p: dict[str, torch.Tensor], x: torch.Tensor, alpha: torch.Tensor
    ) -> torch.Tensor:
        z0 = initial_latent_many(p, x[:, :, 0])
        predicted, _ = gtf_rollout_many(self._stepper(p), z0, x, alpha)
        return predicted

    def _predict_with_inputs_many(
        self, p: dict[str, torch.Tensor], x: torch.Tensor, alpha: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        z0 = initial_latent_many(p, x[:, :, 0])
        predicted, forced = gtf_rollout_many(self._stepper(p), z0, x, alpha)
        return predicted, torch.cat([z0[:, :, None], forced[:, :, :-1]], dim=2)

    def _loss_and_grad_numba(
        self, p: dict[str, torch.Tensor], x: torch.Tensor, alpha: torch.Tensor
    ) -> torch.Tensor:
        a = self._numpy_params(p, x)
        loss, grads = rnn_kernels().shplrnn_gtf_loss_grad(
            a["A"], a["W1"], a["W2"], a["h"], a["h2"], a["L"], x.numpy(),
            alpha.numpy(), bool(self.params["clipped"]),
        )  # fmt: skip
        self._set_grads(p, grads)
        return torch.as_tensor(np.asarray(loss), dtype=x.dtype)
