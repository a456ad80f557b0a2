"""The JAWS-style Jacobian penalty (methods/_jacobian_penalty.py) of node and the latent
RNNs: its estimator and weights, off = today's training, on = a smaller Jacobian."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support.jacobian import (
    SHORT,
    TRAINED,
    check_penalty_lowers_the_norm,
    fit_short,
    trained_weights,
)

from dsrbench import methods
from dsrbench.methods import _jacobian_penalty as jacobian


def test_hutchinson_estimate_is_the_frobenius_norm_of_each_models_map() -> None:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(2, 3, 3, generator=gen, dtype=torch.float64)  # K = 2 linear maps

    def step(z: torch.Tensor) -> torch.Tensor:
        return torch.einsum("kij,knj->kni", a, z)

    z = torch.randn(2, 4, 3, generator=gen, dtype=torch.float64)
    probes = torch.randn(4000, 2, 4, 3, generator=gen, dtype=torch.float64)
    est = jacobian.frobenius_sq(step, z, probes)
    exact = (a**2).sum(dim=(1, 2))[:, None].expand(2, 4)
    np.testing.assert_allclose(est.detach().numpy(), exact.numpy(), rtol=0.06)
    # the basis vectors as probes give it exactly (times M / M)
    basis = torch.eye(3, dtype=torch.float64)[:, None, None, :].expand(3, 2, 4, 3)
    np.testing.assert_allclose(
        (3 * jacobian.frobenius_sq(step, z, basis)).detach().numpy(), exact.numpy()
    )


def test_adaptive_weights_have_mean_one_and_fall_with_the_error() -> None:
    r = torch.tensor([[0.0, 1.0, 2.0, 10.0], [1.0, 1.0, 1.0, 1.0]])
    w = jacobian.adaptive_weights(r, "adaptive")
    np.testing.assert_allclose(w.mean(dim=1).numpy(), 1.0, rtol=1e-6)
    assert torch.all(w[0, :-1] > w[0, 1:])
    np.testing.assert_allclose(w[1].numpy(), 1.0)
    assert torch.equal(jacobian.adaptive_weights(r, "uniform"), torch.ones_like(r))


def test_invalid_options_fail_clearly(lorenz_splits) -> None:
    for bad in ({"jacobian_weight": -1.0}, {"jacobian_weighting": "spatial"}):
        for name in TRAINED:
            cls = methods.get(name)
            with pytest.raises(ValueError, match="jacobian"):
                cls(**{**cls.quick_hyperparameters, **SHORT, **bad}).fit(
                    lorenz_splits["train"], None, device="cpu"
                )


@pytest.mark.parametrize("name", TRAINED)
def test_weight_zero_trains_as_today_without_touching_the_penalty(
    name, lorenz_splits, monkeypatch
) -> None:
    """Off: the penalty code never runs (the latent RNNs keep their gradient kernels) and
    the weights equal those of the defaults bit for bit."""
    today = fit_short(name, lorenz_splits)

    def refuse(*args, **kwargs):
        raise AssertionError("the penalty ran with jacobian_weight = 0")

    monkeypatch.setattr(jacobian, "jacobian_penalty", refuse)
    off = fit_short(name, lorenz_splits, jacobian_weight=0.0)
    a, b = trained_weights(today), trained_weights(off)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


@pytest.mark.parametrize("name", TRAINED)
def test_the_penalty_lowers_the_jacobian_norm_at_a_paired_seed(name, lorenz_splits) -> None:
    """Adaptive weights (uniform ones: e2e/test_jacobian_penalty_e2e.py)."""
    check_penalty_lowers_the_norm(name, "adaptive", lorenz_splits)
