"""Tests for dsrbench.metrics.forecast against dysts 0.96, scipy, scikit-learn and closed forms."""

from __future__ import annotations

import warnings

import dysts.metrics as dm
import numpy as np
import pytest
from scipy import stats
from sklearn.feature_selection import mutual_info_regression

from dsrbench.metrics import forecast as F

RTOL = 1e-10
# metrics dysts 0.96 computes correctly on (T, D) input; mutual_information raises there
DYSTS_OK = [m for m in F.METRIC_NAMES if m != "mutual_information"]
# ... and on (T,) input (pearson returns Spearman's rho; mutual_information and
# hellinger_distance raise)
DYSTS_OK_1D = [m for m in DYSTS_OK if m not in ("pearson", "hellinger_distance")]


def _dysts(name: str, y_true: np.ndarray, y_pred: np.ndarray, seed: int = 0) -> float:
    np.random.seed(seed)  # noqa: NPY002  dysts' kl_divergence draws from the global state
    return float(dm.compute_metrics(y_true, y_pred, include=[name])[name])


def _ours(name: str, y_true, y_pred, seed: int = 0):
    if name == "kl_divergence":
        return F.kl_divergence(y_true, y_pred, seed=seed)
    return getattr(F, name)(y_true, y_pred)


def _sklearn_mi(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    yt, yp = y_true.reshape(len(y_true), -1), y_pred.reshape(len(y_pred), -1)
    return float(
        np.mean(
            [
                mutual_info_regression(yt[:, [i]], yp[:, i], random_state=0)[0]
                for i in range(yt.shape[1])
            ]
        )
    )


@pytest.fixture(scope="module")
def random_pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.normal(size=(150, 3)) + 1.5
    return y, y + 0.3 * rng.normal(size=y.shape)


@pytest.fixture(scope="module")
def lorenz_pair() -> tuple[np.ndarray, np.ndarray]:
    from dysts.flows import Lorenz

    y = np.asarray(Lorenz().make_trajectory(300), dtype=np.float64)
    rng = np.random.default_rng(1)
    return y, y + 0.05 * y.std(axis=0) * rng.normal(size=y.shape)


# ------------------------------------------------------------------------------------------
# agreement with dysts 0.96


@pytest.mark.parametrize("name", DYSTS_OK)
def test_matches_dysts_random(name, random_pair):
    yt, yp = random_pair
    ours, ref = _ours(name, yt, yp), _dysts(name, yt, yp)
    assert isinstance(ours, float)
    np.testing.assert_allclose(ours, ref, rtol=RTOL, atol=1e-14)


@pytest.mark.parametrize("name", DYSTS_OK)
def test_matches_dysts_lorenz(name, lorenz_pair):
    yt, yp = lorenz_pair
    np.testing.assert_allclose(_ours(name, yt, yp), _dysts(name, yt, yp), rtol=RTOL, atol=1e-14)


@pytest.mark.parametrize("name", DYSTS_OK_1D)
def test_matches_dysts_1d(name, random_pair):
    yt, yp = random_pair[0][:, 1], random_pair[1][:, 1]
    np.testing.assert_allclose(_ours(name, yt, yp), _dysts(name, yt, yp), rtol=RTOL, atol=1e-14)


def test_kl_divergence_global_state_like_dysts(random_pair):
    yt, yp = random_pair
    np.random.seed(7)  # noqa: NPY002
    ref = dm.estimate_kl_divergence(yt, yp)
    np.random.seed(7)  # noqa: NPY002
    np.testing.assert_allclose(F.kl_divergence(yt, yp, seed=None), ref, rtol=RTOL)


def test_kl_divergence_no_underflow():
    # orbits far apart: dysts' exp underflows to 0 (inf/NaN); the logsumexp form stays finite
    rng = np.random.default_rng(2)
    yt = rng.normal(size=(50, 2))
    kl = F.kl_divergence(yt, yt + 100.0)
    assert np.isfinite(kl) and kl > 1000


# ------------------------------------------------------------------------------------------
# the two metrics dysts 0.96 gets wrong


@pytest.mark.parametrize("shape", [(150,), (150, 1)])
def test_pearson_1d_is_pearson(shape, random_pair):
    yt = random_pair[0][:, 0].reshape(shape)
    yp = (random_pair[1][:, 0] ** 3).reshape(shape)  # monotone but non-linear: r != rho
    r = stats.pearsonr(yt.ravel(), yp.ravel()).statistic
    np.testing.assert_allclose(F.pearson(yt, yp), r, rtol=RTOL)
    assert abs(F.pearson(yt, yp) - F.spearman(yt, yp)) > 1e-3


def test_pearson_multivariate_against_scipy(lorenz_pair):
    yt, yp = lorenz_pair
    ref = np.mean([stats.pearsonr(yt[:, i], yp[:, i]).statistic for i in range(3)])
    np.testing.assert_allclose(F.pearson(yt, yp), ref, rtol=RTOL)


@pytest.mark.parametrize("which", ["random", "lorenz", "1d"])
def test_mutual_information_against_sklearn(which, random_pair, lorenz_pair):
    yt, yp = {"random": random_pair, "lorenz": lorenz_pair, "1d": random_pair}[which]
    if which == "1d":
        yt, yp = yt[:, 0], yp[:, 0]
    ours = F.mutual_information(yt, yp)
    assert isinstance(ours, float) and ours > 0
    np.testing.assert_allclose(ours, _sklearn_mi(yt, yp), rtol=RTOL)


def test_mutual_information_independent_and_constant():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(2, 400, 2))
    assert F.mutual_information(a, b) < 0.05
    assert F.mutual_information(np.ones((50, 2)), b[:50]) == 0.0


# ------------------------------------------------------------------------------------------
# batches


def test_batch_equals_loop(random_pair):
    rng = np.random.default_rng(4)
    yt = rng.normal(size=(3, 80, 2)) + 2
    yp = yt + 0.2 * rng.normal(size=yt.shape)
    include = list(F.METRIC_NAMES + F.EXTRA_METRIC_NAMES)
    batch = F.forecast_metrics(yt, yp, include=include, steps_per_lyapunov_time=5)
    for name in include:
        assert np.shape(batch[name]) == (3,), name
        loop = [
            F.forecast_metrics(yt[i], yp[i], include=[name], steps_per_lyapunov_time=5)[name]
            for i in range(3)
        ]
        np.testing.assert_allclose(batch[name], loop, rtol=1e-12, err_msg=name)
    steps = F.valid_prediction_steps(yt, yp)
    assert steps.shape == (3,) and steps.dtype.kind == "i"


def test_truth_broadcasts_against_ensemble(random_pair):
    yt, yp = random_pair
    ens = np.stack([yp, yt, 2 * yp])
    out = F.mse(yt, ens)
    np.testing.assert_allclose(out, [F.mse(yt, e) for e in ens], rtol=1e-14)
    with pytest.raises(ValueError):
        F.mse(yt, yp[:-1])


# ------------------------------------------------------------------------------------------
# closed forms


def test_identical_series(lorenz_pair):
    yt = lorenz_pair[0]
    assert F.mse(yt, yt) == 0.0
    assert F.smape(yt, yt) == 0.0
    assert F.hellinger_distance(yt, yt) == 0.0  # dysts 0.96: ~1e-8 or NaN (cancellation)
    for rule in ("smape", "nrmse"):
        assert F.valid_prediction_time(yt, yt, steps_per_lyapunov_time=10, rule=rule) == np.inf
        assert F.valid_prediction_steps(yt, yt, rule=rule) == len(yt)


def test_smape_scale(random_pair):
    yt, yp = random_pair
    np.testing.assert_allclose(F.smape(yt, yp, scale=200), 2 * F.smape(yt, yp), rtol=1e-15)
    # sign flip: every term is 1 -> 100 (dysts 0.96 scale) or 200 (older scale)
    assert F.smape(yt, -yt) == pytest.approx(100)
    assert F.smape(yt, -yt, scale=200) == pytest.approx(200)


@pytest.mark.parametrize("k", [0, 1, 3, 5])
def test_vpt_step_change_smape(k):
    yt = np.linspace(1.0, 2.0, 40)[:, None] * np.ones(3)
    yp = yt.copy()
    yp[k:] *= -1  # every sMAPE term from step k on is 200 -> cumulative 200 / (k + 1) > 30
    spl = 2.5
    assert F.valid_prediction_steps(yt, yp) == k
    assert F.valid_prediction_time(yt, yp, steps_per_lyapunov_time=spl) == k / spl


def test_vpt_smape_is_cumulative():
    yt = np.ones((40, 2))
    yp = yt.copy()
    yp[6:] = -1  # cumulative sMAPE: 200/7 = 28.6 at step 6, 400/8 = 50 at step 7
    assert F.valid_prediction_steps(yt, yp) == 7
    assert F.valid_prediction_steps(yt, yp, threshold=25) == 6


@pytest.mark.parametrize("k", [0, 7, 50])
def test_vpt_step_change_nrmse(k, lorenz_pair):
    yt = lorenz_pair[0]
    yp = yt.copy()
    yp[k:] += 5 * yt.std(axis=0)
    spl = 12.0
    got = F.valid_prediction_time(yt, yp, steps_per_lyapunov_time=spl, rule="nrmse")
    assert got == k / spl


def test_vpt_bad_rule(random_pair):
    with pytest.raises(ValueError):
        F.valid_prediction_steps(*random_pair, rule="mse")


def test_smape_at_horizons(lorenz_pair):
    yt, yp = lorenz_pair
    out = F.smape_at_horizons(yt, yp, steps_per_lyapunov_time=20)
    assert list(out) == [1.0, 4.0, 10.0]
    assert out[1.0] == pytest.approx(F.smape(yt[:20], yp[:20]), rel=1e-14)
    assert out[4.0] == pytest.approx(F.smape(yt[:80], yp[:80]), rel=1e-14)
    assert out[10.0] == pytest.approx(F.smape(yt[:200], yp[:200]), rel=1e-14)
    out = F.smape_at_horizons(yt, yp, steps_per_lyapunov_time=40, horizons=(1, 10))
    assert np.isnan(out[10.0]) and np.isfinite(out[1.0])


def _truth_reader(truth: np.ndarray):
    """A perfect forecast_fn: looks each state up in the truth and returns what follows."""

    def fn(states: np.ndarray, n: int) -> np.ndarray:
        idx = np.array([np.flatnonzero((truth == s).all(axis=1))[0] for s in states])
        return truth[idx[:, None] + np.arange(1, n + 1)]

    return fn


def test_prediction_error(lorenz_pair):
    truth = lorenz_pair[0]
    n = 20
    assert F.prediction_error(truth, _truth_reader(truth), n) == 0.0

    def persistence(states, n):
        return np.repeat(states[:, None], n, axis=1)

    pe = F.prediction_error(truth, persistence, n)
    by_hand = np.mean([np.mean((truth[t] - truth[t + n]) ** 2) for t in range(len(truth) - n)])
    assert pe > 0
    np.testing.assert_allclose(pe, by_hand, rtol=1e-12)
    strided = F.prediction_error(truth, persistence, n, stride=7)
    by_hand = np.mean(
        [np.mean((truth[t] - truth[t + n]) ** 2) for t in range(0, len(truth) - n, 7)]
    )
    np.testing.assert_allclose(strided, by_hand, rtol=1e-12)
    batch = F.prediction_error(np.stack([truth, truth[::-1].copy()]), persistence, n)
    assert batch.shape == (2,)
    np.testing.assert_allclose(batch[0], pe, rtol=1e-12)
    with pytest.raises(ValueError):
        F.prediction_error(truth, lambda s, n: s, n)  # wrong shape


def test_forecast_prediction_error_is_prediction_error_on_forecasts(lorenz_pair):
    """PE(n) from forecasts already made (what the evaluation scores) equals PE(n) from a
    forecast function, and is the MSE of the n-th step by hand."""
    truth, n = lorenz_pair[0], 20

    def persistence(states, n):
        return np.repeat(states[:, None], n, axis=1)

    starts = np.arange(0, len(truth) - n)
    y_true = np.stack([truth[t + 1 : t + n + 1] for t in starts])
    y_pred = persistence(truth[starts], n)
    pe = F.forecast_prediction_error(y_true, y_pred, n)
    assert pe == F.prediction_error(truth, persistence, n)
    by_hand = np.mean([np.mean((truth[t] - truth[t + n]) ** 2) for t in starts])
    np.testing.assert_allclose(pe, by_hand, rtol=1e-12)
    np.testing.assert_allclose(
        F.forecast_prediction_error(y_true, y_pred, 5),
        np.mean((y_pred[:, 4] - y_true[:, 4]) ** 2),
        rtol=0,
    )
    both = F.forecast_prediction_error(np.stack([y_true, y_true]), np.stack([y_pred, y_true]), n)
    np.testing.assert_array_equal(both, [pe, 0.0])
    with pytest.raises(ValueError):
        F.forecast_prediction_error(y_true, y_pred, n + 1)


def test_mase_persistence_by_hand(lorenz_pair):
    yt = lorenz_pair[0][1:]
    x0 = lorenz_pair[0][0]  # the state before the forecast window
    yp = np.repeat(x0[None], len(yt), axis=0)
    n = 10
    num = sum(abs(yt[t, d] - x0[d]) for t in range(n) for d in range(3)) / (3 * n)
    den = sum(abs(yt[t, d] - yt[t - 1, d]) for t in range(1, n) for d in range(3)) / (3 * (n - 1))
    np.testing.assert_allclose(F.mase(yt, yp, n), num / den, rtol=1e-12)
    assert np.isnan(F.mase(yt[:5], yp[:5], n))


# ------------------------------------------------------------------------------------------
# divergent forecasts and the dict API


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_prediction(bad, lorenz_pair):
    yt, yp = lorenz_pair
    yp = yp.copy()
    yp[4:, 1] = bad
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = F.forecast_metrics(
            yt, yp, include=F.METRIC_NAMES + F.EXTRA_METRIC_NAMES, steps_per_lyapunov_time=10
        )
        assert F.valid_prediction_steps(yt, yp) == 4
        assert F.valid_prediction_steps(yt, yp, rule="nrmse") == 4
        pe = F.prediction_error(yt, lambda s, n: np.full((len(s), n, 3), bad), 5)
    assert out["vpt"] == 0.4
    assert not np.isfinite(pe)
    assert not np.isfinite(out["mse"])
    assert np.isnan(out["mutual_information"]) and np.isnan(out["hellinger_distance"])


def test_forecast_metrics_dict(random_pair):
    yt, yp = random_pair
    out = F.forecast_metrics(yt, yp)
    assert tuple(out) == F.METRIC_NAMES
    assert all(isinstance(v, float) for v in out.values())
    assert out["mse"] == F.mse(yt, yp)
    sub = F.forecast_metrics(yt, yp, include=["smape", "mase"])
    assert list(sub) == ["smape", "mase"]
    with pytest.raises(ValueError, match="valid names"):
        F.forecast_metrics(yt, yp, include=["mse", "nope"])
    with pytest.raises(ValueError, match="steps_per_lyapunov_time"):
        F.forecast_metrics(yt, yp, include=["vpt"])
