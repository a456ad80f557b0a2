"""The deep Koopman autoencoder (Lusch et al. 2018): the Koopman step against closed forms.

The contract (fit, save/load, seeds, Jacobian against finite differences, beating
persistence) is in tests/unit/test_methods_contract.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dsrbench.methods.koopman_ae import KoopmanNet, koopman_loss


@pytest.fixture
def net() -> KoopmanNet:
    torch.manual_seed(0)
    return KoopmanNet(3, 3, 2, [16], [8], dt=0.7).to(torch.float64)


def test_k_eigenvalues_are_the_closed_form_exponentials(net) -> None:
    """eig K(y) = exp((mu +- i omega) dt) per pair and exp(lambda dt) per real (paper Eq. 6)."""
    y = torch.randn(5, 8, dtype=torch.float64)
    k = net.koopman_matrix(y)
    with torch.no_grad():
        omega, mu, lam = net.eigen_parameters(y)
    assert omega.shape == mu.shape == (5, 3) and lam.shape == (5, 2)
    dt = net.dt
    for b in range(5):
        got = np.sort_complex(torch.linalg.eigvals(k[b]).detach().numpy())
        pair = np.exp((mu[b].numpy() + 1j * omega[b].numpy()) * dt)
        want = np.sort_complex(np.concatenate([pair, pair.conj(), np.exp(lam[b].numpy() * dt)]))
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        # the eigenvalues depend on the state through the auxiliary networks
    assert not torch.allclose(omega[0], omega[1])


def test_the_step_rotates_each_pair_by_omega_dt_and_scales_it_by_exp_mu_dt(net) -> None:
    """Pair j as a complex number z = y_2j + i y_2j+1: the step gives exp((mu + i omega) dt) z
    (counter-clockwise rotation), real unit k: exp(lambda dt) y_k; and K(y) y is the step."""
    y = torch.randn(4, 8, dtype=torch.float64)
    with torch.no_grad():
        nxt = net.advance(y).numpy()
        omega, mu, lam = (t.numpy() for t in net.eigen_parameters(y))
        k = net.koopman_matrix(y).numpy()
    yn = y.numpy()
    z = yn[:, 0:6:2] + 1j * yn[:, 1:6:2]
    want = np.exp((mu + 1j * omega) * net.dt) * z
    np.testing.assert_allclose(nxt[:, 0:6:2] + 1j * nxt[:, 1:6:2], want, rtol=1e-12)
    np.testing.assert_allclose(nxt[:, 6:], np.exp(lam * net.dt) * yn[:, 6:], rtol=1e-12)
    np.testing.assert_allclose(np.einsum("bij,bj->bi", k, yn), nxt, rtol=1e-12, atol=1e-14)


def test_the_auxiliary_network_reads_the_pair_radius_only(net) -> None:
    """(omega, mu) of a pair depend on |y_j|^2 alone: rotating the pair keeps them."""
    y = torch.randn(3, 8, dtype=torch.float64)
    turned = y.clone()
    c, s = np.cos(0.9), np.sin(0.9)
    turned[:, 2], turned[:, 3] = c * y[:, 2] - s * y[:, 3], s * y[:, 2] + c * y[:, 3]
    with torch.no_grad():
        a, b = net.eigen_parameters(y), net.eigen_parameters(turned)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_allclose(u.numpy(), v.numpy(), rtol=1e-12, atol=1e-12)


def test_the_loss_parts_match_a_direct_computation(net) -> None:
    """Reconstruction, prediction over S_p shifts in x, linearity over S_l shifts in y, the
    L-infinity term and the weight penalty, each computed step by step."""
    torch.manual_seed(1)
    x = torch.randn(6, 5, 3, dtype=torch.float64)
    sp, sl = 4, 2
    total, parts = koopman_loss(
        net, x, num_shifts=sp, num_shifts_middle=sl, recon_weight=0.1, linf_weight=1e-3,
        l2_weight=1e-4,
    )  # fmt: skip
    with torch.no_grad():
        y = net.encoder(x[:, 0])
        recon = ((net.decoder(y) - x[:, 0]) ** 2).mean()
        pred, lin, first = 0.0, 0.0, None
        for m in range(1, sp + 1):
            y = net.advance(y)
            err = net.decoder(y) - x[:, m]
            first = err if m == 1 else first
            pred += (err**2).mean() / sp
            if m <= sl:
                lin += ((y - net.encoder(x[:, m])) ** 2).mean() / sl
        linf = (net.decoder(net.encoder(x[:, 0])) - x[:, 0]).abs().max() + first.abs().max()
        l2 = sum((p**2).sum() for n, p in net.named_parameters() if "bias" not in n)
        want = 0.1 * (recon + pred) + lin + 1e-3 * linf + 1e-4 * l2
    assert parts["recon"] == pytest.approx(float(recon), rel=1e-12)
    assert parts["pred"] == pytest.approx(float(pred), rel=1e-12)
    assert parts["lin"] == pytest.approx(float(lin), rel=1e-12)
    assert float(total.detach()) == pytest.approx(float(want), rel=1e-12)


def test_the_method_reports_the_eigenvalues_of_its_koopman_matrix() -> None:
    """KoopmanAutoencoder.eigenvalues (closed form, numpy) are those of koopman_matrix, and
    step is K(y) y, on the float64 inference copy of the network."""
    from dsrbench.methods.koopman_ae import KoopmanAutoencoder

    model = KoopmanAutoencoder(num_complex_pairs=2, num_real=1, hidden=[8], aux_hidden=[8])
    model.mean_, model.std_ = np.zeros(3), np.ones(3)
    model.dt_ = model.step_ = np.asarray(0.4)
    torch.manual_seed(2)
    model._set_net(model._net(3, 0.4).state_dict())
    y = np.random.default_rng(3).normal(size=(4, 5))
    k = model.koopman_matrix(y)
    for b in range(4):
        np.testing.assert_allclose(
            np.sort_complex(np.linalg.eigvals(k[b])),
            np.sort_complex(model.eigenvalues(y[b : b + 1])[0]),
            rtol=1e-12,
            atol=1e-12,
        )
    np.testing.assert_allclose(model.step(y), np.einsum("bij,bj->bi", k, y), rtol=1e-12)


def test_the_closed_form_jacobian_equals_autograd(net) -> None:
    """KoopmanNet.step_jacobian against reverse-mode autograd of the step (ReLUs on both
    sides of their kinks across the batch; the samples are independent, so the Jacobian
    of the batch sum holds each sample's)."""
    y = 2 * torch.randn(16, 8, dtype=torch.float64)
    want = torch.autograd.functional.jacobian(lambda v: net.advance(v).sum(0), y)
    want = want.permute(1, 0, 2)  # (M, B, M) -> (B, M, M)
    with torch.no_grad():
        got = net.step_jacobian(y)
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-12, atol=1e-13)


# -- the information regulariser (Cheng et al. 2025) --------------------------------------
def _encoded_windows(model, train, length: int = 11) -> torch.Tensor:
    """phi(x) of consecutive non-overlapping windows of the standardised training data."""
    x = model.to_model(np.asarray(train["x"].values))
    n = x.shape[1] // length
    w = x[:, : n * length].reshape(x.shape[0] * n, length, x.shape[2])
    with torch.no_grad():
        return model.net_.encoder(torch.as_tensor(w))


def test_info_nce_is_low_for_a_smooth_path_and_the_entropy_spans_zero_to_log_m() -> None:
    """InfoNCE: neighbours alike (a slow rotation) score far lower than shuffled times; S:
    log M for an isotropic latent, about 0 for one on a line."""
    from dsrbench.methods.koopman_ae import info_nce, von_neumann_entropy

    t = torch.linspace(0, 2 * np.pi, 16, dtype=torch.float64)
    smooth = torch.stack([torch.cos(t), torch.sin(t), 0.1 * t], -1)[None]
    shuffled = smooth[:, torch.randperm(16, generator=torch.Generator().manual_seed(0))]
    assert float(info_nce(smooth, 3, 0.1)) < float(info_nce(shuffled, 3, 0.1)) - 1
    z = torch.randn(4000, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert float(von_neumann_entropy(z)) == pytest.approx(np.log(5), abs=0.01)
    line = z[:, :1] * torch.tensor([[1.0, 2.0, -1.0, 0.5, 3.0]], dtype=torch.float64)
    assert float(von_neumann_entropy(line)) < 1e-5
    with pytest.raises(ValueError, match="need >= 8"):
        info_nce(smooth[:, :7], 3, 0.1)


def test_the_regulariser_moves_each_quantity_in_its_stated_direction(lorenz_splits) -> None:
    """The same optimisation steps (paired seed) with the regulariser at the reference
    code's weights (info_weight 2, entropy_weight 0.1) end with a lower InfoNCE loss (a
    higher bound on the MI of neighbouring latents) and, with entropy_sign = -1 (the
    abstract's direction), a higher von Neumann entropy of the latent covariance than
    without; entropy_sign = +1 (the sign of the code's loss) ends with a lower one."""
    from dsrbench.methods.koopman_ae import KoopmanAutoencoder, info_nce, von_neumann_entropy

    settings = {
        **KoopmanAutoencoder.quick_hyperparameters,
        "epochs": 3,
        "batches_per_epoch": 4,
        "batch_size": 64,
        "validate_every": 1000,
    }
    train = lorenz_splits["train"]

    def fit(**extra) -> tuple[float, float]:
        model = KoopmanAutoencoder(**settings, **extra).fit(train, device="cpu", seed=0)
        z = _encoded_windows(model, train)
        return float(info_nce(z, 3, 0.1)), float(von_neumann_entropy(z))

    info0, s0 = fit()
    info1, s1 = fit(info_weight=2.0, entropy_weight=0.1)
    assert info1 < info0 and s1 > s0
    assert fit(entropy_weight=0.1, entropy_sign=1)[1] < s0


def test_with_time_unit_auto_the_model_does_not_depend_on_the_unit_of_time(lorenz_splits) -> None:
    """time_unit="auto": the same samples with their time in system units and in step
    counts (dt = 1) train the same model (same seed): equal forecasts, and eigenvalues of
    the latent step; the rates are per characteristic period, the same in both."""
    from dsrbench.methods.koopman_ae import KoopmanAutoencoder, characteristic_step

    def in_steps(ds):
        return ds.assign_coords(time=np.arange(ds.sizes["time"], dtype=float))

    settings = {
        **KoopmanAutoencoder.quick_hyperparameters,
        "epochs": 2,
        "batches_per_epoch": 2,
        "batch_size": 32,
        "validate_every": 2,  # one validation: the kept weights are chosen by it
        "time_unit": "auto",
    }
    train, val = lorenz_splits["train"], lorenz_splits["val"]
    a = KoopmanAutoencoder(**settings).fit(train, val, device="cpu", seed=1)
    b = KoopmanAutoencoder(**settings).fit(in_steps(train), in_steps(val), device="cpu", seed=1)
    assert float(a.dt_) != pytest.approx(1.0) and float(b.dt_) == 1.0
    x = a.to_model(np.asarray(train["x"].values))
    assert float(a.step_) == float(b.step_) == characteristic_step(x)
    ctx = np.asarray(lorenz_splits["test"]["x"].values[0, :300]).reshape(5, 60, 3)
    np.testing.assert_allclose(a.forecast(ctx, 30), b.forecast(ctx, 30), rtol=1e-12, atol=1e-12)
    y = a.initial_state(ctx)
    np.testing.assert_allclose(a.eigenvalues(y), b.eigenvalues(y), rtol=1e-12)
    # "data" steps by the data's dt: the rates are per unit of that time
    c = KoopmanAutoencoder(**{**settings, "time_unit": "data", "epochs": 1, "batches_per_epoch": 1})
    assert float(c.fit(in_steps(train), device="cpu", seed=1).step_) == 1.0
    # "auto" is the default: a model built without the option does not depend on the unit
    assert KoopmanAutoencoder().params["time_unit"] == "auto"
    plain = {k: v for k, v in settings.items() if k != "time_unit"}
    d = KoopmanAutoencoder(**plain).fit(in_steps(train), in_steps(val), device="cpu", seed=1)
    np.testing.assert_allclose(d.forecast(ctx, 30), a.forecast(ctx, 30), rtol=1e-12, atol=1e-12)
