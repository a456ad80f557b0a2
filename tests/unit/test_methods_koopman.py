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
    model.mean_, model.std_, model.dt_ = np.zeros(3), np.ones(3), np.asarray(0.4)
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
