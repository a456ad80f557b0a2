"""The numba gradients of the latent RNNs equal torch autograd of the methods' rollouts.

References: ``gtf_rollout`` (shPLRNN + GTF) and ``sparse_tf_rollout`` (AL-RNN) of the
methods, driven by steps written here in torch, differentiated by autograd in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support.latent_rnn_oracles import gtf_rollout, sparse_tf_rollout

from dsrbench.methods._rnn_kernels import (
    alrnn_loss_grad,
    shplrnn_gtf_forced_states,
    shplrnn_gtf_loss_grad,
)

RTOL = 1e-10


def close(actual: np.ndarray, expected: np.ndarray) -> None:
    """Equal to ``RTOL`` relative to the largest entry (entries may be exactly zero)."""
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-300)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=RTOL * scale)


def initial_latent(p: dict[str, torch.Tensor], x0: torch.Tensor) -> torch.Tensor:
    return torch.cat([x0, x0 @ p["L"].T], dim=1)


def shplrnn_params(k: int, m: int, d: int, hidden: int, rng: np.random.Generator) -> dict:
    return {
        "A": rng.uniform(0.5, 0.95, (k, m)),
        "W1": rng.normal(0, 0.6 / np.sqrt(hidden), (k, m, hidden)),
        "W2": rng.normal(0, 1.0 / np.sqrt(m), (k, hidden, m)),
        "h": rng.normal(0, 0.1, (k, m)),
        "h2": rng.normal(0, 0.5, (k, hidden)),
        "L": rng.normal(0, 0.5, (k, m - d, d)),
    }


def torch_shplrnn(p: dict, x: np.ndarray, alpha: float, clipped: bool):
    """Loss, gradients and forced states of one model by autograd of ``gtf_rollout``."""
    tp = {n: torch.tensor(v, requires_grad=True) for n, v in p.items()}
    active = []

    def step(z: torch.Tensor) -> torch.Tensor:
        pre = z @ tp["W2"].T
        active.append(float((pre + tp["h2"] > 0).double().mean()))
        act = torch.relu(pre + tp["h2"])
        if clipped:
            act = act - torch.relu(pre)
        return tp["A"] * z + act @ tp["W1"].T + tp["h"]

    xt = torch.tensor(x)
    d = x.shape[2]
    predicted, forced = gtf_rollout(step, initial_latent(tp, xt[:, 0]), xt, alpha)
    loss = torch.mean((predicted[..., :d] - xt[:, 1:]) ** 2)
    loss.backward()
    grads = {n: v.grad.numpy() for n, v in tp.items()}
    return float(loss.detach()), grads, forced.detach().numpy(), float(np.mean(active))


@pytest.mark.parametrize("clipped", [False, True])
@pytest.mark.parametrize("m", [3, 5])
def test_shplrnn_gradients_equal_autograd(clipped: bool, m: int) -> None:
    rng = np.random.default_rng(m + 10 * clipped)
    d, hidden, b, t = 3, 7, 4, 30
    alphas = np.array([0.0, 0.3, 1.0])
    p = shplrnn_params(3, m, d, hidden, rng)
    x = rng.normal(size=(3, b, t, d))
    loss, grads = shplrnn_gtf_loss_grad(**p, x=x, alpha=alphas, clipped=clipped)
    forced = shplrnn_gtf_forced_states(**p, x=x, alpha=alphas, clipped=clipped)
    assert forced.shape == (3, b, t - 1, m)
    assert set(grads) == set(p)
    for k, alpha in enumerate(alphas):
        one = {n: v[k] for n, v in p.items()}
        ref = torch_shplrnn(one, x[k], float(alpha), clipped)
        ref_loss, ref_grads, ref_forced, ref_active = ref
        assert loss[k] == pytest.approx(ref_loss, rel=RTOL)
        for n in p:
            assert grads[n].shape == p[n].shape
            close(grads[n][k], ref_grads[n])
        close(forced[k], ref_forced)
        # K = 1: the same numbers as model k of the batch of models
        loss1, grads1 = shplrnn_gtf_loss_grad(
            **{n: v[k : k + 1] for n, v in p.items()}, x=x[k : k + 1], alpha=alphas[k : k + 1],
            clipped=clipped,
        )  # fmt: skip
        assert loss1[0] == loss[k]
        for n in p:
            np.testing.assert_array_equal(grads1[n][0], grads[n][k])
    # the gating matters: hidden units are both on and off along the rollouts
    assert 0.2 < ref_active < 0.8


def test_shplrnn_finite_difference() -> None:
    """One entry of each gradient against a central difference of the kernel's own loss."""
    rng = np.random.default_rng(3)
    p = shplrnn_params(1, 4, 2, 6, rng)
    x = rng.normal(size=(1, 3, 12, 2))
    _, grads = shplrnn_gtf_loss_grad(**p, x=x, alpha=np.array([0.4]), clipped=True)
    eps = 1e-6
    for n in p:
        idx = (0,) + tuple(s // 2 for s in p[n].shape[1:])
        plus = {k: v.copy() for k, v in p.items()}
        minus = {k: v.copy() for k, v in p.items()}
        plus[n][idx] += eps
        minus[n][idx] -= eps
        lp, _ = shplrnn_gtf_loss_grad(**plus, x=x, alpha=np.array([0.4]), clipped=True)
        lm, _ = shplrnn_gtf_loss_grad(**minus, x=x, alpha=np.array([0.4]), clipped=True)
        assert grads[n][idx] == pytest.approx((lp[0] - lm[0]) / (2 * eps), rel=1e-5, abs=1e-9)


def alrnn_params(k: int, m: int, d: int, rng: np.random.Generator) -> dict:
    return {
        "A": rng.uniform(0.5, 0.95, (k, m)),
        "W": rng.normal(0, 0.3 / np.sqrt(m), (k, m, m)),
        "h": rng.normal(0, 0.2, (k, m)),
        "L": rng.normal(0, 0.5, (k, m - d, d)),
    }


def torch_alrnn(p: dict, x: np.ndarray, tau: int, relu_units: int):
    tp = {n: torch.tensor(v, requires_grad=True) for n, v in p.items()}

    def step(z: torch.Tensor) -> torch.Tensor:
        lin = z.shape[1] - relu_units
        phi = torch.cat([z[:, :lin], torch.relu(z[:, lin:])], dim=1)
        return tp["A"] * z + phi @ tp["W"].T + tp["h"]

    xt = torch.tensor(x)
    d = x.shape[2]
    predicted = sparse_tf_rollout(step, initial_latent(tp, xt[:, 0]), xt, tau)
    loss = torch.mean((predicted[..., :d] - xt[:, 1:]) ** 2)
    loss.backward()
    return float(loss.detach()), {n: v.grad.numpy() for n, v in tp.items()}


@pytest.mark.parametrize(
    ("m", "relu_units", "tau"),
    [(6, 2, 4), (6, 0, 5), (6, 6, 3), (5, 2, 1), (6, 2, 100), (3, 1, 4)],
)
def test_alrnn_gradients_equal_autograd(m: int, relu_units: int, tau: int) -> None:
    rng = np.random.default_rng(100 * m + 10 * relu_units + tau)
    d, b, t, k = 3, 4, 30, 3
    p = alrnn_params(k, m, d, rng)
    x = rng.normal(size=(k, b, t, d))
    loss, grads = alrnn_loss_grad(**p, x=x, tau=tau, relu_units=relu_units)
    assert set(grads) == set(p)
    for i in range(k):
        ref_loss, ref_grads = torch_alrnn({n: v[i] for n, v in p.items()}, x[i], tau, relu_units)
        assert loss[i] == pytest.approx(ref_loss, rel=RTOL)
        for n in p:
            assert grads[n].shape == p[n].shape
            close(grads[n][i], ref_grads[n])
    loss1, grads1 = alrnn_loss_grad(
        **{n: v[:1] for n, v in p.items()}, x=x[:1], tau=tau, relu_units=relu_units
    )
    assert loss1[0] == loss[0]
    np.testing.assert_array_equal(grads1["W"][0], grads["W"][0])


def test_bad_input_names_the_argument() -> None:
    rng = np.random.default_rng(0)
    p = alrnn_params(2, 5, 3, rng)
    x = rng.normal(size=(2, 2, 10, 3))
    with pytest.raises(ValueError, match="W must have shape"):
        alrnn_loss_grad(**{**p, "W": p["W"][:1]}, x=x, tau=2, relu_units=1)
    with pytest.raises(ValueError, match="tau"):
        alrnn_loss_grad(**p, x=x, tau=0, relu_units=1)
    with pytest.raises(ValueError, match="relu_units"):
        alrnn_loss_grad(**p, x=x, tau=2, relu_units=6)
    with pytest.raises(ValueError, match="T >= 2"):
        alrnn_loss_grad(**p, x=x[:, :, :1], tau=2, relu_units=1)
    q = shplrnn_params(2, 5, 3, 4, rng)
    with pytest.raises(ValueError, match="alpha"):
        shplrnn_gtf_loss_grad(**q, x=x, alpha=np.array([0.5, 1.5]), clipped=False)
    with pytest.raises(ValueError, match="L must have shape"):
        shplrnn_gtf_loss_grad(**{**q, "L": q["L"][:, :1]}, x=x, alpha=np.zeros(2), clipped=False)


def test_models_in_parallel_equal_one_after_another() -> None:
    """With two numba threads the K models run in parallel, with the same bits."""
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.fail("numba has one thread here; set NUMBA_NUM_THREADS >= 2 for this test")
    rng = np.random.default_rng(7)
    p = shplrnn_params(5, 5, 3, 6, rng)
    x = rng.normal(size=(5, 3, 12, 3))
    alphas = np.linspace(0.0, 1.0, 5)
    q = {"A": rng.uniform(0.5, 0.9, (5, 6)), "W": 0.1 * rng.normal(size=(5, 6, 6))}
    q |= {"h": rng.normal(size=(5, 6)), "L": rng.normal(size=(5, 3, 3))}
    before = numba.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            results.append(
                (
                    shplrnn_gtf_loss_grad(**p, x=x, alpha=alphas, clipped=False),
                    alrnn_loss_grad(**q, x=x, tau=4, relu_units=2),
                )
            )
    finally:
        numba.set_num_threads(before)
    for (loss1, grads1), (loss2, grads2) in zip(results[0], results[1], strict=True):
        np.testing.assert_array_equal(loss1, loss2)
        for name in grads1:
            np.testing.assert_array_equal(grads1[name], grads2[name])
