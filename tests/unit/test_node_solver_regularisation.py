"""``node``'s solver-heuristic regularisation (ERNODE/SRNODE; Pal, Ma, Shah & Rackauckas
2021, "Opening the Blackbox", ICML): off by default and then exactly today's training; on, the
error-estimate term lowers R_E (the sign test), the group and the lone paths agree, and
forecasts count their vector-field evaluations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support.method_data import as_dataset
from torchdiffeq import odeint

from dsrbench.methods import FitTask
from dsrbench.methods._adaptive_solver import dopri5_solve, error_penalty
from dsrbench.methods.node import NeuralODE

#: a tiny dopri5 training (seconds on one core)
TINY = {
    "hidden_dim": 8,
    "epochs": 4,
    "batches_per_epoch": 5,
    "batch_size": 16,
    "seq_len": 6,
    "validate_every": 1000,
    "checkpoint_every": 1000,
}


def spiral(n: int = 400) -> np.ndarray:
    """A standardised-scale damped rotation sampled every 0.3 time units, ``(1, n, 2)``."""
    t = 0.3 * np.arange(n)
    r = np.exp(-0.002 * t)
    return np.stack([r * np.cos(t), r * np.sin(1.3 * t)], axis=1)[None]


def fitted(data, seed: int = 0, **params) -> NeuralODE:
    return NeuralODE(**{**TINY, **params}).fit(data, seed=seed)


def field_weights(model: NeuralODE) -> dict[str, torch.Tensor]:
    return model.field_.state_dict()


def mean_error_estimate(model: NeuralODE, x: np.ndarray) -> float:
    """R_E (mean over the accepted steps of EEst_j |dt_j|) of the trained field from 32 fixed
    windows' first points over 5 data steps, in float64."""
    starts = torch.as_tensor(model.to_model(x)[0, 10:330:10])
    with torch.no_grad():
        sol = dopri5_solve(model.field_, starts, torch.arange(6.0), rtol=1e-4, atol=1e-4)
        return float(error_penalty(sol, 1.0, "mean"))


def test_off_by_default_is_exactly_todays_training() -> None:
    """Weights 0 (the defaults): no solver term, and a fit with them written out equals the
    default fit bit for bit, for the fixed-step group path and the adaptive lone path."""
    assert not NeuralODE()._solver_regularisation().active
    data = as_dataset(spiral())
    for method in ("rk4", "dopri5"):
        a = fitted(data, method=method)
        b = fitted(data, method=method, ernode_weight=0.0, srnode_weight=0.0)
        assert "R_E" not in a.training_result_.history[-1]
        for name, value in field_weights(a).items():
            assert torch.equal(value, field_weights(b)[name]), (method, name)


def test_error_estimate_penalty_lowers_the_error_estimates() -> None:
    """The sign test: at the same seed and epochs, lambda_E = 100 (the paper's initial MNIST
    weight) ends with a smaller R_E of the trained field than no penalty."""
    x = spiral()
    data = as_dataset(x)
    off = fitted(data)
    on = fitted(data, ernode_weight=100.0, ernode_weight_end=10.0)
    history = on.training_result_.history
    assert {"mse", "R_E", "R_S", "nfe"} <= set(history[-1])
    assert all(np.isfinite(row["R_E"]) for row in history)
    assert mean_error_estimate(on, x) < mean_error_estimate(off, x)


def test_stiffness_penalty_trains_and_logs() -> None:
    model = fitted(as_dataset(spiral()), srnode_weight=0.285, epochs=2)
    row = model.training_result_.history[-1]
    assert row["R_S"] > 0 and row["skipped"] == 0


def test_group_equals_lone_runs() -> None:
    """Two regularised models in one group (each its own adaptive steps) end where each
    ends alone (a K = 1 group), to rounding, in float64."""
    data = as_dataset(spiral())
    params = {**TINY, "ernode_weight": 10.0, "srnode_weight": 0.1, "dtype": "float64"}
    outcomes = NeuralODE.fit_many([FitTask(data, None, seed, params) for seed in (0, 1)])
    for seed, outcome in zip((0, 1), outcomes, strict=True):
        assert outcome.model is not None, outcome.error
        alone = NeuralODE(**params).fit(data, seed=seed)
        for name, value in field_weights(alone).items():
            torch.testing.assert_close(
                field_weights(outcome.model)[name], value, rtol=1e-9, atol=1e-9
            )


def test_radam_trains_alone_with_the_penalty() -> None:
    """RAdam does not train in groups: the lone step carries the same terms."""
    model = NeuralODE(**{**TINY, "optimizer": "radam", "ernode_weight": 10.0, "epochs": 2})
    assert not model.trains_together()
    model.fit(as_dataset(spiral()))
    assert np.isfinite(model.training_result_.history[-1]["R_E"])


def test_needs_an_adaptive_solver() -> None:
    with pytest.raises(ValueError, match="method='dopri5'"):
        fitted(as_dataset(spiral()), method="rk4", ernode_weight=1.0)


def test_forecasts_count_function_evaluations() -> None:
    """``forecast_nfe_``: dopri5 counts the evaluations of its solve (torchdiffeq's own
    count), rk4 four per substep."""
    x = spiral()
    data = as_dataset(x)
    model = fitted(data, epochs=1)
    context = x[:, :50]
    model.forecast(context, 40)
    calls = []

    def counted(t, y):
        calls.append(1)
        return model.field_(t, y)

    start = torch.as_tensor(model.to_model(context)[:, -1])
    odeint(counted, start, torch.arange(41.0, dtype=torch.float64), rtol=1e-4, atol=1e-4)
    assert model.forecast_nfe_ == len(calls) > 0
    rk4 = fitted(data, epochs=1, method="rk4", substeps=2)
    rk4.forecast(context, 40)
    assert rk4.forecast_nfe_ == 4 * 2 * 40
