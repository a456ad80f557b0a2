"""shPLRNN + GTF and the AL-RNN (method-specific checks on small real fits), and the neural
ODE's closed forms. The shared training loop is tested in tests/unit/test_training.py.

References are independent of the code under test: the numpy inference path against the
torch training path, autograd Jacobians and numpy spectral norms against the analytic
Jacobians and the adaptive-alpha estimate, hand-computed sign sequences for the symbolic
code.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from support import latent_rnn_oracles
from support.latent_rnn_oracles import (
    estimate_alpha,
    forced_states,
    gtf_rollout,
    initial_latent,
    sparse_tf_rollout,
    torch_step,
    torch_weights,
)

from dsrbench import methods
from dsrbench.methods.alrnn import symbolic_code_of
from dsrbench.methods.shplrnn_gtf import alpha_estimate, anneal_alpha

TINY = {"epochs": 3, "batches_per_epoch": 3, "seq_len": 20, "validate_every": 3}


def _fit(name: str, splits, **kw) -> methods.Method:
    cls = methods.get(name)
    return cls(**{**cls.quick_hyperparameters, **TINY, **kw}).fit(splits["train"], device="cpu")


@pytest.fixture(scope="module")
def plrnns(lorenz_splits) -> list[methods.Method]:
    """shPLRNNs with M = D = 3 and with two unobserved units (M = 5)."""
    return [_fit("shplrnn_gtf", lorenz_splits), _fit("shplrnn_gtf", lorenz_splits, latent_dim=5)]


@pytest.fixture(scope="module")
def alrnn(lorenz_splits) -> methods.Method:
    return _fit("alrnn", lorenz_splits, latent_dim=6, relu_units=2, code_steps=3000)


@pytest.fixture(scope="module")
def windows(lorenz_splits) -> torch.Tensor:
    """Standardised test windows (4, 30, 3), float64."""
    test = lorenz_splits["test"]
    x = (np.asarray(test["x"].values[0]) - test["train_mean"].values) / test["train_std"].values
    return torch.as_tensor(np.stack([x[s : s + 30] for s in (0, 200, 400, 600)]))


# -- generalized teacher forcing ------------------------------------------------------------
def _random_step(m: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(m, m, generator=g, dtype=torch.float64) * 0.5
    return lambda z: torch.tanh(z @ w.T) + 0.1


def test_gtf_alpha_one_is_pure_teacher_forcing_and_zero_a_free_run() -> None:
    step = _random_step()
    x = torch.randn(2, 15, 2, dtype=torch.float64)
    z0 = torch.cat([x[:, 0], torch.zeros(2, 2, dtype=torch.float64)], 1)
    _, forced = gtf_rollout(step, z0, x, alpha=1.0)
    torch.testing.assert_close(forced[..., :2], x[:, 1:], rtol=0, atol=0)
    predicted, _ = gtf_rollout(step, z0, x, alpha=0.0)
    z, free = z0, []
    for _ in range(14):
        z = step(z)
        free.append(z)
    torch.testing.assert_close(predicted, torch.stack(free, 1), rtol=0, atol=0)
    # in between: the observed units are the convex combination, the others untouched
    predicted, forced = gtf_rollout(step, z0, x, alpha=0.3)
    torch.testing.assert_close(forced[..., :2], 0.7 * predicted[..., :2] + 0.3 * x[:, 1:])
    torch.testing.assert_close(forced[..., 2:], predicted[..., 2:], rtol=0, atol=0)


def test_gtf_of_the_model_against_its_numpy_inference(plrnns, windows) -> None:
    """alpha = 1: each prediction is one step of the numpy map from the context read with
    the observed units set to the data (what `forecast` does); alpha = 0: the numpy free
    run from z_0 = [x_0, L x_0]."""
    x = windows
    for model in plrnns:
        p = torch_weights(model)
        z0 = initial_latent(p, x[:, 0])
        predicted, forced = gtf_rollout(lambda z, p=p, m=model: torch_step(m, p, z), z0, x, 1.0)
        torch.testing.assert_close(forced[..., :3], x[:, 1:], rtol=0, atol=0)
        for t in range(1, x.shape[1]):
            expected = model.step(model.initial_state(_raw(model, x[:, :t])))
            np.testing.assert_allclose(
                predicted[:, t - 1].numpy(), expected, rtol=1e-12, atol=1e-12
            )
        free, _ = gtf_rollout(lambda z, p=p, m=model: torch_step(m, p, z), z0, x, 0.0)
        expected = model._run_free(z0.numpy(), x.shape[1] - 1)
        np.testing.assert_allclose(free.numpy(), expected, rtol=1e-12, atol=1e-12)


def _raw(model, x_std: torch.Tensor) -> np.ndarray:
    return x_std.numpy() * model.std_ + model.mean_


def test_adaptive_alpha_is_one_minus_inverse_geometric_mean_of_spectral_norms(
    plrnns, windows
) -> None:
    x = windows
    for model in plrnns:
        p = torch_weights(model)
        p["A"] = p["A"] + 0.5  # expanding, so that the estimate is not clipped at 0
        m = p["h"].shape[0]
        states = forced_states(model, p, x, 0.3)
        torch.testing.assert_close(states[..., :3], x[:, 1:], rtol=0, atol=0)
        if m > 3:  # unobserved units: those of the GTF rollout
            z0 = initial_latent(p, x[:, 0])
            _, forced = gtf_rollout(lambda z, p=p, mod=model: torch_step(mod, p, z), z0, x, 0.3)
            torch.testing.assert_close(
                states[..., 3:], forced[..., 3:], rtol=1e-12, atol=0
            )  # numba kernel vs torch
        norms = []
        for s in states.reshape(-1, m):
            jac = torch.autograd.functional.jacobian(
                lambda z, p=p, mod=model: torch_step(mod, p, z[None])[0], s
            )
            norms.append(np.linalg.svd(jac.numpy(), compute_uv=False)[0])
        g = float(np.exp(np.mean(np.log(norms))))
        assert g > 1.0
        assert estimate_alpha(model, p, x, 0.3) == pytest.approx(1 - 1 / g, rel=1e-10)
    # contracting Jacobians need no forcing
    assert alpha_estimate(0.1 * torch.eye(3, dtype=torch.float64)[None]) == 0.0
    jac = torch.randn(50, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    g = float(np.exp(np.mean(np.log([np.linalg.norm(j, 2) for j in jac.numpy()]))))
    assert alpha_estimate(jac) == pytest.approx(max(0.0, 1 - 1 / g), rel=1e-10)


def test_adaptive_alpha_jumps_up_and_decays_slowly() -> None:
    assert anneal_alpha(0.2, 0.5) == 0.5
    assert anneal_alpha(0.5, 0.1) == pytest.approx(0.999 * 0.5 + 0.001 * 0.1)
    alpha = 1.0
    for _ in range(1000):
        alpha = anneal_alpha(alpha, 0.0)
    assert alpha == pytest.approx(0.999**1000)


def test_fixed_alpha_stays_and_adaptive_alpha_moves(lorenz_splits) -> None:
    fixed = _fit("shplrnn_gtf", lorenz_splits, alpha=0.37, alpha_mode="fixed")
    assert [h["alpha"] for h in fixed.training_result_.history] == [0.37] * 3
    adaptive = _fit("shplrnn_gtf", lorenz_splits, alpha=0.9, alpha_update_every=1)
    alphas = [h["alpha"] for h in adaptive.training_result_.history]
    # nine updates, each alpha <- 0.999 alpha + 0.001 estimate (estimates < 0.9 here)
    assert 0.9 > alphas[0] > alphas[1] > alphas[2] >= 0.9 * 0.999**9 - 1e-12


def test_shplrnn_jacobian_of_both_variants_matches_finite_differences(lorenz_splits) -> None:
    for clipped in (False, True):
        model = _fit("shplrnn_gtf", lorenz_splits, clipped=clipped, latent_dim=4)
        z = np.random.default_rng(0).normal(size=(6, 4))
        jac = model.jacobian(z)
        for j in range(4):
            dz = np.zeros_like(z)
            dz[:, j] = 1e-6
            fd = (model.step(z + dz) - model.step(z - dz)) / 2e-6
            np.testing.assert_allclose(jac[:, :, j], fd, rtol=1e-5, atol=1e-7)


def test_clipped_shplrnn_is_bounded_by_its_linear_part(lorenz_splits) -> None:
    """ReLU(W2 z + h2) - ReLU(W2 z) is bounded by |h2|, so far from the origin the clipped
    map is A z + O(1) (Hess et al. 2023)."""
    model = _fit("shplrnn_gtf", lorenz_splits, clipped=True)
    z = 1e6 * np.random.default_rng(2).normal(size=(5, 3))
    w = model.weights_
    bound = np.abs(w["W1"]) @ np.abs(w["h2"]) + np.abs(w["h"])
    assert np.all(np.abs(model.step(z) - w["A"] * z) <= bound + 1e-6)


def test_unobserved_units_start_from_the_learned_map(plrnns, alrnn) -> None:
    x0 = np.array([[[1.0, -2.0, 3.0]]])
    assert "L" not in plrnns[0].weights_
    for model in (plrnns[1], alrnn):
        w = model.weights_
        assert w["L"].shape == (w["h"].shape[0] - 3, 3)
        x_std = (x0[0] - model.mean_) / model.std_
        np.testing.assert_allclose(
            model.initial_state(x0), np.concatenate([x_std, x_std @ w["L"].T], axis=1)
        )


# -- AL-RNN ---------------------------------------------------------------------------------
def test_alrnn_with_no_relu_units_is_linear(lorenz_splits) -> None:
    model = _fit("alrnn", lorenz_splits, relu_units=0, latent_dim=8, code_steps=200)
    w = model.weights_
    linear = np.diag(w["A"]) + w["W"]
    rng = np.random.default_rng(0)
    z1, z2 = rng.normal(size=(3, 8)), rng.normal(size=(3, 8))
    np.testing.assert_allclose(model.step(z1), z1 @ linear.T + w["h"], rtol=1e-13, atol=1e-13)
    # superposition of the affine map
    lhs = model.step(2.0 * z1 - 3.0 * z2) - w["h"]
    rhs = 2.0 * (model.step(z1) - w["h"]) - 3.0 * (model.step(z2) - w["h"])
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-12)
    jac = model.jacobian(1e3 * rng.normal(size=(4, 8)))
    for j in jac:
        np.testing.assert_array_equal(j, linear)  # one linear map everywhere
    p = torch_weights(model)
    torch_step = latent_rnn_oracles.torch_step(model, p, torch.as_tensor(z1)).numpy()
    np.testing.assert_allclose(torch_step, z1 @ linear.T + w["h"], rtol=1e-13, atol=1e-13)
    code = model.symbolic_code()
    assert code["n_regions"] == 1 and code["frequencies"] == [1.0]


def test_alrnn_jacobian_is_a_plus_w_times_the_relu_gates(alrnn) -> None:
    p = torch_weights(alrnn)
    z = np.random.default_rng(3).normal(size=(8, 6))
    jac = alrnn.jacobian(z)
    for zb, jb in zip(z, jac, strict=True):
        auto = torch.autograd.functional.jacobian(
            lambda v: torch_step(alrnn, p, v[None])[0], torch.as_tensor(zb)
        )
        np.testing.assert_allclose(jb, auto.numpy(), rtol=1e-13, atol=1e-13)
        gates = np.r_[np.ones(4), zb[4:] > 0]
        np.testing.assert_array_equal(
            jb, np.diag(alrnn.weights_["A"]) + alrnn.weights_["W"] * gates
        )


def test_sparse_teacher_forcing_forces_every_tau_steps_only() -> None:
    calls = []

    def step(z):
        calls.append(z.clone())
        return z + 1.0

    x = torch.arange(2 * 13 * 2, dtype=torch.float64).reshape(2, 13, 2) * 100
    z0 = torch.zeros(2, 3, dtype=torch.float64)
    sparse_tf_rollout(step, z0, x, tau=4)
    assert len(calls) == 12
    for t, z_in in enumerate(calls[1:], start=1):  # the input of step t + 1
        if t % 4 == 0:
            torch.testing.assert_close(z_in[:, :2], x[:, t], rtol=0, atol=0)
        else:
            assert not torch.equal(z_in[:, :2], x[:, t])
        # the unobserved unit is never forced: it counts the steps
        torch.testing.assert_close(z_in[:, 2], torch.full((2,), float(t), dtype=torch.float64))


def test_sparse_teacher_forcing_of_the_model_between_its_limits(alrnn, windows) -> None:
    """tau = 1 is pure teacher forcing (one numpy step from the context read with the data),
    tau longer than the sequence a free run; tau = 4 restarts from the data every 4 steps."""
    x = windows
    p = torch_weights(alrnn)
    z0 = initial_latent(p, x[:, 0])
    step = lambda z: torch_step(alrnn, p, z)  # noqa: E731
    pure = sparse_tf_rollout(step, z0, x, 1)
    free = sparse_tf_rollout(step, z0, x, 100)
    every4 = sparse_tf_rollout(step, z0, x, 4)
    for t in range(1, x.shape[1]):
        expected = alrnn.step(alrnn.initial_state(_raw(alrnn, x[:, :t])))
        np.testing.assert_allclose(pure[:, t - 1].numpy(), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        free.numpy(), alrnn._run_free(z0.numpy(), x.shape[1] - 1), rtol=1e-12, atol=1e-12
    )
    # numpy reference of tau = 4: free runs of 4 steps restarted from forced states
    z = z0.numpy()
    for t in range(1, x.shape[1]):
        z = alrnn.step(z)
        np.testing.assert_allclose(every4[:, t - 1].numpy(), z, rtol=1e-12, atol=1e-12)
        if t % 4 == 0:
            z = z.copy()
            z[:, :3] = x[:, t].numpy()


def test_symbolic_code_of_a_known_sequence() -> None:
    signs = np.array([[0, 1], [0, 1], [1, 1], [0, 1], [1, 1], [1, 1]], dtype=bool)
    code = symbolic_code_of(signs)
    assert code["regions"] == ["01", "11"] and code["n_regions"] == 2
    np.testing.assert_allclose(code["frequencies"], [0.5, 0.5])
    # from 01: 01 -> 01, 01 -> 11, 01 -> 11; from 11: 11 -> 01, 11 -> 11
    np.testing.assert_allclose(code["transitions"], [[1 / 3, 2 / 3], [1 / 2, 1 / 2]])
    # a region seen only at the last step has no outgoing transition
    code = symbolic_code_of(np.array([[0], [0], [1]], dtype=bool))
    np.testing.assert_allclose(code["transitions"], [[0.5, 0.5], [0.0, 0.0]])


def test_trained_alrnn_symbolic_code_is_consistent_and_saved(alrnn, lorenz_splits, tmp_path):
    code = alrnn.symbolic_code()
    assert 1 <= code["n_regions"] <= 2**2 and code["steps"] == 3000 and code["finite"]
    assert all(len(r) == 2 and set(r) <= {"0", "1"} for r in code["regions"])
    assert sum(code["frequencies"]) == pytest.approx(1.0)
    np.testing.assert_allclose(np.asarray(code["transitions"]).sum(axis=1), 1.0)
    # independently: the free run after the first 100 training points, its ReLU signs
    train = lorenz_splits["train"]
    z = alrnn.initial_state(np.asarray(train["x"].values[0, :100])[None])
    run = alrnn._run_free(z, 3000)[0, :, 4:] > 0
    words, counts = np.unique(run.astype(int), axis=0, return_counts=True)
    assert ["".join(map(str, w)) for w in words] == code["regions"]
    np.testing.assert_allclose(code["frequencies"], counts / 3000)
    alrnn.save(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "symbolic_code.json").read_text())
    assert saved == code
    assert methods.get("alrnn").load(tmp_path / "m").symbolic_code() == code


# -- neural ODE -----------------------------------------------------------------------------
def _linear_node(m: np.ndarray, method: str = "rk4"):
    from dsrbench.methods.node import VectorField

    model = methods.get("node")(method=method, substeps=20, hidden_dim=4)
    model.mean_, model.std_ = np.zeros(2), np.ones(2)
    field = VectorField(2, 4).to(torch.float64)
    with torch.no_grad():
        field.linear.weight.copy_(torch.as_tensor(m))
        field.linear.bias.zero_()
        field.mlp[-1].weight.zero_()
        field.mlp[-1].bias.zero_()
    model.field_ = field.eval()
    return model


def test_node_with_a_linear_field_follows_the_matrix_exponential() -> None:
    from scipy.linalg import expm

    m = np.array([[-0.1, 1.0], [-1.0, -0.1]])
    x0 = np.array([[1.0, 0.5]])
    for method in ("rk4", "dopri5"):
        model = _linear_node(m, method)
        pred = model.forecast(x0[:, None], 30)[0]
        exact = np.stack([expm(m * k) @ x0[0] for k in range(1, 31)])
        np.testing.assert_allclose(pred, exact, atol=1e-6 if method == "rk4" else 1e-3)
    model = _linear_node(m)
    np.testing.assert_allclose(model.jacobian(x0)[0], expm(m), atol=1e-8)


def test_node_divergence_gives_non_finite_values_not_an_exception() -> None:
    model = _linear_node(np.array([[3.0, 0.0], [0.0, 3.0]]), "dopri5")
    out = model.forecast(np.array([[[1e3, 1e3]]]), 400)
    assert out.shape == (1, 400, 2) and not np.all(np.isfinite(out))


@pytest.mark.parametrize("name", ["shplrnn_gtf", "alrnn"])
def test_latent_dim_dim_makes_the_latent_state_the_observations(name) -> None:
    """``latent_dim: dim`` gives M = D (database runs over systems of dimension 3 to 10);
    anything else that is not a positive integer is refused by name."""
    from support.method_data import as_dataset

    x = 0.1 * np.random.default_rng(0).normal(size=(2, 120, 4)).cumsum(axis=1)
    hp = {"latent_dim": "dim", "epochs": 2, "seq_len": 10, "batches_per_epoch": 2}
    if name == "alrnn":
        hp |= {"relu_units": 1, "code_steps": 10}
    model = methods.get(name)(**hp).fit(as_dataset(x, standardize=True))
    assert model.weights_["A"].shape == (4,) and "L" not in model.weights_
    assert model.forecast(x[:1, :5], 3).shape == (1, 3, 4)
    with pytest.raises(ValueError, match="latent_dim must be a positive integer or 'dim'"):
        methods.get(name)(**{**hp, "latent_dim": "four"}).fit(as_dataset(x, standardize=True))
