"""The reference-evaluation variants on forecast windows (dsrbench.metrics.forecast_windows),
against closed forms and direct computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from dsrbench.metrics.attractor import correlation_dimension, state_space_divergence
from dsrbench.metrics.forecast_windows import WindowScores, summarise_windows, window_scores


def _windows(b: int = 3, h: int = 120, d: int = 3, seed: int = 0) -> np.ndarray:
    """Smooth quasi-periodic windows with a dimension-2 torus-like cloud."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 12, h)
    out = []
    for _ in range(b):
        ph = rng.uniform(0, 2 * np.pi, 2)
        a = np.sin(t + ph[0])
        c = np.sin(math.sqrt(2) * t + ph[1])
        out.append(np.stack([a, c, a * c + 2][:d], axis=1) + 3)
    return np.stack(out)


def test_identical_forecasts_score_zero_and_last_the_whole_window() -> None:
    y = _windows()
    s = window_scores(
        y, y.copy(), steps_per_lyapunov_time=30, mean=y.mean((0, 1)), std=y.std((0, 1))
    )
    assert np.allclose(s.d_stsp, 0.0)
    assert np.allclose(s.vpt, y.shape[1] / 30)  # never invalid: capped at the window
    assert np.allclose(s.smape[1.0], 0.0) and np.allclose(s.smape[4.0], 0.0)
    assert np.all(np.isnan(s.smape[10.0]))  # 300 steps > the 120-step window
    assert np.array_equal(s.dim_true, s.dim_pred)
    out = summarise_windows(s, filtered=True)
    assert out["d_frac"] == 0.0 and out["n"] == out["n_total"] == 3


def test_gmm_kl_of_two_point_clouds_is_the_gaussians_closed_form() -> None:
    # every true point at a, every predicted one at b: both mixtures are N(., I), and
    # KL(N(a, I) || N(b, I)) = |a - b|^2 / 2
    a, b = np.array([0.0, 0.0, 0.0]), np.array([1.2, -1.0, 0.9])
    yt = np.broadcast_to(a, (2, 50, 3)).copy()
    yp = np.broadcast_to(b, (2, 50, 3)).copy()
    s = window_scores(
        yt, yp, steps_per_lyapunov_time=10, mean=np.zeros(3), std=np.ones(3), n_samples=4000
    )
    exact = float(np.sum((a - b) ** 2) / 2)
    se = float(np.linalg.norm(a - b) / math.sqrt(4000))  # std of the log-ratio / sqrt(n)
    assert np.all(np.abs(s.d_stsp - exact) < 5 * se), (s.d_stsp, exact)


def test_gmm_kl_equals_a_direct_mixture_computation_on_the_same_draws() -> None:
    rng = np.random.default_rng(4)
    xt, xg = rng.normal(size=(40, 3)), rng.normal(0.5, 1.3, size=(40, 3))
    value = state_space_divergence(xt, xg, estimator="gmm", n_samples=300, seed=[7, 1]).value
    # the same draws: a component index, then a standard-normal vector
    g = np.random.default_rng([7, 1])
    idx = g.integers(0, 40, size=300)
    z = xt[idx] + g.standard_normal((300, 3))

    def log_mixture(points: np.ndarray) -> np.ndarray:
        comps = np.stack([multivariate_normal(c, np.eye(3)).logpdf(z) for c in points])
        return logsumexp(comps, axis=0) - math.log(len(points))

    assert value == pytest.approx(float(np.mean(log_mixture(xt) - log_mixture(xg))), rel=1e-9)
    # the histogram estimate is another number on the same data
    assert state_space_divergence(xt, xg, estimator="bins").value != pytest.approx(value)
    with pytest.raises(ValueError, match="estimator"):
        state_space_divergence(xt, xg, estimator="kde")


def test_window_dimensions_are_grassberger_procaccia_of_each_window() -> None:
    yt = _windows(b=2, h=300)
    yp = yt + np.random.default_rng(1).normal(0, 0.3, yt.shape)
    s = window_scores(yt, yp, steps_per_lyapunov_time=30, mean=np.zeros(3), std=np.ones(3))
    for k in range(2):
        assert s.dim_true[k] == correlation_dimension(yt[k])
        assert s.dim_pred[k] == correlation_dimension(yp[k])
    # the noise fills space: the forecasts' dimension is above the smooth truth's
    assert np.all(s.dim_pred > s.dim_true)


def test_the_filter_drops_forecasts_with_d_stsp_of_40_or_more_or_nan() -> None:
    s = WindowScores(
        vpt=np.array([1.0, 2.0, 3.0, 4.0]),
        smape={1.0: np.array([10.0, 20.0, 30.0, 40.0])},
        d_stsp=np.array([0.5, 39.9, 40.0, np.nan]),
        dim_true=np.array([2.0, 2.0, 2.0, 2.0]),
        dim_pred=np.array([2.1, 1.7, 0.0, np.nan]),
    )
    kept = summarise_windows(s, filtered=True)
    assert (kept["n"], kept["n_total"]) == (2, 4)
    assert kept["vpt"] == pytest.approx(1.5) and kept["smape@1"] == pytest.approx(15.0)
    assert kept["d_stsp"] == pytest.approx((0.5 + 39.9) / 2)
    assert kept["d_frac"] == pytest.approx(math.sqrt((0.1**2 + 0.3**2) / 2))
    everything = summarise_windows([s, s], filtered=False)  # pooled: the same means
    assert (everything["n"], everything["n_total"]) == (8, 8)
    assert everything["vpt"] == pytest.approx(2.5)
    assert everything["d_frac"] == pytest.approx(math.sqrt((0.01 + 0.09 + 4.0) / 3))


def test_mismatched_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="one shape"):
        window_scores(
            np.zeros((2, 10, 3)),
            np.zeros((2, 9, 3)),
            steps_per_lyapunov_time=5,
            mean=np.zeros(3),
            std=np.ones(3),
        )
