"""Tests of the QR / Benettin method: dsrbench.metrics.lyapunov (learned maps) and
dsrbench.integration.lyapunov (the true systems). The long runs of Lorenz and Roessler
(10^5 to 10^6 QR steps) are in e2e/test_lyapunov_e2e.py."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from scipy.special import lambertw

from dsrbench.integration.lyapunov import (
    delay_lyapunov,
    flow_lyapunov,
    system_max_lyapunov,
)
from dsrbench.integration.rhs import DELAY_SIGNATURE, ODE_SIGNATURE
from dsrbench.metrics.lyapunov import lyapunov_qr


def _linear(a: np.ndarray):
    return (lambda x: a @ x), (lambda x: a)


def test_renorm_every_and_dt() -> None:
    step, jac = _linear(np.array([[0.9, 0.4], [-0.1, 0.3]]))
    x0 = np.array([1.0, -1.0])
    lam = lyapunov_qr(step, jac, x0, 2000, n_exponents=2, transient=50)
    lam2 = lyapunov_qr(step, jac, x0, 2000, dt=0.5, n_exponents=2, transient=50, renorm_every=4)
    np.testing.assert_allclose(lam2, lam / 0.5, rtol=1e-9)


def test_linear_map_exact_to_1e6() -> None:
    a = np.diag([0.5, 0.2])
    step, jac = _linear(a)
    lam = lyapunov_qr(step, jac, np.array([1.0, 1.0]), 20_000, n_exponents=2, transient=200)
    np.testing.assert_allclose(lam, np.log([0.5, 0.2]), atol=1e-6)
    b = np.array([[0.6, 3.0], [0.0, 0.3]])  # non-normal
    step, jac = _linear(b)
    lam = lyapunov_qr(step, jac, np.array([1.0, 1.0]), 20_000, n_exponents=2, transient=200)
    np.testing.assert_allclose(lam, np.log([0.6, 0.3]), atol=1e-6)
    # rotation-scaled non-normal map: complex eigenvalues 0.7 e^{+-i pi/4} -> both log 0.7. The
    # finite-n error is bounded by log(cond(shear)) / n and vanishes when n is a multiple of the
    # rotation's period 8 (A^8 = 0.7^8 I), which makes the check exact.
    rot = np.array([[math.cos(math.pi / 4), -math.sin(math.pi / 4)], [math.sin(math.pi / 4), 0]])
    rot[1, 1] = math.cos(math.pi / 4)
    shear = np.array([[1.0, 2.0], [0.0, 1.0]])
    c = 0.7 * shear @ rot @ np.linalg.inv(shear)
    step, jac = _linear(c)
    lam = lyapunov_qr(step, jac, np.array([1.0, 1.0]), 2000, n_exponents=2, transient=16)
    np.testing.assert_allclose(lam, [math.log(0.7)] * 2, atol=1e-6)
    lam = lyapunov_qr(step, jac, np.array([1.0, 1.0]), 2003, n_exponents=2, transient=16)
    np.testing.assert_allclose(lam, [math.log(0.7)] * 2, atol=2e-3)  # bounded finite-n error


def test_henon_map() -> None:
    a, b = 1.4, 0.3

    def step(x: np.ndarray) -> np.ndarray:
        return np.array([1.0 - a * x[0] ** 2 + x[1], b * x[0]])

    def jac(x: np.ndarray) -> np.ndarray:
        return np.array([[-2.0 * a * x[0], 1.0], [b, 0.0]])

    lam = lyapunov_qr(step, jac, np.array([0.1, 0.1]), 10_000, n_exponents=2, transient=100)
    assert 0.40 < lam[0] < 0.44
    assert lam.sum() == pytest.approx(math.log(b), abs=1e-9)  # det J = -b
    # a Jacobian-vector product in place of the Jacobian gives the same exponents
    calls = []

    def jvp(x: np.ndarray, q: np.ndarray) -> np.ndarray:
        calls.append(1)
        return np.stack([-2.0 * a * x[0] * q[0] + q[1], b * q[0]])

    lam_jvp = lyapunov_qr(
        step, jac, np.array([0.1, 0.1]), 10_000, n_exponents=2, transient=100, jvp=jvp
    )
    np.testing.assert_allclose(lam_jvp, lam, rtol=1e-12)
    assert len(calls) == 10_100


def test_lyapunov_qr_validates() -> None:
    step, jac = _linear(np.eye(2))
    with pytest.raises(ValueError):
        lyapunov_qr(step, jac, np.zeros(2), 10, n_exponents=3)


_A = np.array([[-0.2, 1.0, 0.0], [0.0, -0.5, 0.0], [0.0, 0.3, -1.5]])


@numba.njit(ODE_SIGNATURE)
def _linear_rhs(t, y, out):  # noqa: ARG001
    for i in range(3):
        s = 0.0
        for j in range(3):
            s += _A[i, j] * y[j]
        out[i] = s


def test_flow_kernel_linear_ode() -> None:
    exps, half, _ = flow_lyapunov(
        _linear_rhs, np.zeros(3), 0.01, 200_000, n_vectors=3, transient=2000
    )
    np.testing.assert_allclose(exps, [-0.2, -0.5, -1.5], atol=2e-3)
    assert half.shape == (3,)


@numba.njit(DELAY_SIGNATURE)
def _linear_dde(x, xd, t):  # noqa: ARG001
    return -1.0 * x + 0.5 * xd


def test_delay_kernel_linear_dde() -> None:
    # x' = a x + b x(t - tau): the leading characteristic root a + W0(b tau e^{-a tau}) / tau
    a, b, tau = -1.0, 0.5, 1.0
    expected = a + lambertw(b * tau * math.exp(-a * tau)).real / tau
    lam, _, h, m = delay_lyapunov(_linear_dde, 0.0, tau, 0.05, 20_000, transient=200)
    assert m == 20 and h == pytest.approx(0.05)
    assert lam == pytest.approx(expected, abs=1e-6)


def test_lorenz_spectrum_sums_to_divergence() -> None:
    # Lorenz: sum of exponents = trace J = -(sigma + 1 + beta) = -13.667
    est = system_max_lyapunov("Lorenz", n_steps=300_000, transient=20_000, n_vectors=3)
    assert sum(est.exponents) == pytest.approx(-(10 + 1 + 8 / 3), rel=1e-3)
    assert est.exponents[1] == pytest.approx(0.0, abs=0.05)


def test_delay_system() -> None:
    est = system_max_lyapunov("MackeyGlass", n_steps=50_000, transient=5_000)
    assert math.isfinite(est.value)
    assert est.method == "qr-delay-method-of-steps"
    assert "method-of-steps" in est.note
