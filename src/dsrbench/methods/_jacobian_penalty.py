"""Jacobian regularisation of a model's one-step map with adaptive per-state weights.

After JAWS (Nie & Suzuki, "JAWS: Enhancing long-term rollout of neural operators via
spatially-adaptive Jacobian regularization", arXiv 2603.05538, 2026): a contraction prior
on the Jacobian of the map that a rollout iterates, whose strength is modulated by the
local complexity of the dynamics (strong where the dynamics are smooth, relaxed where they
are hard), read as MAP estimation under heteroscedastic noise. Only the paper's abstract
was available; the form below is our reading of it (docs/methods.md, "Jacobian
regularisation"):

* the one-step map ``Phi`` (a neural ODE's solver step over one data step, a latent RNN's
  step), its Jacobian ``J(z) = dPhi/dz`` at states ``z`` of the training batch (detached:
  the penalty moves the weights, not the states);
* ``||J(z)||_F^2`` by Hutchinson's estimator, ``E_v ||J^T v||^2`` with ``v ~ N(0, I)``,
  one vector-Jacobian product per probe with ``create_graph`` (a double backward;
  Hoffman, Roberts & Yaida 2019, "Robust learning with Jacobian regularization");
* the weights: ``uniform`` (1), or ``adaptive``: ``w_i = 1 / (1 + r_i / mean(r))`` with
  ``r_i`` the (detached) squared one-step error of the step from ``z_i``, the
  heteroscedastic variance proxy, renormalised to mean 1 over the model's sampled states
  (a state the model predicts badly, the analogue of a shock, is regularised less);
* the penalty of a model: ``mean_i w_i ||J(z_i)||_F^2`` over ``points`` states drawn
  without replacement from its batch, added to its loss with the factor ``weight``.

Every random draw comes from the model's own generator, after its batch, so the models
of a group still train as they would alone; with ``weight = 0`` nothing here runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

#: the options (hyperparameters of the methods that take it) and their OFF defaults
DEFAULTS: dict[str, Any] = {
    "jacobian_weight": 0.0,  # lambda; 0 = off (today's training, bit for bit)
    "jacobian_weighting": "adaptive",  # or "uniform"
    "jacobian_points": 32,  # states per model and batch at which J is penalised
    "jacobian_probes": 1,  # Hutchinson probes per state
}
WEIGHTINGS = ("adaptive", "uniform")


def enabled(params: Mapping[str, Any]) -> bool:
    """Whether the penalty is on (``jacobian_weight`` > 0)."""
    return float(params.get("jacobian_weight", 0.0)) > 0


def check_settings(params: Mapping[str, Any], name: str) -> None:
    """Refuse invalid option values, naming the method."""
    if float(params.get("jacobian_weight", 0.0)) < 0:
        raise ValueError(f"{name}: jacobian_weight must be >= 0")
    if params.get("jacobian_weighting", "adaptive") not in WEIGHTINGS:
        raise ValueError(f"{name}: jacobian_weighting must be one of {WEIGHTINGS}")
    if int(params.get("jacobian_points", 32)) < 1 or int(params.get("jacobian_probes", 1)) < 1:
        raise ValueError(f"{name}: jacobian_points and jacobian_probes must be >= 1")


def adaptive_weights(residual: torch.Tensor, weighting: str) -> torch.Tensor:
    """Per-state weights ``(K, N)`` from the one-step errors ``residual (K, N)``, mean 1
    per model: ``uniform`` all 1; ``adaptive`` ``1 / (1 + r / mean r)`` renormalised."""
    r = residual.detach()
    if weighting == "uniform":
        return torch.ones_like(r)
    scale = r.mean(dim=1, keepdim=True).clamp_min(torch.finfo(r.dtype).tiny)
    w = 1.0 / (1.0 + r / scale)
    w = torch.where(torch.isfinite(w), w, torch.zeros_like(w))
    return w / w.mean(dim=1, keepdim=True).clamp_min(torch.finfo(r.dtype).tiny)


def frobenius_sq(
    step: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor, probes: torch.Tensor
) -> torch.Tensor:
    """Hutchinson's estimate of ``||J(z)||_F^2`` ``(K, N)`` of ``step`` (a map of states
    ``(K, N, M)``, each state's output depending on that state alone) at the detached
    states ``z``, one vector-Jacobian product per probe of ``probes (P, K, N, M)``; the
    graph is kept, so the estimate differentiates with respect to the map's weights."""
    z = z.detach().requires_grad_(True)
    out = step(z)
    total = torch.zeros(z.shape[:2], dtype=z.dtype, device=z.device)
    for v in probes:
        (g,) = torch.autograd.grad(out, z, grad_outputs=v, create_graph=True)
        total = total + (g * g).sum(dim=-1)
    return total / probes.shape[0]


def jacobian_penalty(
    step: Callable[[torch.Tensor], torch.Tensor],
    states: torch.Tensor,
    residual: torch.Tensor,
    rngs: Sequence[np.random.Generator],
    params: Mapping[str, Any],
) -> torch.Tensor:
    """Each model's penalty ``(K,)``: ``mean_i w_i ||J(z_i)||_F^2`` over ``points`` of
    its ``states (K, N, M)`` (drawn without replacement from its own generator, with the
    probes), ``w`` from ``residual (K, N)`` (:func:`adaptive_weights`)."""
    k, n, m = states.shape
    points = min(int(params.get("jacobian_points", 32)), n)
    n_probes = int(params.get("jacobian_probes", 1))
    picks, noise = [], []
    for rng in rngs:
        picks.append(np.sort(rng.choice(n, size=points, replace=False)))
        noise.append(rng.standard_normal((n_probes, points, m)))
    index = torch.as_tensor(np.stack(picks), device=states.device)
    probes = torch.as_tensor(np.stack(noise, axis=1), dtype=states.dtype, device=states.device)
    z = torch.gather(states.detach(), 1, index[..., None].expand(k, points, m))
    # the weights over the whole batch, then the sampled states' (renormalised to mean 1)
    w = torch.gather(adaptive_weights(residual, str(params["jacobian_weighting"])), 1, index)
    w = w / w.mean(dim=1, keepdim=True).clamp_min(torch.finfo(w.dtype).tiny)
    return (w * frobenius_sq(step, z, probes)).mean(dim=1)
