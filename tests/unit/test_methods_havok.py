"""HAVOK (Brunton et al. 2017) against known answers: linear systems, whose delay
coordinates evolve exactly linearly, and the Hankel layout by hand.

For x' = L x sampled every dt, every delay vector obeys h(t + dt) = (I_q kron Phi) h(t) with
Phi = expm(L dt) (scipy), so HAVOK's one-step map on v = S^-1 U^T h is exactly
S^-1 U^T (I kron Phi) U S when the rank r equals the state dimension: its first r - 1 rows are
[A_d | B_d], and closed by the fitted last row (``forcing: linear``) its eigenvalues are
exp(lambda_i dt) for the eigenvalues lambda_i of L, whatever basis the SVD picked.
The contract tests (tests/unit/test_methods_contract.py) cover fit, save/load, the seed and the
Jacobian on Lorenz-63.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import expm
from support.method_data import as_dataset

from dsrbench.methods import HyperparameterError
from dsrbench.methods.havok import HAVOK, delay_vectors

#: a damped rotation and a decaying mode: eigenvalues -0.1 +- 2i, -0.3
GENERATOR = np.array([[-0.1, 2.0, 0.0], [-2.0, -0.1, 0.5], [0.0, 0.0, -0.3]])


def linear_trajectories(dt: float, n: int, x0s: list[list[float]]) -> np.ndarray:
    """Exact samples ``(len(x0s), n, 3)`` of x' = GENERATOR x (scipy's expm)."""
    phi = expm(GENERATOR * dt)
    out = np.empty((len(x0s), n, 3))
    for i, x0 in enumerate(x0s):
        x = np.asarray(x0, dtype=float)
        for k in range(n):
            out[i, k] = x
            x = phi @ x
    return out


@pytest.fixture(scope="module")
def linear_data() -> tuple[np.ndarray, float]:
    dt = 0.05
    return linear_trajectories(dt, 400, [[1.0, 0.0, 2.0], [0.0, -1.5, 1.0]]), dt


def test_delay_vectors_stack_the_taps_newest_first() -> None:
    x = np.arange(2 * 7 * 2, dtype=float).reshape(2, 7, 2)
    h = delay_vectors(x, delays=3, stride=2)  # taps t, t - 2, t - 4: t = 4, 5, 6
    assert h.shape == (2, 3, 6)
    np.testing.assert_array_equal(h[1, 0], np.concatenate([x[1, 4], x[1, 2], x[1, 0]]))
    np.testing.assert_array_equal(h[0, 2], np.concatenate([x[0, 6], x[0, 4], x[0, 2]]))


def test_a_linear_system_is_recovered_exactly(linear_data) -> None:
    x, dt = linear_data
    model = HAVOK(delays=4, rank=3, forcing="linear").fit(as_dataset(x, dt))
    # the one-step map on v, from the true propagator and the model's own SVD basis
    big_phi = np.kron(np.eye(4), expm(GENERATOR * dt))
    u, s = model.modes_, model.singular_values_
    exact = (u.T @ big_phi @ u * s) / s[:, None]
    np.testing.assert_allclose(model.dynamics_, exact[:2], atol=1e-9)  # [A_d | B_d]
    np.testing.assert_allclose(model.forcing_row_, exact[2], atol=1e-9)
    want = np.sort_complex(np.exp(np.linalg.eigvals(GENERATOR) * dt))
    got = np.sort_complex(np.linalg.eigvals(model.step_matrix_))
    np.testing.assert_allclose(got, want, atol=1e-9)
    # closed loop, its forecasts are the exact continuation of an unseen initial condition
    test = linear_trajectories(dt, 60, [[-0.5, 0.7, -1.2]])[0]
    pred = model.forecast(test[None, :10], 50)[0]
    np.testing.assert_allclose(pred, test[10:], atol=1e-9)


def test_the_paper_regression_finds_the_continuous_generator(linear_data) -> None:
    """``regression: derivative`` (fourth-order differences, as the paper): [A | B] is the
    first r - 1 rows of S^-1 U^T (I kron L) U S, up to the differencing error O(dt^4)."""
    x, dt = linear_data
    model = HAVOK(delays=4, rank=3, regression="derivative", forcing="linear")
    model.fit(as_dataset(x, dt))
    u, s = model.modes_, model.singular_values_
    generator = (u.T @ np.kron(np.eye(4), GENERATOR) @ u * s) / s[:, None]
    np.testing.assert_allclose(model.dynamics_, generator[:2], atol=1e-5)
    want = np.sort_complex(np.linalg.eigvals(GENERATOR))
    got = np.sort_complex(np.log(np.linalg.eigvals(model.step_matrix_)) / dt)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_the_forcing_rules_set_the_last_row_of_the_map(linear_data) -> None:
    x, dt = linear_data
    data = as_dataset(x, dt)
    zero, hold = (HAVOK(delays=4, rank=3, forcing=f).fit(data) for f in ("zero", "hold"))
    np.testing.assert_array_equal(zero.step_matrix_[:2], hold.step_matrix_[:2])
    np.testing.assert_array_equal(zero.step_matrix_[2], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(hold.step_matrix_[2], [0.0, 0.0, 1.0])
    # with the forcing held, v_r stays at its value at the end of the context
    ctx = x[:1, -10:]
    v0 = hold.initial_state(ctx)
    v = v0
    for _ in range(5):
        v = hold.step(v)
    assert v[0, 2] == v0[0, 2]


def test_the_unit_of_time_does_not_change_the_model(linear_data) -> None:
    """Counting time in steps (dt = 1) or in the system's time gives the same forecasts."""
    x, dt = linear_data
    for regression in ("discrete", "derivative"):
        real = HAVOK(delays=4, rank=3, regression=regression).fit(as_dataset(x, dt))
        steps = HAVOK(delays=4, rank=3, regression=regression).fit(as_dataset(x, 1.0))
        np.testing.assert_allclose(
            steps.forecast(x[:, -20:], 30), real.forecast(x[:, -20:], 30), rtol=1e-9, atol=1e-12
        )


def test_the_fit_is_deterministic_and_needs_no_seed(linear_data) -> None:
    x, dt = linear_data
    data = as_dataset(x + 0.01 * np.sin(np.arange(x.shape[1]))[None, :, None], dt)
    a = HAVOK(delays=10, rank=5).fit(data, seed=0)
    b = HAVOK(delays=10, rank=5).fit(data, seed=1)
    for name in HAVOK.fitted_arrays:
        np.testing.assert_array_equal(getattr(a, name + "_"), getattr(b, name + "_"))


def test_bad_input_gets_a_clear_error(linear_data) -> None:
    x, dt = linear_data
    data = as_dataset(x[:, :50], dt)
    with pytest.raises(ValueError, match=r"50 points are too short for delays=60 with stride=1"):
        HAVOK(delays=60).fit(data)
    with pytest.raises(HyperparameterError, match=r"rank 20 exceeds .*\(4 delays x 3 coordinates"):
        HAVOK(delays=4, rank=20).fit(data)
    with pytest.raises(HyperparameterError, match=r"forcing must be one of zero, hold, linear"):
        HAVOK(forcing="ar").fit(data)
    with pytest.raises(HyperparameterError, match=r"regression must be one of"):
        HAVOK(regression="sparse").fit(data)
    model = HAVOK(delays=10, stride=2, rank=3).fit(data)
    with pytest.raises(ValueError, match=r"contexts of at least 19 points .* got 12"):
        model.forecast(x[:1, :12], 5)
    # a linear system of dimension 3 has a Hankel matrix of rank 3
    with pytest.raises(ValueError, match=r"rank below 4"):
        HAVOK(delays=4, rank=4).fit(as_dataset(x, dt))
