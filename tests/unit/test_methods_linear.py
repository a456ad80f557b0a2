"""VAR, NG-RC (the Gauthier et al. 2021 data finding), EDMD and SINDy against closed forms and
independent references; the NG-RC and ESN internals are tested in test_methods_reservoir.py."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from support.method_data import as_dataset

from dsrbench import methods
from dsrbench.methods import _polynomial as poly
from dsrbench.methods.var import lagged_design


def linear_data(m: np.ndarray, n: int, t: int, noise: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = np.empty((n, t, m.shape[0]))
    x[:, 0] = rng.normal(size=(n, m.shape[0]))
    for k in range(1, t):
        x[:, k] = x[:, k - 1] @ m.T
    return x + noise * rng.normal(size=x.shape)


# -- VAR -----------------------------------------------------------------------------------
def test_var_coefficients_equal_sklearn_ridge(lorenz_splits) -> None:
    model = methods.get("var")(lags=3, ridge=0.5, increments=False).fit(lorenz_splits["train"])
    x = (lorenz_splits["train"]["x"].values - model.mean_) / model.std_
    feats, targets = lagged_design(x, 3)
    ref = Ridge(alpha=0.5, fit_intercept=True).fit(feats[:, 1:], targets)
    np.testing.assert_allclose(model.coef_[1:], ref.coef_.T, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(model.coef_[0], ref.intercept_, rtol=1e-6, atol=1e-9)


def test_var_recovers_a_known_var2_process() -> None:
    a1 = np.array([[0.5, 0.1], [-0.2, 0.4]])
    a2 = np.array([[0.2, 0.0], [0.1, -0.3]])
    rng = np.random.default_rng(1)
    x = np.zeros((1, 20000, 2))
    for t in range(2, x.shape[1]):
        x[0, t] = a1 @ x[0, t - 1] + a2 @ x[0, t - 2] + 0.1 * rng.normal(size=2)
    model = methods.get("var")(lags=2, ridge=0.0, increments=False).fit(as_dataset(x))
    np.testing.assert_allclose(model.coef_[1:3].T, a1, atol=0.02)
    np.testing.assert_allclose(model.coef_[3:5].T, a2, atol=0.02)


# -- NVAR ----------------------------------------------------------------------------------
def _gauthier_lorenz(method: str, **tolerances: float) -> np.ndarray:
    """The data of Gauthier et al. 2021: Lorenz-63 from their initial condition, dt = 0.025,
    integrated with scipy's ``method`` (the paper used RK23 at its default tolerance)."""
    from scipy.integrate import solve_ivp

    def lorenz(_t, y):
        return [10 * (y[1] - y[0]), y[0] * (28 - y[2]) - y[1], y[0] * y[1] - 8 / 3 * y[2]]

    t = np.linspace(0, 40, 1601)
    y0 = [17.67715816276679, 12.931379185960404, 43.91404334248268]
    return solve_ivp(lorenz, (0, 40), y0, t_eval=t, method=method, **tolerances).y.T


def _ngrc_vpt(x: np.ndarray) -> float:
    """NG-RC as in the paper (k = 2, ridge 2.5e-6, raw coordinates, 5 time units of warm-up,
    400 training points): valid prediction time (NRMSE rule) of the forecast that follows."""
    from dsrbench.metrics import valid_prediction_time

    dt, warm, n = 0.025, 200, 400
    model = methods.get("nvar")(standardize=False).fit(
        as_dataset(x[None, warm - 1 : warm + n + 1], dt=dt)
    )
    pred = model.forecast(x[None, warm + n - 2 : warm + n], 800)
    truth = x[None, warm + n : warm + n + 800]
    return float(
        valid_prediction_time(truth, pred, steps_per_lyapunov_time=1 / (0.9056 * dt), rule="nrmse")[
            0
        ]
    )


def test_nvar_reproduces_gauthier_2021_on_its_rk23_data_only() -> None:
    """On the paper's RK23 data the forecast stays valid for several Lyapunov times (the
    paper shows about 5 to 8); on the same trajectory integrated accurately (DOP853, 1e-10)
    the same NG-RC fails almost at once: the method learns the RK23 map, not the flow."""
    vpt_rk23 = _ngrc_vpt(_gauthier_lorenz("RK23"))
    vpt_exact = _ngrc_vpt(_gauthier_lorenz("DOP853", rtol=1e-10, atol=1e-10))
    print(f"NG-RC Lorenz VPT: RK23 data {vpt_rk23:.2f}, accurate data {vpt_exact:.2f}")
    assert vpt_rk23 > 4.0
    assert vpt_exact < 1.0


# -- EDMD ----------------------------------------------------------------------------------
M_LIN = np.array([[0.9, 0.2], [-0.1, 0.7]])


def test_edmd_recovers_the_eigenvalues_of_a_linear_system() -> None:
    eig = np.sort_complex(np.linalg.eigvals(M_LIN))
    data = as_dataset(linear_data(M_LIN, 20, 30))
    model = methods.get("edmd")(degree=1, residual_tol=None, ridge=0.0).fit(data)
    np.testing.assert_allclose(
        np.sort_complex(model.eigenvalues_), np.sort_complex(np.r_[1.0, eig]), atol=1e-8
    )
    # degree 2: the products of pairs appear (Koopman eigenvalues form a semigroup)
    model2 = methods.get("edmd")(degree=2, residual_tol=None, ridge=0.0).fit(data)
    expected = np.r_[1.0, eig, eig[0] ** 2, eig[0] * eig[1], eig[1] ** 2]
    np.testing.assert_allclose(
        np.sort_complex(model2.eigenvalues_), np.sort_complex(expected), atol=1e-6
    )
    assert np.all(model2.residuals_ < 1e-6)  # exact eigenpairs on noiseless data


def test_resdmd_residuals_rank_eigenpairs_by_accuracy() -> None:
    """The map x -> 0.9 x - 0.1 x^3 has Koopman eigenvalues 0.9^n near its fixed point; a
    degree-6 dictionary captures the first ones well and the later ones poorly. The ResDMD
    residual equals ||Psi_Y g - lambda Psi_X g|| / ||Psi_X g|| computed from the data, is
    smallest for the accurate eigenpairs, and the filter keeps exactly those below tol."""
    from dsrbench.methods._polynomial import evaluate, monomials

    rng = np.random.default_rng(0)
    x0 = rng.uniform(-1, 1, (400, 1))
    data = as_dataset(np.stack([x0, 0.9 * x0 - 0.1 * x0**3], axis=1))
    model = methods.get("edmd")(degree=6, residual_tol=None, ridge=0.0).fit(data)
    lam, res = model.eigenvalues_, model.residuals_
    terms = monomials(1, 6)
    psi_x, psi_y = evaluate(x0, terms), evaluate(0.9 * x0 - 0.1 * x0**3, terms)
    g_mat = psi_x.T @ psi_x / 400
    koopman = np.linalg.pinv(g_mat) @ (psi_x.T @ psi_y / 400)
    w, v = np.linalg.eig(koopman)
    for lj, g in zip(w, v.T, strict=True):
        j = int(np.argmin(np.abs(lam - lj)))
        direct = np.linalg.norm(psi_y @ g - lj * psi_x @ g) / np.linalg.norm(psi_x @ g)
        assert res[j] == pytest.approx(direct, rel=1e-6, abs=1e-10)
    i09, i081 = (int(np.argmin(np.abs(lam - v))) for v in (0.9, 0.81))
    assert abs(lam[i09] - 0.9) < 0.01 and abs(lam[i081] - 0.81) < 0.03
    nontrivial = np.argsort(res)[1:]  # drop the constant (residual 0)
    assert set(nontrivial[:2]) == {i09, i081}
    tol = float(np.sort(res)[2]) * 1.01
    filtered = methods.get("edmd")(
        degree=6, residual_tol=tol, ridge=0.0, reconstruction_tol=1.0
    ).fit(data)
    assert filtered.kept_.sum() == 3 and not filtered.filter_fallback_


# -- SINDy ---------------------------------------------------------------------------------
def test_sindy_rhs_equals_pysindy_predict(lorenz_splits) -> None:
    model = methods.get("sindy")().fit(lorenz_splits["train"])
    states = np.random.default_rng(0).normal(size=(50, 3))
    np.testing.assert_allclose(
        model.rhs(states), model.pysindy_model_.predict(states), rtol=1e-10, atol=1e-12
    )
    assert model.feature_names_[:4] == ["1", "x0", "x1", "x2"]
    assert poly.names(model._terms())[4:7] == ["x0^2", "x0 x1", "x0 x2"]


def test_sindy_identifies_the_lorenz_vector_field(lorenz_splits) -> None:
    """Undoing the standardisation, the identified field matches Lorenz-63 (sigma 10,
    rho 28, beta 8/3) on the attractor to within 5 % of its typical size (finite-difference
    derivatives at dt = 0.03 limit it)."""
    model = methods.get("sindy")(threshold=0.05).fit(lorenz_splits["train"])
    x = lorenz_splits["test"]["x"].values[0, ::10]
    sigma, rho, beta = 10.0, 28.0, 8.0 / 3.0
    true = np.stack(
        [
            sigma * (x[:, 1] - x[:, 0]),
            x[:, 0] * (rho - x[:, 2]) - x[:, 1],
            x[:, 0] * x[:, 1] - beta * x[:, 2],
        ],
        axis=1,
    )
    learned = model.rhs((x - model.mean_) / model.std_) * model.std_
    err = np.linalg.norm(learned - true, axis=1).mean() / np.linalg.norm(true, axis=1).mean()
    print(f"SINDy Lorenz relative field error {err:.4f}")
    assert err < 0.05
    n_terms = np.count_nonzero(model.coef_)
    assert n_terms <= 20  # sparse: the true field has 7 terms (more after standardising)


def test_sindy_blow_up_gives_nan_not_an_exception(lorenz_splits) -> None:
    model = methods.get("sindy")().fit(lorenz_splits["train"])
    model.coef_ = np.zeros_like(model.coef_)
    model.coef_[0, 0] = 1.0
    model.coef_[4, 0] = 5.0  # dx0/dt = 1 + 5 x0^2 blows up in finite time
    ctx = lorenz_splits["test"]["x"].values[:, :10]
    out = model.forecast(ctx, 500)
    assert out.shape == (1, 500, 3) and np.isnan(out[0, -1]).all()
    # a diverging context neither stops nor poisons the others in the same batch
    fitted = methods.get("sindy")().fit(lorenz_splits["train"])
    both = np.concatenate([ctx, ctx * 1e7], axis=0)  # the second one starts beyond the box
    out2 = fitted.forecast(both, 200)
    assert np.isnan(out2[1]).all()
    np.testing.assert_allclose(out2[0], fitted.forecast(ctx, 200)[0], rtol=0, atol=1e-3)
