"""The Jacobian penalty's heavier checks (the fast ones: unit/test_jacobian_penalty.py):
uniform weights, a group equal to its lone runs, the lone adaptive-solver path."""

from __future__ import annotations

import numpy as np
import pytest
from support.jacobian import (
    SHORT,
    TRAINED,
    check_penalty_lowers_the_norm,
    fit_short,
    mean_jacobian_norm,
    trained_weights,
)

from dsrbench import methods


@pytest.mark.parametrize("name", TRAINED)
def test_uniform_weights_lower_the_jacobian_norm_at_a_paired_seed(name, lorenz_splits) -> None:
    check_penalty_lowers_the_norm(name, "uniform", lorenz_splits)


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
        a, b = trained_weights(alone), trained_weights(outcome.model)
        for k in a:
            np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6)


def test_node_trained_alone_with_an_adaptive_solver_takes_the_penalty(lorenz_splits) -> None:
    """The lone path (``NodeStep``: dopri5 through torchdiffeq, RAdam) penalises too."""
    x = lorenz_splits["train"]["x"].values
    alone = {"method": "dopri5", "optimizer": "radam", "seq_len": 5, "batch_size": 16}
    off = fit_short("node", lorenz_splits, **alone)
    assert not off.trains_together()
    on = fit_short("node", lorenz_splits, **alone, jacobian_weight=1.0)
    # RAdam's first steps are small: the norm falls, less than on the vectorised path
    assert mean_jacobian_norm(on, x) < mean_jacobian_norm(off, x)
