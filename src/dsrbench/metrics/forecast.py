"""Short-term forecast metrics (docs/metrics.md), vectorised over a batch of trajectories.

Inputs are arrays of shape ``(T,)``, ``(T, D)`` or ``(B, T, D)`` (time on the second-to-last
axis of a batch).  A ``(T,)`` or ``(T, D)`` input gives a ``float``; a ``(B, T, D)`` input gives
one value per trajectory, an array of shape ``(B,)``.  ``y_true`` and ``y_pred`` are broadcast
against each other, so one truth ``(T, D)`` can be scored against an ensemble ``(B, T, D)``.

The 17 metrics of ``dysts.metrics.compute_metrics`` (dysts 0.96) are re-implemented here with
the same formulas and the same numerical constants (``eps = 1e-10``), so that they give the same
values as dysts on the same ``(T, D)`` input.  Deviations, each where dysts 0.96 is wrong or
cannot be evaluated:

* ``mutual_information``: dysts raises on every input (``ValueError`` for ``(T, D)`` because it
  stores a length-1 array in a scalar slot, ``IndexError`` for ``(T,)``).  What it intends is the
  Kraskov-Stoegbauer-Grassberger estimate (``sklearn.feature_selection.mutual_info_regression``,
  k = 3 neighbours, each series scaled to unit standard deviation) between ``y_true[:, i]`` and
  ``y_pred[:, i]``, averaged over dimensions; that is what is computed here (in nats), without
  scikit-learn's 1e-10 jitter, which makes it deterministic.
* ``pearson``: dysts squeezes its input and then returns Spearman's rho for 1-D input, i.e. for
  ``(T,)`` and ``(T, 1)``.  Here it is always Pearson's r (as ``scipy.stats.pearsonr``).
* ``kl_divergence``: dysts draws its Monte-Carlo samples from numpy's global random state and
  evaluates the mixture densities as ``log(sum(exp(...)))``, which underflows to ``0`` (giving
  ``inf`` or ``nan``) once the orbits are more than ~38 standard deviations apart.  Here the
  samples come from ``np.random.RandomState(seed)`` (``seed=None`` uses the global state, exactly
  as dysts) and the densities are combined with ``logsumexp``.  With ``np.random.seed(s)`` before
  the dysts call and ``seed=s`` here, the values agree wherever dysts' densities do not underflow.
* ``hellinger_distance``: dysts' ``sqrt(1 - sum(sqrt(p q)))`` suffers cancellation (about 1e-8,
  or ``nan`` when the difference rounds below zero, for identical series); the equal
  ``sqrt(sum((sqrt p - sqrt q)^2) / 2)`` is used instead (exactly 0 for identical series).
  ``(T,)`` input, which dysts rejects, is treated as ``(T, 1)``.
* Non-finite predictions never raise (dysts' ``hellinger_distance`` asserts); the metric is then
  ``nan`` or ``inf`` as the arithmetic gives, and no numpy warnings are emitted.

The other metrics are defined in docs/metrics.md: ``valid_prediction_time`` (Zhang & Gilpin 2025),
``smape_at_horizons``, ``prediction_error`` and ``forecast_prediction_error`` (PE(n), Hess
et al. 2023) and ``mase`` (Hemmer & Durstewitz 2025, DynaMix).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

__all__ = [
    "EXTRA_METRIC_NAMES",
    "METRIC_NAMES",
    "coefficient_of_variation",
    "forecast_metrics",
    "hellinger_distance",
    "kendall",
    "kl_divergence",
    "mae",
    "mape",
    "marre",
    "mase",
    "mse",
    "mutual_information",
    "nrmse",
    "pearson",
    "forecast_prediction_error",
    "prediction_error",
    "r2_score",
    "rmse",
    "rmsle",
    "smape",
    "smape_at_horizons",
    "spearman",
    "valid_prediction_steps",
    "valid_prediction_time",
    "wape",
]

#: The 17 metrics of ``dysts.metrics.compute_metrics`` (dysts 0.96), in dysts' order.
METRIC_NAMES: tuple[str, ...] = (
    "mse",
    "mae",
    "rmse",
    "nrmse",
    "marre",
    "r2_score",
    "rmsle",
    "smape",
    "mape",
    "wape",
    "spearman",
    "pearson",
    "kendall",
    "coefficient_of_variation",
    "mutual_information",
    "kl_divergence",
    "hellinger_distance",
)

#: Further metrics ``forecast_metrics`` computes when asked for by name.  ``mase`` uses
#: n = 10; the others need ``steps_per_lyapunov_time``: ``vpt`` (sMAPE rule), ``vpt_nrmse``
#: (NRMSE rule), ``smape_1lt``/``smape_4lt``/``smape_10lt`` (sMAPE over 1, 4, 10 Lyapunov times).
EXTRA_METRIC_NAMES: tuple[str, ...] = (
    "mase",
    "vpt",
    "vpt_nrmse",
    "smape_1lt",
    "smape_4lt",
    "smape_10lt",
)

_EPS = 1e-10  # dysts 0.96's eps in every metric that has one
_VPT_DEFAULT_THRESHOLD = {"smape": 30.0, "nrmse": 0.5}
_LOG_2PI = float(np.log(2.0 * np.pi))

Value = float | NDArray[np.float64]


# --------------------------------------------------------------------------------------------
# shape handling


def _promote(a: ArrayLike, name: str) -> NDArray[np.float64]:
    x = np.asarray(a, dtype=np.float64)
    if x.ndim == 1:
        return x[None, :, None]
    if x.ndim == 2:
        return x[None]
    if x.ndim == 3:
        return x
    raise ValueError(f"{name} must have shape (T,), (T, D) or (B, T, D); got {x.shape}")


def _as_batch(
    y_true: ArrayLike, y_pred: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], bool]:
    """Return ``(B, T, D)`` views of both arrays and whether the input was batched."""
    yt, yp = _promote(y_true, "y_true"), _promote(y_pred, "y_pred")
    batched = np.ndim(y_true) == 3 or np.ndim(y_pred) == 3
    try:
        yt, yp = np.broadcast_arrays(yt, yp)
    except ValueError as err:
        raise ValueError(
            f"y_true {np.shape(y_true)} and y_pred {np.shape(y_pred)} do not broadcast"
        ) from err
    if yt.shape[1] == 0:
        raise ValueError("empty time axis")
    return yt, yp, batched


def _out(values: NDArray[np.float64], batched: bool) -> Value:
    values = np.asarray(values, dtype=np.float64)
    return values if batched else float(values[0])


def _per_dim(a: NDArray[np.float64]) -> NDArray[np.float64]:
    """``(B, T, D)`` -> C-contiguous ``(B, D, T)``, so that reductions over time run along the
    contiguous axis (the same summation order as dysts' per-column calls)."""
    return np.ascontiguousarray(np.swapaxes(a, 1, 2))


# --------------------------------------------------------------------------------------------
# the 17 metrics of dysts 0.96 (formulas from dysts/metrics.py, dysts 0.96)


def mse(y_true: ArrayLike, y_pred: ArrayLike) -> Value:
    """Mean squared error over all times and dimensions (dysts 0.96 ``mse``)."""
    yt, yp, b = _as_batch(y_true, y_pred)
    with np.errstate(all="ignore"):
        return _out(np.mean(np.square(yt - yp), axis=(1, 2)), b)


def mae(y_true: ArrayLike, y_pred: ArrayLike) -> Value:
    """Mean absolute error over all times and dimensions (dysts 0.96 ``mae``)."""
    yt, yp, b = _as_batch(y_true, y_pred)
    with np.errstate(all="ignore"):
        return _out(np.mean(np.abs(yt - yp), axis=(1, 2)), b)


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> Value:
    """Root mean squared error (dysts 0.96 ``rmse``)."""
    yt, yp, b = _as_batch(y_true, y_pred)
    with np.errstate(all="ignore"):
        return _out(np.sqrt(np.mean(np.square(yt - yp), axis=(1, 2))), b)


def nrmse(y_true: ArrayLike, y_pred: ArrayLike) -> Value:
    """``sqrt(mean((y - yhat)^2 / (sigma_d^2 + eps)))``, sigma_d the truth's standard deviation
    per dimension over the series (dysts 0.96 ``nrmse``)."""
    yt, yp, b = _as_batch(y_true, y_pred)
    with np.errstate(all="ignore"):
        sigma = np.std(yt, axis=1, keepdims=True)
        vals = (yt - yp) ** 2 / (sigma**2 + _EPS)
        return _out(np.sqrt(np.mean(vals, axis=(1, 2))), b)


def marre(y_true: ArrayLike, y_pred: ArrayLike) -> Value:
    """Mean absolute ranged relative error, ``100 mean(|y - yhat|) / (max y - min y + eps)``
    with max and min over all times and dimensions (dysts 0.96 ``marre``)."""
    yt, yp, b = _as_batch(y_true, y_pred)
    with np.errstate(all="ignore"):
        rng = np.max(yt, axis=(1, 2), keepdims=True) - np.min(yt, axis=(1, 2), keepdims=True)
        return _out(100 * np.mean(np.abs(yt - yp) / (rng + _EPS), axis=(1, 2)), b)


def r2_score(y_true: ArrayLike, y_pred: ArrayLike) -> Value:
    """``1 - sum((y - yhat)^2) / sum((y - mean y)^2)``, one mean over all times and dimensions
    (dysts 0.96 ``r2_score``; not scikit-learn's per-output average)."""
    yt, yp, b = _as_batch(y_true, y_pred)
    with np.errstate(all="ignore"):
        ss_res = np.sum(np.square(yt - yp), axis=(1, 2))
        ss_tot = np.sum(np.square(yt - np.mean(yt, axis=(1, 2), keepdims=True)), axis=(1, 2))
        return _out(1 - ss_res / ss_tot, b)


def rmsle(y_true: ArrayLike, y_pred: ArrayLike) -> Value:
    """Root mean squared log error after shifting each dimension of each series to start at
    ``eps`` (``x - min_t x + eps``), as dysts 0.96 ``rmsle`` does."""
    yt, yp, b = _as_batch(y_true, y_pred)
    with np.errstate(all="ignore"):
        st = yt - np.min(yt, axis=1, keepdims=True) + _EPS
        sp = yp - np.min(yp, axis=1, keepdims=True) + _EPS
        return _out(np.sqrt(np.mean(np.square(np.log(sp + 1) - np.log(st + 1)), axis=(1, 2))), b)


def smape(y_true: ArrayLike, y_pred: ArrayLike, *, scale: float = 100) -> Value:
    """Symmetric MAPE, ``scale * mean(|y - yhat| / (|y| + |yhat| + eps))``.

    ``scale=100`` (default) is dysts 0.96's 0-100 scale; ``scale=200`` the older 0-200 scale
    (dysts before 0.96, and the scale of Zhang & Gilpin 2025's VPT threshold), see docs/metrics.md.
    """
    yt, yp, b = _as_batch(y_true, y_pred)
    with np.errstate(all="ignore"):
        return _out(scale * np.mean(np.abs(yt - yp) / (np.abs(yt) + np.abs(yp) + _EPS), (1, 2)), b)


def mape(y_true: ArrayLike, y_pred: ArrayLike) -> Value:
    """``100 mean(|(y - yhat) / (y + eps)|)`` (dysts 0.96 ``mape``)."""
    yt, yp, b = _as_batch(y_true, y_pred)
    with np.errstate(all="ignore"):
        return _out(100 * np.mean(np.abs((yt - yp) / (yt + _EPS)), axis=(1, 2)), b)


def wape(y_true: ArrayLike, y_pred: ArrayLike) -> Value:
    """``100 sum|y - yhat| / (sum|y| + eps)`` (dysts 0.96 ``wape``)."""
    yt, yp, b = _as_batch(y_true, y_pred)
    with np.errstate(all="ignore"):
        num = np.sum(np.abs(yt - yp), axis=(1, 2))
        return _out(100 * num / (np.sum(np.abs(yt), axis=(1, 2)) + _EPS), b)


def coefficient_of_variation(y_true: ArrayLike, y_pred: ArrayLike) -> Value:
    """``100 std(y - yhat) / (mean(y) + eps)``, std and mean over all times and dimensions
    (dysts 0.96 ``coefficient_of_variation``)."""
    yt, yp, b = _as_batch(y_true, y_pred)
    with np.errstate(all="ignore"):
        num = np.std(yt - yp, axis=(1, 2))
        return _out(100 * num / (np.mean(yt, axis=(1, 2)) + _EPS), b)


def _pearson_last_axis(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    """Pearson's r along the last axis (NaN for a constant or non-finite series)."""
    xc = x - np.mean(x, axis=-1, keepdims=True)
    yc = y - np.mean(y, axis=-1, keepdims=True)
    r = np.sum(xc * yc, axis=-1) / (
        np.sqrt(np.sum(xc * xc, axis=-1)) * np.sqrt(np.sum(yc * yc, axis=-1))
    )
    return np.clip(r, -1.0, 1.0)


def pearson(y_true: ArrayLike, y_pred: ArrayLike) -> Value:
    """Pearson's r per dimension, averaged over dimensions (dysts 0.96 ``pearson``).

    Deviation: dysts 0.96 returns Spearman's rho for ``(T,)`` and ``(T, 1)`` input; this is
    Pearson's r for every shape (as ``scipy.stats.pearsonr``).
    """
    yt, yp, b = _as_batch(y_true, y_pred)
    with np.errstate(all="ignore"):
        return _out(np.mean(_pearson_last_axis(_per_dim(yt), _per_dim(yp)), axis=1), b)


def _ranks(a: NDArray[np.float64]) -> NDArray[np.float64]:
    """Average ranks along the last axis; a series containing NaN gets NaN ranks (as scipy's
    ``spearmanr`` with the default ``nan_policy='propagate'``)."""
    return stats.rankdata(a, axis=-1, nan_policy="propagate")


def spearman(y_true: ArrayLike, y_pred: ArrayLike) -> Value:
    """Spearman's rho (Pearson's r of average ranks) per dimension, averaged over dimensions
    (dysts 0.96 ``spearman``, which calls ``scipy.stats.spearmanr``)."""
    yt, yp, b = _as_batch(y_true, y_pred)
    with np.errstate(all="ignore"):
        rt, rp = _ranks(_per_dim(yt)), _ranks(_per_dim(yp))
        return _out(np.mean(_pearson_last_axis(rt, rp), axis=1), b)


def kendall(y_true: ArrayLike, y_pred: ArrayLike) -> Value:
    """Kendall's tau-b per dimension, averaged over dimensions (dysts 0.96 ``kendall``).

    Computed with ``scipy.stats.kendalltau(..., axis=-1)``, the function dysts calls: it is
    O(T log T) per series in compiled code, where a pure-numpy pairwise version would be
    O(T^2) in time and memory.
    """
    yt, yp, b = _as_batch(y_true, y_pred)
    with np.errstate(all="ignore"):
        res = stats.kendalltau(_per_dim(yt), _per_dim(yp), axis=-1, method="asymptotic")
        return _out(np.mean(np.asarray(res.statistic, dtype=np.float64), axis=1), b)


def _ksg_mi(x: NDArray[np.float64], y: NDArray[np.float64], k: int) -> float:
    """Kraskov et al. (2004) estimator 1 for two continuous 1-D samples, in nats, clipped at 0;
    the computation of scikit-learn's ``_compute_mi_cc`` (Chebyshev norm, radius just below the
    distance to the k-th neighbour in the joint space), without its jitter."""
    n = x.size
    if n <= k or not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        return float("nan")
    # unit standard deviation, no centring (sklearn.preprocessing.scale(with_mean=False))
    sx, sy = np.std(x), np.std(y)
    if sx == 0 or sy == 0:
        return 0.0  # a constant series carries no information
    x, y = x / sx, y / sy
    xy = np.column_stack((x, y))
    dist, _ = cKDTree(xy).query(xy, k=k + 1, p=np.inf)  # column 0 is the point itself
    radius = np.nextafter(dist[:, -1], 0)
    nx = cKDTree(x[:, None]).query_ball_point(x[:, None], radius, p=np.inf, return_length=True)
    ny = cKDTree(y[:, None]).query_ball_point(y[:, None], radius, p=np.inf, return_length=True)
    nx = np.asarray(nx, dtype=np.float64) - 1.0
    ny = np.asarray(ny, dtype=np.float64) - 1.0
    mi = (
        special.digamma(n)
        + special.digamma(k)
        - np.mean(special.digamma(nx + 1))
        - np.mean(special.digamma(ny + 1))
    )
    return float(max(0.0, mi))


def mutual_information(y_true: ArrayLike, y_pred: ArrayLike, *, n_neighbors: int = 3) -> Value:
    """Mutual information (nats) between ``y_true[:, i]`` and ``y_pred[:, i]``, averaged over
    dimensions; KSG k-nearest-neighbour estimate with k = ``n_neighbors`` (Kraskov et al. 2004).

    Deviation: dysts 0.96's ``mutual_information`` raises on every input shape.  It intends
    ``mean_i sklearn.feature_selection.mutual_info_regression(y_true[:, [i]], y_pred[:, i])``;
    this computes that estimate (each series scaled to unit std, k = 3) without scikit-learn's
    random 1e-10 jitter, so it is deterministic and equals scikit-learn's value whenever the
    jitter does not reorder neighbour distances.  0 when either series is constant; NaN for a
    series with non-finite values or with at most ``n_neighbors`` points.
    """
    yt, yp, b = _as_batch(y_true, y_pred)
    xt, xp = _per_dim(yt), _per_dim(yp)
    mi = np.array(
        [
            [_ksg_mi(xt[i, d], xp[i, d], n_neighbors) for d in range(xt.shape[1])]
            for i in range(xt.shape[0])
        ]
    )
    return _out(np.mean(mi, axis=1), b)


def _log_mixture_density(x: NDArray[np.float64], centres: NDArray[np.float64]) -> NDArray:
    """``log( mean_j N(x; centres_j, I) )`` for each row of x, evaluated in blocks of rows."""
    n, dim = centres.shape
    out = np.empty(x.shape[0])
    block = max(1, 2**22 // max(n, 1))
    for s in range(0, x.shape[0], block):
        sq = cdist(x[s : s + block], centres, "sqeuclidean")
        out[s : s + block] = special.logsumexp(-0.5 * sq, axis=1)
    return out - np.log(n) - 0.5 * dim * _LOG_2PI


def _kl_one(
    xt: NDArray[np.float64],
    xg: NDArray[np.float64],
    n_samples: int,
    rs: np.random.RandomState,
) -> float:
    n = xt.shape[0]
    # the same draws, in the same order, as dysts' GaussianMixture.sample with unit variance:
    # np.random.choice(n, p=uniform) then one standard normal D-vector per sample
    idx = rs.choice(n, size=n_samples, p=np.ones(n) / n)
    samples = xt[idx] + rs.standard_normal((n_samples, xt.shape[1]))
    if not (np.all(np.isfinite(xt)) and np.all(np.isfinite(xg))):
        return float("nan")
    return float(np.mean(_log_mixture_density(samples, xt) - _log_mixture_density(samples, xg)))


def kl_divergence(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    n_samples: int = 1000,
    seed: int | np.random.RandomState | None = 0,
) -> Value:
    """KL(p_true || p_pred) between isotropic Gaussian mixtures (variance 1) centred on the
    points of each orbit, Monte-Carlo estimate from ``n_samples`` draws of the true mixture
    (Hess et al. 2023; dysts 0.96 ``estimate_kl_divergence`` with ``sigma_scale=1``).

    ``seed``: an int gives ``np.random.RandomState(seed)`` (re-created for every trajectory of a
    batch, so a batch equals the per-trajectory loop); a ``RandomState`` is used as is; ``None``
    uses numpy's global random state like dysts.  Deviation: densities are combined with
    ``logsumexp`` instead of dysts' underflow-prone ``log(sum(exp))``.
    """
    yt, yp, b = _as_batch(y_true, y_pred)
    vals = np.empty(yt.shape[0])
    for i in range(yt.shape[0]):
        if seed is None:
            rs = np.random.mtrand._rand
        elif isinstance(seed, np.random.RandomState):
            rs = seed
        else:
            rs = np.random.RandomState(seed)
        with np.errstate(all="ignore"):
            vals[i] = _kl_one(yt[i], yp[i], n_samples, rs)
    return _out(vals, b)


def hellinger_distance(y_true: ArrayLike, y_pred: ArrayLike, *, num_freq_bins: int = 100) -> Value:
    """Hellinger distance between the power spectra ``|fft|^2`` of each dimension, restricted
    to the first ``num_freq_bins`` FFT bins and normalised there, averaged over dimensions
    (Mikhaeil et al. 2022; dysts 0.96 ``average_hellinger_distance``, no smoothing).

    Deviations: ``H^2`` is computed as ``sum (sqrt p - sqrt q)^2 / 2``, equal to dysts'
    ``1 - sum sqrt(p q)`` in exact arithmetic but free of its cancellation (dysts gives ~1e-8,
    or NaN when the difference rounds below zero, for identical series; here exactly 0);
    ``(T,)`` input is accepted as ``(T, 1)``; non-finite input gives NaN, not an
    AssertionError.  The smoothed D_H of docs/metrics.md is a different metric (long-term
    metrics, ``dsrbench.metrics.attractor.power_spectrum_distance``).
    """
    yt, yp, b = _as_batch(y_true, y_pred)
    with np.errstate(all="ignore"):
        ft = np.abs(np.fft.fft(_per_dim(yt), axis=-1)[..., :num_freq_bins]) ** 2
        fg = np.abs(np.fft.fft(_per_dim(yp), axis=-1)[..., :num_freq_bins]) ** 2
        ft /= np.sum(ft, axis=-1, keepdims=True)
        fg /= np.sum(fg, axis=-1, keepdims=True)
        # 1 - sum sqrt(p q) = sum (sqrt p - sqrt q)^2 / 2 for normalised p, q; the right-hand
        # side has no cancellation and is never negative
        h2 = 0.5 * np.sum(np.square(np.sqrt(ft) - np.sqrt(fg)), axis=-1)
        return _out(np.mean(np.sqrt(h2), axis=1), b)


_DYSTS_METRICS: dict[str, Callable[[ArrayLike, ArrayLike], Value]] = {
    "mse": mse,
    "mae": mae,
    "rmse": rmse,
    "nrmse": nrmse,
    "marre": marre,
    "r2_score": r2_score,
    "rmsle": rmsle,
    "smape": smape,
    "mape": mape,
    "wape": wape,
    "spearman": spearman,
    "pearson": pearson,
    "kendall": kendall,
    "coefficient_of_variation": coefficient_of_variation,
    "mutual_information": mutual_information,
    "kl_divergence": kl_divergence,
    "hellinger_distance": hellinger_distance,
}


# --------------------------------------------------------------------------------------------
# valid prediction time (Zhang & Gilpin 2025; NRMSE rule: Vlachas et al. 2020)


def _exceeded(
    yt: NDArray[np.float64], yp: NDArray[np.float64], rule: str, threshold: float | None
) -> NDArray[np.bool_]:
    """``(B, T)``: whether the error at step j is above the threshold (or not finite)."""
    if rule not in _VPT_DEFAULT_THRESHOLD:
        raise ValueError(f"rule must be one of {sorted(_VPT_DEFAULT_THRESHOLD)}; got {rule!r}")
    thr = _VPT_DEFAULT_THRESHOLD[rule] if threshold is None else float(threshold)
    with np.errstate(all="ignore"):
        if rule == "smape":
            term = 200 * np.abs(yt - yp) / (np.abs(yt) + np.abs(yp) + _EPS)  # 0-200 scale
            err = np.cumsum(np.mean(term, axis=2), axis=1) / np.arange(1, yt.shape[1] + 1)
        else:
            sigma = np.std(yt, axis=1, keepdims=True)
            err = np.sqrt(np.mean((yt - yp) ** 2 / (sigma**2 + _EPS), axis=2))
        return ~(err <= thr)  # NaN (from non-finite values) counts as exceeded


def valid_prediction_steps(
    y_true: ArrayLike, y_pred: ArrayLike, *, rule: str = "smape", threshold: float | None = None
) -> int | NDArray[np.int64]:
    """Number of leading forecast steps before the error first exceeds the threshold.

    Rule ``"smape"`` (Zhang & Gilpin 2025, also PhyxMamba): the error at step j (0-based) is
    the cumulative sMAPE over steps ``[0, j]`` on the 0-200 scale, threshold 30.  Rule
    ``"nrmse"`` (Vlachas et al. 2020): the error at step j is
    ``sqrt(mean_d (y_jd - yhat_jd)^2 / (sigma_d^2 + eps))``, sigma_d the truth's std over the
    horizon, threshold 0.5.  A step with non-finite values counts as exceeded.  Returns the index
    j of the first exceeding step, i.e. a forecast correct on steps ``0..k-1`` and wrong enough
    at step k gives k; the horizon length T when the threshold is never exceeded.  In terms of
    the paper's "first i at which the sMAPE over steps [0, i) exceeds 30" this is i - 1, the
    number of steps forecast validly (so that a forecast wrong from step k has VPT k steps).
    """
    yt, yp, b = _as_batch(y_true, y_pred)
    exc = _exceeded(yt, yp, rule, threshold)
    steps = np.where(exc.any(axis=1), np.argmax(exc, axis=1), yt.shape[1]).astype(np.int64)
    return steps if b else int(steps[0])


def valid_prediction_time(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    steps_per_lyapunov_time: float,
    rule: str = "smape",
    threshold: float | None = None,
) -> Value:
    """Valid prediction time in Lyapunov times: ``valid_prediction_steps / steps_per_lyapunov_time``
    (Zhang & Gilpin 2025; see ``valid_prediction_steps`` for the rules).

    A forecast that never exceeds the threshold within the horizon (e.g. identical series) gets
    ``np.inf``, "never invalid within the horizon": reporting the horizon length instead would
    make the value depend on the evaluation window.  Use ``valid_prediction_steps`` for a finite
    count.
    """
    if not steps_per_lyapunov_time > 0:
        raise ValueError("steps_per_lyapunov_time must be positive")
    yt, yp, b = _as_batch(y_true, y_pred)
    exc = _exceeded(yt, yp, rule, threshold)
    vpt = np.where(exc.any(axis=1), np.argmax(exc, axis=1) / steps_per_lyapunov_time, np.inf)
    return _out(vpt, b)


def smape_at_horizons(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    steps_per_lyapunov_time: float,
    horizons: Iterable[float] = (1, 4, 10),
    scale: float = 100,
) -> dict[float, Value]:
    """sMAPE over the first ``round(h * steps_per_lyapunov_time)`` steps for each horizon h in
    Lyapunov times (docs/metrics.md; Zhang & Gilpin 2025 report 1, 4 and 10).  NaN when the
    forecast is shorter than the horizon or the horizon shorter than one step.  ``scale`` as
    in ``smape`` (default 0-100, dysts 0.96).
    """
    if not steps_per_lyapunov_time > 0:
        raise ValueError("steps_per_lyapunov_time must be positive")
    yt, yp, b = _as_batch(y_true, y_pred)
    out: dict[float, Value] = {}
    for h in horizons:
        n = int(round(float(h) * steps_per_lyapunov_time))
        if n < 1 or n > yt.shape[1]:  # shorter than one step, or beyond the forecast
            out[float(h)] = _out(np.full(yt.shape[0], np.nan), b)
        else:
            out[float(h)] = _out(np.atleast_1d(smape(yt[:, :n], yp[:, :n], scale=scale)), b)
    return out


# --------------------------------------------------------------------------------------------
# PE(n) (Hess et al. 2023) and MASE (Hemmer & Durstewitz 2025)


def forecast_prediction_error(
    y_true: ArrayLike, y_pred: ArrayLike, n: int = 20
) -> float | NDArray[np.float64]:
    """PE(n) of forecasts already made (Hess et al. 2023, GTF; default n = 20): the mean
    squared error, over the contexts and the dimensions, of the n-th forecast step.

    ``y_true``, ``y_pred``: ``(C, H, D)`` with H >= n (C contexts), or ``(..., C, H, D)`` for
    one value per leading index. Non-finite forecasts give NaN/inf, never an exception.
    """
    yt = np.asarray(y_true, dtype=np.float64)
    yp = np.asarray(y_pred, dtype=np.float64)
    if yt.ndim < 3 or yt.shape != yp.shape:
        raise ValueError(f"need (C, H, D) arrays of one shape, got {yt.shape} and {yp.shape}")
    if not 1 <= n <= yt.shape[-2]:
        raise ValueError(f"PE({n}) needs 1 <= n <= the forecast length {yt.shape[-2]}")
    with np.errstate(all="ignore"):
        err = np.square(yp[..., n - 1, :] - yt[..., n - 1, :])
        value = np.mean(err, axis=(-2, -1))
    return float(value) if value.ndim == 0 else value


def prediction_error(
    truth: ArrayLike,
    forecast_fn: Callable[[NDArray[np.float64], int], ArrayLike],
    n: int = 20,
    *,
    stride: int = 1,
) -> Value:
    """n-step prediction error PE(n) (Hess et al. 2023, GTF; default n = 20).

    From each start state ``truth[t]`` with ``t + n < T`` (every ``stride``-th t), run the model
    freely for n steps and take the mean squared error (over starts and dimensions) between the
    n-th predicted state and ``truth[t + n]``.  ``forecast_fn(states, n)`` receives all start
    states at once, shape ``(S, D)``, and must return the n following states, shape
    ``(S, n, D)``.  ``truth`` of shape ``(B, T, D)`` gives one value per trajectory (all
    ``B * S`` starts go to one call).  Non-finite forecasts give NaN/inf, never an exception.
    """
    if n < 1 or stride < 1:
        raise ValueError("n and stride must be positive")
    x = np.asarray(truth, dtype=np.float64)
    batched = x.ndim == 3
    x = _promote(x, "truth")
    nb, t_len, dim = x.shape
    starts = np.arange(0, t_len - n, stride)
    if starts.size == 0:
        raise ValueError(f"truth of length {t_len} has no start t with t + {n} < T")
    states = x[:, starts].reshape(-1, dim)
    pred = np.asarray(forecast_fn(states.copy(), n), dtype=np.float64)
    if pred.shape != (states.shape[0], n, dim):
        raise ValueError(
            f"forecast_fn returned shape {pred.shape}; expected {(len(states), n, dim)}"
        )
    target = x[:, starts + n].reshape(nb, starts.size, 1, dim)
    last = pred[:, -1].reshape(nb, starts.size, 1, dim)
    return _out(forecast_prediction_error(target, last, 1), batched)


def mase(y_true: ArrayLike, y_pred: ArrayLike, n: int = 10) -> Value:
    """Mean absolute scaled error over the first n steps (DynaMix, Hemmer & Durstewitz 2025).

    ``mean_{t<n, d} |y_td - yhat_td| / mean_{1<=t<n, d} |y_td - y_(t-1)d|``: the forecast's mean
    absolute error divided by that of the one-step naive forecast on the same n-step window of
    the truth (means over time and dimensions).  NaN when the forecast is shorter than n.
    """
    if n < 2:
        raise ValueError("n must be at least 2 (the scale needs one one-step difference)")
    yt, yp, b = _as_batch(y_true, y_pred)
    if yt.shape[1] < n:
        return _out(np.full(yt.shape[0], np.nan), b)
    with np.errstate(all="ignore"):
        num = np.mean(np.abs(yt[:, :n] - yp[:, :n]), axis=(1, 2))
        den = np.mean(np.abs(np.diff(yt[:, :n], axis=1)), axis=(1, 2))
        return _out(num / den, b)


# --------------------------------------------------------------------------------------------
# all together


def forecast_metrics(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    include: Sequence[str] | None = None,
    *,
    steps_per_lyapunov_time: float | None = None,
    seed: int | None = 0,
) -> dict[str, Value]:
    """Forecast metrics keyed by dysts 0.96's names.

    ``include=None`` gives the 17 of ``METRIC_NAMES`` (``dysts.metrics.compute_metrics``);
    otherwise any of ``METRIC_NAMES + EXTRA_METRIC_NAMES``, in the given order (an unknown name
    raises ValueError).  The extras ``vpt``, ``vpt_nrmse`` and ``smape_*lt`` need
    ``steps_per_lyapunov_time``.  ``seed`` goes to ``kl_divergence``.  Values are floats for
    ``(T,)``/``(T, D)`` input and ``(B,)`` arrays for ``(B, T, D)`` input (dysts instead
    averages over the batch).
    """
    names = list(METRIC_NAMES if include is None else include)
    valid = METRIC_NAMES + EXTRA_METRIC_NAMES
    unknown = [m for m in names if m not in valid]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; valid names: {list(valid)}")
    needs_lyap = [m for m in names if m.startswith(("vpt", "smape_"))]
    if needs_lyap and steps_per_lyapunov_time is None:
        raise ValueError(f"{needs_lyap} need steps_per_lyapunov_time")
    yt, yp, b = _as_batch(y_true, y_pred)
    if not b:  # keep float outputs for unbatched input
        yt, yp = yt[0], yp[0]
    out: dict[str, Value] = {}
    horizons = {"smape_1lt": 1.0, "smape_4lt": 4.0, "smape_10lt": 10.0}
    for m in names:
        if m == "kl_divergence":
            out[m] = kl_divergence(yt, yp, seed=seed)
        elif m in _DYSTS_METRICS:
            out[m] = _DYSTS_METRICS[m](yt, yp)
        elif m == "mase":
            out[m] = mase(yt, yp)
        elif m == "vpt":
            out[m] = valid_prediction_time(yt, yp, steps_per_lyapunov_time=steps_per_lyapunov_time)
        elif m == "vpt_nrmse":
            out[m] = valid_prediction_time(
                yt, yp, steps_per_lyapunov_time=steps_per_lyapunov_time, rule="nrmse"
            )
        else:
            h = horizons[m]
            out[m] = smape_at_horizons(
                yt, yp, steps_per_lyapunov_time=steps_per_lyapunov_time, horizons=(h,)
            )[h]
    return out
