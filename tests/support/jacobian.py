"""Helpers of the Jacobian-penalty tests (unit/test_jacobian_penalty.py and
e2e/test_jacobian_penalty_e2e.py): short fits and the trained map's Jacobian norm."""

from __future__ import annotations

import numpy as np

from dsrbench import methods

TRAINED = ("node", "alrnn", "shplrnn_gtf")
SHORT = {"epochs": 3, "batches_per_epoch": 5}


def fit_short(name: str, splits, **extra):
    cls = methods.get(name)
    model = cls(**{**cls.quick_hyperparameters, **SHORT, **extra})
    return model.fit(splits["train"], splits["val"], seed=1, device="cpu")


def trained_weights(model) -> dict[str, np.ndarray]:
    if model.name == "node":
        return {k: v.numpy() for k, v in model.field_.state_dict().items()}
    return model.weights_


def mean_jacobian_norm(model, x: np.ndarray) -> float:
    """Mean ``||J||_F^2`` of the trained step map at states along a training trajectory."""
    if model.name == "node":
        states = model.to_model(x[0, :1000:10])
    else:
        states = np.concatenate([model.initial_state(x[0, i : i + 20]) for i in range(0, 980, 20)])
    jac = model.jacobian(states)
    return float((jac**2).sum(axis=(1, 2)).mean())


def check_penalty_lowers_the_norm(name: str, weighting: str, lorenz_splits) -> None:
    """A short fit with the penalty ends with a smaller mean Jacobian norm (by 10 %) than
    the same fit without it, at a paired seed."""
    x = lorenz_splits["train"]["x"].values
    off = mean_jacobian_norm(fit_short(name, lorenz_splits), x)
    on = fit_short(name, lorenz_splits, jacobian_weight=1.0, jacobian_weighting=weighting)
    assert on.training_result_.epochs_run == SHORT["epochs"]
    assert mean_jacobian_norm(on, x) < 0.9 * off
