"""Long-term attractor metrics (dsrbench.metrics.attractor) on real dysts trajectories.

Lorenz-63 at dt = 0.01 (dysts' period / 150), 100 000 points per trajectory, from
dsrbench.simulate (about 0.3 s for the pair); LorenzCoupled (6-D) for the mixture form.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import logsumexp

from dsrbench.integration import simulate, time_grid
from dsrbench.metrics import attractor as A
from dsrbench.systems import get_system_info

T_LONG = 100_000
LORENZ_PTS = 150  # dysts' Lorenz period 1.5008 / 150 = dt 0.0100


@pytest.fixture(scope="module")
def lorenz() -> np.ndarray:
    """(2, 100 000, 3): two Lorenz-63 trajectories from different initial conditions."""
    ics = [[-9.79, -15.04, 20.53], [1.0, 2.0, 20.0]]
    return simulate(
        "Lorenz", T_LONG, pts_per_period=LORENZ_PTS, transient=2000, initial_conditions=ics
    )


@pytest.fixture(scope="module")
def lorenz_dt() -> float:
    """Spacing of the fixture's grid: dysts' linspace(0, P n / pts, n) with n = transient + T."""
    t = time_grid(get_system_info("Lorenz"), T_LONG + 2000, LORENZ_PTS, "fourier")
    return float(t[1] - t[0])


@pytest.fixture(scope="module")
def coupled() -> np.ndarray:
    """(2, 10 000, 6): two LorenzCoupled trajectories from different initial conditions."""
    x0 = simulate("LorenzCoupled", 2, pts_per_period=100)[0, 0]
    ics = x0 + np.random.default_rng(1).standard_normal((2, 6))
    return simulate(
        "LorenzCoupled", 10_000, pts_per_period=100, transient=2000, initial_conditions=ics
    )


def _noise_like(x: np.ndarray, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return x.mean(axis=0) + x.std(axis=0) * rng.standard_normal(x.shape)


# ---------------------------------------------------------------------------- D_stsp bins


def _kl_histogramdd(x_true: np.ndarray, x_gen: np.ndarray, n_bins: int) -> float:
    edges = A.stsp_bin_edges(x_true, n_bins)
    hp, _ = np.histogramdd(x_true, bins=edges)
    hq, _ = np.histogramdd(x_gen, bins=edges)
    a = 1e-5
    p = (hp + a) / (hp.sum() + a * n_bins ** x_true.shape[1])
    q = (hq + a) / (hq.sum() + a * n_bins ** x_true.shape[1])
    return float(np.sum(p * np.log(p / q)))


def test_stsp_bins_equals_histogramdd(lorenz: np.ndarray) -> None:
    xt = lorenz[0, :20_000]
    xg = 1.15 * lorenz[1, :20_000]  # some points fall outside the truth's range
    edges = A.stsp_bin_edges(xt, 30)
    sd = xt.std(axis=0, ddof=1)
    np.testing.assert_allclose([e[0] for e in edges], xt.min(axis=0) - 0.1 * sd)
    np.testing.assert_allclose([e[-1] for e in edges], xt.max(axis=0) + 0.1 * sd)
    res = A.state_space_divergence(xt, xg)
    assert res.method == "bins" and res.n_bins == 30 and res.n_points == 20_000
    assert res.n_gen is not None and res.n_gen < 20_000  # out-of-range points dropped
    assert res.value == pytest.approx(_kl_histogramdd(xt, xg, 30), rel=1e-10)


def test_stsp_sparse_path_equals_dense(lorenz: np.ndarray, monkeypatch) -> None:
    xt, xg = lorenz[0, :20_000], lorenz[1, :20_000]
    dense = A.d_stsp(xt, xg)
    monkeypatch.setattr(A, "_DENSE_BINS", 0)
    assert A.d_stsp(xt, xg) == pytest.approx(dense, rel=1e-10)
    # 5-D, 10 bins: 10^5 cells on the sparse path against a dense histogramdd
    x5t = np.c_[xt, xt[:, :2] ** 2]
    x5g = np.c_[xg, xg[:, :2] ** 2]
    assert A.d_stsp(x5t, x5g, n_bins=10) == pytest.approx(_kl_histogramdd(x5t, x5g, 10), rel=1e-10)


def test_stsp_bins_reference_values(lorenz: np.ndarray) -> None:
    xt, xg = lorenz[0], lorenz[1]
    assert A.d_stsp(xt, xt) == 0.0
    tt = A.state_space_divergence(xt, xg)
    assert tt.n_points == T_LONG and float(tt) == tt.float() == tt.value
    # The reference range (docs/metrics.md) is 0.12 to 0.23 at T = 100 000; we measure 0.04 to
    # 0.07 at that T (0.09 to 0.26 at T = 30 000), so the bound is the range's upper end.
    assert 0.02 < tt.value < 0.23
    noise = A.d_stsp(xt, _noise_like(xt))
    assert noise > 1.0  # reference: about 3.5 (docs/metrics.md); we measure 3.46
    assert noise > 20 * tt.value


def test_stsp_no_generated_point_in_range(lorenz: np.ndarray) -> None:
    res = A.state_space_divergence(lorenz[0, :1000], lorenz[0, :1000] + 1e3)
    assert math.isnan(res.value) and res.reason


def test_stsp_batched(lorenz: np.ndarray) -> None:
    xt = lorenz[0, :5000]
    v = A.d_stsp(xt, np.stack([xt, lorenz[1, :5000]]))
    assert v.shape == (2,) and v[0] == 0.0 and v[1] > 0


# ---------------------------------------------------------------------------- D_stsp GMM


def test_gmm_logpdf_matches_logsumexp() -> None:
    rng = np.random.default_rng(0)
    c = 5 * rng.standard_normal((300, 6))
    s = 5 * rng.standard_normal((50, 6))
    ref = logsumexp(-0.5 * ((s[:, None] - c[None]) ** 2).sum(-1) / 2.0, axis=1)
    ref += -math.log(300) - 3 * math.log(2 * math.pi * 2.0)
    np.testing.assert_allclose(A._gmm_logpdf(s, c, 2.0), ref, rtol=0, atol=1e-10)


def test_stsp_gmm(coupled: np.ndarray) -> None:
    xt, xg = coupled[0], coupled[1]
    assert A.d_stsp(xt, xt) == 0.0
    tt = A.state_space_divergence(xt, xg)
    assert tt.method == "gmm" and tt.n_points == 10_000 and tt.n_samples == 1000
    assert tt.stderr is not None and 0 < tt.stderr < 0.1
    assert abs(tt.value) < 0.5  # measured 0.15 to 0.25
    noise = A.state_space_divergence(xt, _noise_like(xt))
    assert noise.value > 10 * max(tt.value, 0.1)  # measured 3.6
    # seeded: reproducible
    assert A.d_stsp(xt, xg, seed=3) == A.d_stsp(xt, xg, seed=3)


def test_stsp_gmm_shares_samples_with_dysts(coupled: np.ndarray) -> None:
    from dysts.metrics import estimate_kl_divergence

    xt, xg = coupled[0, :300], coupled[1, :300]
    np.random.seed(5)  # noqa: NPY002 (dysts draws from the global RandomState)
    ref = estimate_kl_divergence(xt, xg)
    ours = A.d_stsp(xt, xg, seed=np.random.RandomState(5))
    assert ours == pytest.approx(ref, rel=1e-9, abs=1e-12)


# ---------------------------------------------------------------------------- D_H


def test_power_spectrum_distance(lorenz: np.ndarray) -> None:
    xt, xg = lorenz[0], lorenz[1]
    assert A.power_spectrum_distance(xt, xt) == pytest.approx(0.0, abs=1e-7)
    scaled = xt * np.array([3.0, 0.5, 10.0]) + np.array([-4.0, 7.0, 100.0])
    assert A.power_spectrum_distance(xt, scaled) == pytest.approx(0.0, abs=1e-7)
    tt = A.power_spectrum_distance(xt, xg)
    assert 0.03 < tt < 0.09  # reference 0.05 to 0.07; measured 0.06 to 0.07 at T = 100 000
    noise = A.power_spectrum_distance(xt, _noise_like(xt))
    assert noise > 0.5 and noise > 5 * tt
    # different lengths: truncated to the shorter
    assert A.power_spectrum_distance(xt[:5000], xg[:7000]) == pytest.approx(
        A.power_spectrum_distance(xt[:5000], xg[:5000])
    )


def test_the_spectrum_figure_shows_what_d_h_compares(lorenz: np.ndarray, lorenz_dt) -> None:
    """D_H computed from the spectra of the report's figure equals power_spectrum_distance,
    also with a constant coordinate (which the figure drops from its mean curve)."""
    from dsrbench.reports.system import mean_spectrum, smoothed_spectrum

    xt, xg = lorenz[0][:20_000], lorenz[1][:20_000]
    flat = xg.copy()
    flat[:, 1] = 2.5  # a constant coordinate
    for gen in (xg, flat, _noise_like(xt)):
        f, p = smoothed_spectrum(xt, lorenz_dt)
        fg, q = smoothed_spectrum(gen, lorenz_dt)
        np.testing.assert_array_equal(f, fg)
        assert f.size == xt.shape[0] // 2 + 1 and p.shape == (f.size, 3)
        assert A.spectrum_hellinger_distance(p, q) == A.power_spectrum_distance(xt, gen)
    _, q = smoothed_spectrum(flat, lorenz_dt)
    assert np.isnan(q[:, 1]).all() and not np.isnan(q[:, [0, 2]]).any()
    np.testing.assert_allclose(mean_spectrum(q), q[:, [0, 2]].mean(axis=1))
    np.testing.assert_allclose(q[:, [0, 2]].sum(axis=0), 1.0)
    with pytest.raises(ValueError, match="constant"):
        mean_spectrum(smoothed_spectrum(np.ones((100, 3)), lorenz_dt)[1])


# ---------------------------------------------------------------------------- D2, lambda


def test_correlation_dimension(lorenz: np.ndarray) -> None:
    d2 = A.correlation_dimension(lorenz[0])
    assert 1.8 < d2 < 2.3
    t = np.arange(20_000) * 0.01
    assert A.correlation_dimension(np.c_[np.cos(t), np.sin(t)]) == pytest.approx(1.0, abs=0.1)
    assert A.correlation_dimension(np.c_[t, 2 * t, -t]) == pytest.approx(1.0, abs=0.1)
    assert A.correlation_dimension(np.ones((100, 3))) == 0.0
    assert A.correlation_dimension_error(lorenz[0], lorenz[1]) < 0.1


def test_rosenstein_lyapunov(lorenz: np.ndarray, lorenz_dt: float) -> None:
    lam = A.rosenstein_lyapunov(lorenz[0, :20_000], dt=lorenz_dt)
    assert 0.6 < lam < 1.3  # literature 0.906; measured 0.80 to 0.89
    t = np.arange(20_000) * 0.01
    circle = np.c_[np.cos(t), np.sin(t)]
    knot = np.c_[np.cos(t), np.sin(2 * t), 0.5 * np.cos(3 * t)]
    assert abs(A.rosenstein_lyapunov(circle, dt=0.01)) < 0.1
    assert abs(A.rosenstein_lyapunov(knot, dt=0.01)) < 0.1


# ---------------------------------------------------------------------------- protocol


def test_drop_transient() -> None:
    x = np.arange(1250 * 3, dtype=float).reshape(1250, 3)
    y = A.drop_transient(x)
    assert y.shape == (1000, 3) and y[0, 0] == x[250, 0]
    assert A.drop_transient(np.stack([x, x])).shape == (2, 1000, 3)


def test_check_divergence(lorenz: np.ndarray) -> None:
    xt = lorenz[0, :5000]
    assert not A.check_divergence(lorenz[1, :5000], xt).diverged
    nan = lorenz[1, :5000].copy()
    nan[1234, 1] = np.nan
    div = A.check_divergence(nan, xt)
    assert div.diverged and div.first_index == 1234 and "non-finite" in div.reason
    blow = lorenz[1, :5000].copy()
    blow[3000:] = 1e6
    div = A.check_divergence(blow, xt)
    assert div.diverged and div.first_index == 3000 and "box" in div.reason
    # 9 x the extent stays inside the 10 x box
    centre = 0.5 * (xt.min(0) + xt.max(0))
    assert not A.check_divergence(centre + 9 * (xt - centre), xt).diverged


def test_the_box_of_an_equilibrium_truth_is_not_degenerate() -> None:
    # a truth resting on a stable equilibrium (PanXuZhou from dysts' default initial
    # condition settles on x = y = -6.532, z = 16): its range is ~0 in every coordinate
    eq = np.array([-6.532, -6.532, 16.0])
    truth = np.tile(eq, (2000, 1)) + 1e-12 * np.arange(2000)[:, None]
    # another true run spiralling into the same equilibrium (decay 0.055, frequency 8.24)
    t = np.linspace(0, 40, 2000)
    spiral = eq + 0.2 * np.exp(-0.055 * t)[:, None] * np.stack(
        [np.cos(8.24 * t), np.sin(8.24 * t), 0.3 * np.cos(8.24 * t)], axis=1
    )
    assert not A.check_divergence(truth, truth).diverged  # the truth itself
    # 1 % of the magnitude floors the extent: 0.2 around -6.5 stays within 5 x 0.065
    assert not A.check_divergence(spiral, truth).diverged
    centre, half = A.box_half_width(truth)
    np.testing.assert_allclose(half, 5 * A.BOX_REL_FLOOR * np.abs(eq), rtol=1e-6)
    # the pool's range (a scale) floors it too: the symmetric equilibrium x = y = +6.532
    other = np.tile([6.532, 6.532, 16.0], (100, 1))
    assert A.check_divergence(other, truth).diverged
    pool = np.array([14.0, 14.0, 10.0])
    assert not A.check_divergence(other, truth, scale=pool).diverged
    assert A.box_half_width(truth, scale=pool)[1] == pytest.approx(5 * pool)
    # a true blow-up still leaves any of these boxes
    assert A.check_divergence(other * 1e3, truth, scale=pool).diverged
    # a truth constant at 0 gets the absolute floor
    zero = np.zeros((50, 2))
    assert np.all(A.box_half_width(zero)[1] == 5 * A.BOX_ABS_FLOOR)
    assert not A.check_divergence(zero, zero).diverged
    assert A.check_divergence(zero + 1e-3, zero).diverged
    # long_term_metrics passes the scale on: the equilibrium truth against itself is ok
    res = A.long_term_metrics(truth, spiral, dt=0.02, scale=pool)
    assert res["status"] == "ok"


@pytest.mark.parametrize("kind", ["nan", "inf", "blowup"])
def test_long_term_metrics_diverged(lorenz: np.ndarray, lorenz_dt: float, kind: str) -> None:
    xt = lorenz[0, :5000]
    xg = lorenz[1, :5000].copy()
    xg[4000:] = {"nan": np.nan, "inf": np.inf, "blowup": 1e6}[kind]
    out = A.long_term_metrics(xt, xg, dt=lorenz_dt)
    assert out["status"] == "diverged" and out["reason"] and out["first_index"] == 4000
    assert out["D_H"] == 1.0 and math.isnan(out["D_stsp"])


def test_long_term_metrics_invalid_and_ok(lorenz: np.ndarray, lorenz_dt: float) -> None:
    xt = lorenz[0, :10_000]
    bad = A.long_term_metrics(xt, np.zeros((100, 2)), dt=lorenz_dt)
    assert bad["status"] == "invalid" and bad["D_H"] == 1.0 and math.isnan(bad["D_stsp"])
    ok = A.long_term_metrics(xt, lorenz[1, :10_000], dt=lorenz_dt, lyapunov=True)
    assert ok["status"] == "ok" and ok["reason"] is None
    assert ok["n_points"] == 10_000 and ok["D_stsp_method"] == "bins"
    # D_stsp truth vs truth at T = 10 000 (not 100 000): measured 0.3 to 1.8
    assert 0 < ok["D_stsp"] < 2.5 and 0 < ok["D_H"] < 0.2 and ok["D_frac"] < 0.2
    assert 0.5 < ok["lambda_true"] < 1.3 and 0.5 < ok["lambda_gen"] < 1.3
    batch = A.long_term_metrics(
        xt, np.stack([lorenz[1, :10_000], np.full((10_000, 3), np.nan)]), dt=lorenz_dt
    )
    assert [b["status"] for b in batch] == ["ok", "diverged"]
