"""Neural ODE (``node``) against closed forms: linear ODEs, whose flow is a matrix exponential
(scipy.linalg.expm), learned and hand-set fields, divergence, Jacobians, resumed training."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.linalg import expm
from support.method_data import as_dataset

from dsrbench import methods
from dsrbench.methods import RunFiles
from dsrbench.methods.node import CHUNK, NeuralODE

#: dx/dt = M (x - C): a slowly decaying elliptic spiral around C (time units of the system)
M = np.array([[-0.05, 1.0], [-1.5, -0.05]])
C = np.array([1.0, -2.0])
DT = 0.1


def linear_flow(
    x0: np.ndarray, steps: int, m: np.ndarray = M * DT, c: np.ndarray = C
) -> np.ndarray:
    """The exact solution of dx/dt = m (x - c), m per data step, at ``1..steps`` data steps
    after ``x0 (B, D)``: ``(B, steps, D)``."""
    phi = expm(m)
    x = np.asarray(x0, dtype=np.float64) - c
    out = np.empty((x.shape[0], steps, x.shape[1]))
    for k in range(steps):
        x = x @ phi.T
        out[:, k] = x + c
    return out


def linear_data(n: int, t: int, seed: int = 0) -> np.ndarray:
    x0 = C + 2.0 * np.random.default_rng(seed).normal(size=(n, 2))
    return np.concatenate([x0[:, None], linear_flow(x0, t - 1)], axis=1)


def hand_set(m: np.ndarray, c: np.ndarray, mean, std, **params) -> NeuralODE:
    """A NODE whose field is, in raw coordinates, exactly dx/dt = m (x - c) per data step:
    in standardised z = (x - mean) / std, dz/dt = S^-1 m S z + S^-1 m (mean - c), and the
    MLP's output layer is zero."""
    model = NeuralODE(linear_skip=True, hidden_dim=8, **params)
    model.mean_, model.std_ = np.asarray(mean, float), np.asarray(std, float)
    field = model._field(m.shape[0])
    s = np.diag(model.std_)
    with torch.no_grad():
        field.linear.weight.copy_(torch.as_tensor(np.linalg.inv(s) @ m @ s))
        field.linear.bias.copy_(torch.as_tensor(np.linalg.inv(s) @ m @ (model.mean_ - c)))
        field.mlp[-1].weight.zero_()
        field.mlp[-1].bias.zero_()
    model._set_field(field.state_dict())
    return model


def standardized_step_matrix(model: NeuralODE, m: np.ndarray) -> np.ndarray:
    """The exact one-step map of dx/dt = m (x - c) in the model's standardised coordinates
    (its linear part: S^-1 expm(m) S, m per data step)."""
    s = np.diag(model.std_)
    return np.linalg.inv(s) @ expm(m) @ s


# -- hand-set fields: closed forms -----------------------------------------------------------
@pytest.mark.parametrize(("method", "atol"), [("rk4", 3e-5), ("dopri5", 2e-3)])
def test_hand_set_linear_field_forecasts_the_matrix_exponential(method, atol) -> None:
    model = hand_set(M * DT, C, mean=[0.5, -1.0], std=[2.0, 3.0], method=method, substeps=5)
    x0 = C + np.array([[2.0, 1.0], [-1.0, 0.5], [0.0, 3.0]])
    ctx = np.concatenate([np.zeros((3, 4, 2)), x0[:, None]], axis=1)  # only the last point counts
    horizon = CHUNK + 200  # two chunks: the free run continues across the chunk boundary
    pred = model.forecast(ctx, horizon)
    exact = linear_flow(x0, horizon)
    assert pred.shape == (3, horizon, 2) and pred.dtype == np.float64
    np.testing.assert_allclose(pred, exact, atol=atol * np.abs(exact).max())
    np.testing.assert_array_equal(model.generate(ctx, 50), pred[:, :50])


def test_hand_set_linear_field_jacobian_is_the_matrix_exponential() -> None:
    model = hand_set(M * DT, C, mean=[0.5, -1.0], std=[2.0, 3.0], substeps=10)
    x0 = C + np.array([[2.0, 1.0], [-1.0, 0.5]])
    z = model.initial_state(x0[:, None])
    np.testing.assert_allclose(z, (x0 - model.mean_) / model.std_)
    jac = model.jacobian(z)
    exact = standardized_step_matrix(model, M * DT)
    assert jac.shape == (2, 2, 2)
    np.testing.assert_allclose(jac, np.broadcast_to(exact, jac.shape), atol=1e-9)
    # the step map is the flow: one step equals the closed form in standardised coordinates
    step = model.step(z) * model.std_ + model.mean_
    np.testing.assert_allclose(step, linear_flow(x0, 1)[:, 0], atol=1e-9)


# -- divergence --------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["rk4", "dopri5"])
def test_divergence_gives_non_finite_values_only_where_it_happens(method) -> None:
    grow = 3.0 * np.eye(2)  # dx/dt = 3 (x - c): e^3 per data step, from 1e100 overflow
    model = hand_set(grow, C, mean=[0.0, 0.0], std=[1.0, 1.0], method=method, substeps=10)
    ctx = np.stack([C + 1e100, C])[:, None]  # after ~160 steps; the second sits on the
    with np.errstate(all="raise"):  # fixed point. The method must silence its own overflow.
        out = model.forecast(ctx, 200)
    assert out.shape == (2, 200, 2)
    assert not np.all(np.isfinite(out[0])) and np.all(np.isfinite(out[0, :150]))
    np.testing.assert_allclose(out[0, :5], linear_flow(ctx[:1, -1], 5, grow)[0], rtol=1e-3)
    np.testing.assert_array_equal(out[1], np.broadcast_to(C, (200, 2)))  # unharmed neighbour
    first_bad = np.argmax(~np.isfinite(out[0]).all(axis=1))
    assert not np.isfinite(out[0, first_bad:]).all(axis=1).any()  # nothing after the blow-up


# -- learning ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "jac_atol", "rmse"),
    [
        ({"field": "linear", "method": "rk4", "substeps": 2}, 1e-5, 1e-5),
        ({"field": "linear", "method": "dopri5", "epochs": 10}, 5e-3, 1e-2),
        ({"method": "rk4", "substeps": 1}, 1.5e-2, 2e-2),
    ],
    ids=["linear-rk4", "linear-dopri5", "residual-mlp"],
)
def test_learned_flow_of_a_linear_ode_is_the_matrix_exponential(params, jac_atol, rmse) -> None:
    train = as_dataset(linear_data(8, 200), DT, standardize=True)
    settings = {
        "seq_len": 20,
        "batch_size": 32,
        "batches_per_epoch": 10,
        "epochs": 30,
        "lr_start": 2e-2,
        "lr_end": 1e-3,
        **params,
    }
    model = NeuralODE(**settings).fit(train, seed=0, device="cpu")
    # the one-step map (its Jacobian, at unseen states) against expm(M dt)
    x0 = linear_data(3, 1, seed=1)[:, 0]
    jac = model.jacobian(model.initial_state(x0[:, None]))
    exact = standardized_step_matrix(model, M * DT)
    np.testing.assert_allclose(jac, np.broadcast_to(exact, jac.shape), atol=jac_atol)
    # and 50-step forecasts from them against the closed form (relative RMS error)
    pred, truth = model.forecast(x0[:, None], 50), linear_flow(x0, 50)
    assert np.sqrt(np.mean((pred - truth) ** 2)) < rmse * np.abs(truth).max()


# -- Jacobian, determinism, resume -------------------------------------------------------------
def test_jacobian_of_a_random_residual_mlp_equals_finite_differences() -> None:
    model = NeuralODE(linear_skip=True, substeps=3, hidden_dim=16, n_blocks=2)
    model.mean_, model.std_ = np.zeros(3), np.ones(3)
    torch.manual_seed(4)
    field = model._field(3)
    field.initialise(0.5)
    with torch.no_grad():
        field.linear.weight.normal_(0.0, 0.3)
    model._set_field(field.state_dict())
    z = np.random.default_rng(0).normal(size=(5, 3))
    jac = model.jacobian(z)
    eps, fd = 1e-6, np.empty_like(jac)
    for j in range(3):
        dz = np.zeros_like(z)
        dz[:, j] = eps
        fd[:, :, j] = (model.step(z + dz) - model.step(z - dz)) / (2 * eps)
    np.testing.assert_allclose(jac, fd, rtol=1e-6, atol=1e-8)
    # rk4 forecasts iterate exactly the step map
    model.params["method"] = "rk4"
    run = model.forecast(z[:, None], 3)
    np.testing.assert_array_equal(run[:, 2], model.step(model.step(model.step(z))))


def test_resumed_training_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    train = as_dataset(linear_data(4, 120), DT, standardize=True)
    val = as_dataset(linear_data(1, 120, seed=5), DT, standardize=True)
    val["train_mean"], val["train_std"] = train["train_mean"], train["train_std"]
    settings = {
        "method": "rk4",
        "substeps": 1,
        "seq_len": 10,
        "batch_size": 16,
        "batches_per_epoch": 3,
        "epochs": 6,
        "checkpoint_every": 2,
        "validate_every": 2,
    }
    whole = NeuralODE(**settings).fit(train, val, seed=3, device="cpu")
    run = RunFiles(checkpoint_dir=tmp_path / "ckpt", epoch_log=tmp_path / "epochs.csv")
    first = NeuralODE(**settings).fit(train, val, seed=3, device="cpu", run=run, budget=0.0)
    assert first.training_result_.stopped_by_budget
    assert first.training_result_.epochs_run == 1
    resumed = NeuralODE(**settings).fit(train, val, seed=3, device="cpu", run=run)
    assert resumed.training_result_.resumed_from == 1
    ctx = linear_data(2, 1, seed=7)
    np.testing.assert_array_equal(resumed.forecast(ctx, 40), whole.forecast(ctx, 40))
    with (tmp_path / "epochs.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == list(range(1, 7))
    assert {"loss", "lr", "alpha", "val_stsp", "seconds", "skipped"} <= set(rows[0])
    assert all(r["skipped"] == "0" and r["alpha"] == "nan" for r in rows)
    lrs = [float(r["lr"]) for r in rows]
    np.testing.assert_allclose(lrs, 1e-2 * (1e-2) ** (np.arange(6) / 6), rtol=1e-6)
    assert np.isfinite(float(rows[1]["val_stsp"])) and np.isnan(float(rows[0]["val_stsp"]))


def test_invalid_settings_fail_clearly() -> None:
    data = as_dataset(linear_data(2, 30), DT, standardize=True)
    with pytest.raises(ValueError, match="field"):
        NeuralODE(field="cubic").fit(data, device="cpu")
    with pytest.raises(ValueError, match="optimizer"):
        NeuralODE(optimizer="sgd", epochs=1).fit(data, device="cpu")
    assert methods.get("node") is NeuralODE


@pytest.mark.parametrize("linear_skip,substeps", [(False, 1), (True, 3)])
def test_numpy_step_and_jvp_equal_torch_and_jacrev_of_the_step_map(linear_skip, substeps) -> None:
    """The forward-mode numpy Jacobian-vector product (the QR Lyapunov exponent's) against
    torch.func.jacrev of the torch RK4 step map, on a random residual MLP with two blocks."""
    torch.manual_seed(1)
    model = NeuralODE(linear_skip=linear_skip, hidden_dim=12, n_blocks=2, substeps=substeps)
    model.mean_, model.std_ = np.zeros(3), np.ones(3)
    field = model._field(3)
    field.initialise(0.4)
    if linear_skip:
        with torch.no_grad():
            field.linear.weight.normal_(0.0, 0.3)
    model._set_field(field.state_dict())
    z = np.random.default_rng(2).normal(size=(4, 3))
    jac = (
        torch.func.vmap(torch.func.jacrev(lambda v: model._step_map(v[None])[0]))(
            torch.as_tensor(z)
        )
        .detach()
        .numpy()
    )
    q = np.random.default_rng(3).normal(size=(4, 3, 2))
    np.testing.assert_allclose(model.jvp(z, q), jac @ q, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(model.jacobian(z), jac, rtol=1e-12, atol=1e-13)
    # the numpy step map (inference with rk4) is the torch one up to rounding
    with torch.no_grad():
        torch_step = model._step_map(torch.as_tensor(z)).numpy()
    np.testing.assert_allclose(model.step(z), torch_step, rtol=1e-13, atol=1e-14)
