"""The JAWS-style Jacobian penalty (methods/_jacobian_penalty.py) of node and the latent
RNNs: its estimator and weights, off = today's training, on = a smaller Jacobian."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dsrbench import methods
from dsrbench.methods import _jacobian_penalty as jacobian

TRAINED = ("node", "alrnn", "shplrnn_gtf")
SHORT = {"epochs": 3, "batches_per_epoch": 5}


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


def _fit(name: str, splits, **extra):
    cls = methods.get(name)
    model = cls(**{**cls.quick_hyperparameters, **SHORT, **extra})
    return model.fit(splits["train"], splits["val"], seed=1, device="cpu")


def _weights(model) -> dict[str, np.ndarray]:
    if model.name == "node":
        return {k: v.numpy() for k, v in model.field_.state_dict().items()}
    return model.weights_


@pytest.mark.parametrize("name", TRAINED)
def test_weight_zero_trains_as_today_without_touching_the_penalty(
    name, lorenz_splits, monkeypatch
) -> None:
    """Off: the penalty code never runs (the latent RNNs keep their gradient kernels) and
    the weights equal those of the defaults bit for bit."""
    today = _fit(name, lorenz_splits)

    def refuse(*args, **kwargs):
        raise AssertionError("the penalty ran with jacobian_weight = 0")

    monkeypatch.setattr(jacobian, "jacobian_penalty", refuse)
    off = _fit(name, lorenz_splits, jacobian_weight=0.0)
    a, b = _weights(today), _weights(off)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def _mean_jacobian_norm(model, x: np.ndarray) -> float:
    """Mean ``||J||_F^2`` of the trained step map at states along a training trajectory."""
    if model.name == "node":
        states = model.to_model(x[0, :1000:10])
    else:
        states = np.concatenate([model.initial_state(x[0, i : i + 20]) for i in range(0, 980, 20)])
    jac = model.jacobian(states)
    return float((jac**2).sum(axis=(1, 2)).mean())


@pytest.mark.parametrize("weighting", ["adaptive", pytest.param("uniform", marks=pytest.mark.e2e)])
@pytest.mark.parametrize("name", TRAINED)
def test_the_penalty_lowers_the_jacobian_norm_at_a_paired_seed(
    name, weighting, lorenz_splits
) -> None:
    x = lorenz_splits["train"]["x"].values
    off = _mean_jacobian_norm(_fit(name, lorenz_splits), x)
    on = _fit(name, lorenz_splits, jacobian_weight=1.0, jacobian_weighting=weighting)
    assert on.training_result_.epochs_run == SHORT["epochs"]
    assert _mean_jacobian_norm(on, x) < 0.9 * off


@pytest.mark.e2e  # four fits
def test_node_group_with_the_penalty_equals_lone_runs(lorenz_splits) -> None:
    """The penalty's states and probes come from each model's own generator, so models
    trained together (``fit_many``) equal their lone runs up to rounding."""
    from dsrbench.methods.base import FitTask

    cls = methods.get("node")
    hp = {**cls.quick_hyperparameters, **SHORT, "jacobian_weight": 0.5}
    tasks = [FitTask(lorenz_splits["train"], None, s, hp, None, f"s{s}") for s in (1, 2)]
    together = cls.fit_many(tasks, device="cpu")
    for task, outcome in zip(tasks, together, strict=True):
        alone = cls(**hp).fit(task.train, None, seed=task.seed, device="cpu")
        a, b = _weights(alone), _weights(outcome.model)
        for k in a:
            np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6)


@pytest.mark.e2e  # dopri5 through torchdiffeq, twice
def test_node_trained_alone_with_an_adaptive_solver_takes_the_penalty(lorenz_splits) -> None:
    """The lone path (``NodeStep``: dopri5 through torchdiffeq, RAdam) penalises too."""
    x = lorenz_splits["train"]["x"].values
    alone = {"method": "dopri5", "optimizer": "radam", "seq_len": 5, "batch_size": 16}
    off = _fit("node", lorenz_splits, **alone)
    assert not off.trains_together()
    on = _fit("node", lorenz_splits, **alone, jacobian_weight=1.0)
    # RAdam's first steps are small: the norm falls, less than on the vectorised path
    assert _mean_jacobian_norm(on, x) < _mean_jacobian_norm(off, x)
