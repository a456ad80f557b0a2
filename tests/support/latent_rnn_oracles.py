"""Single-model torch references of the latent RNNs (shPLRNN + GTF, AL-RNN), the oracles of
tests/unit/test_methods_dsr.py and tests/unit/test_rnn_kernels.py.

Training runs K models at once (``dsrbench.methods._latent_rnn``: stacked parameters, the
numba kernels or batched torch); these are the plain one-model loops of the papers'
forcing schemes, written out step by step, and the method's own torch step map applied to
one model's weights.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

Step = Callable[[torch.Tensor], torch.Tensor]
Params = dict[str, torch.Tensor]


def gtf_rollout(
    step: Step, z0: torch.Tensor, x: torch.Tensor, alpha: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalized teacher forcing (Hess et al. 2023) along the data ``x (B, T, D)``:
    ``(predicted, forced)``, both ``(B, T - 1, M)``, the states at t = 1..T-1 before
    forcing and after it, ``(1 - alpha) z + alpha x_t`` in the observed units."""
    d = x.shape[2]
    z = z0
    predicted, forced = [], []
    for t in range(1, x.shape[1]):
        z = step(z)
        predicted.append(z)
        z = torch.cat([(1 - alpha) * z[:, :d] + alpha * x[:, t], z[:, d:]], dim=1)
        forced.append(z)
    return torch.stack(predicted, 1), torch.stack(forced, 1)


def sparse_tf_rollout(step: Step, z0: torch.Tensor, x: torch.Tensor, tau: int) -> torch.Tensor:
    """Sparse identity teacher forcing (Brenner et al. 2024): the predicted states
    ``(B, T - 1, M)`` at t = 1..T-1 along ``x (B, T, D)``; at every t that is a multiple of
    ``tau`` the observed units are set to ``x_t`` after the prediction."""
    d = x.shape[2]
    z = z0
    predicted = []
    for t in range(1, x.shape[1]):
        z = step(z)
        predicted.append(z)
        if t % tau == 0:
            z = x[:, t] if z.shape[1] == d else torch.cat([x[:, t], z[:, d:]], dim=1)
    return torch.stack(predicted, 1)


def torch_weights(model, dtype: torch.dtype = torch.float64) -> Params:
    """A trained latent RNN's weights as torch tensors on the CPU."""
    return {k: torch.as_tensor(v, dtype=dtype) for k, v in model.weights_.items()}


def torch_step(model, p: Params, z: torch.Tensor) -> torch.Tensor:
    """One step of the method's training map (its ``_stepper``) for one model, ``z (B, M)``."""
    return model._stepper({k: v[None] for k, v in p.items()})(z[None])[0]


def initial_latent(p: Params, x0: torch.Tensor) -> torch.Tensor:
    """``z_0 = [x_0, L x_0]`` (just ``x_0`` without L) of one model, ``x0 (B, D)``."""
    return x0 if "L" not in p else torch.cat([x0, x0 @ p["L"].T], dim=1)


def forced_states(model, p: Params, x: torch.Tensor, alpha: float) -> torch.Tensor:
    """The shPLRNN's states ``(B, T - 1, M)`` where the adaptive alpha takes Jacobians, of
    one model (its many-model ``forced_states_many``)."""
    one = {k: v[None] for k, v in p.items()}
    return model.forced_states_many(one, x[None], torch.tensor([alpha], dtype=torch.float64))[0]


def estimate_alpha(model, p: Params, x: torch.Tensor, alpha: float) -> float:
    """The shPLRNN's adaptive-alpha estimate on the batch ``x`` of one model."""
    one = {k: v[None] for k, v in p.items()}
    a = torch.tensor([alpha], dtype=torch.float64)
    return float(np.asarray(model.estimate_alphas(one, x[None], a))[0])
