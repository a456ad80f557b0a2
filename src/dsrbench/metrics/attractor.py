"""Long-term (invariant) statistics of free-running generations (definitions: docs/metrics.md).

Every function takes arrays of shape (T, D) (a 1-D series is read as (T, 1)); the pairwise
ones also accept a batch (B, T, D) of generations against one (T, D) truth or a paired
(B, T, D) truth, and then loop over B.

* :func:`state_space_divergence` / :func:`d_stsp`: D_stsp, the Kullback-Leibler divergence
  between the occupation measures of the true and the generated orbit (Hess et al. 2023,
  "Generalized teacher forcing for learning chaotic dynamics", ICML): histograms with
  Laplace smoothing below 6 dimensions, isotropic Gaussian mixtures from 6 on.
* :func:`power_spectrum_distance`: D_H, the Hellinger distance between smoothed power
  spectra, averaged over dimensions (Mikhaeil et al. 2022, NeurIPS).
* :func:`correlation_dimension`, :func:`correlation_dimension_error`: Grassberger and
  Procaccia (1983) dimension D2 and |D2(gen) - D2(true)| ("D_frac" in PhyxMamba).
* :func:`rosenstein_lyapunov`: largest Lyapunov exponent of a series (Rosenstein, Collins
  and De Luca 1993).
* :func:`check_divergence`, :func:`drop_transient`, :func:`long_term_metrics`: the long-run
  protocol around them (generate 1.25 T steps, drop the first 0.25 T, flag divergence; see
  docs/protocols.md).

D_stsp depends strongly on the length T of the orbits: always report ``n_points``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.spatial import cKDTree
from scipy.spatial.distance import pdist

__all__ = [
    "Divergence",
    "StspResult",
    "box_half_width",
    "check_divergence",
    "correlation_dimension",
    "correlation_dimension_error",
    "d_stsp",
    "drop_transient",
    "long_term_metrics",
    "power_spectrum_distance",
    "rosenstein_curve",
    "rosenstein_lyapunov",
    "smoothed_power_spectrum",
    "spectrum_hellinger_distance",
    "state_space_divergence",
    "stsp_bin_edges",
]

LAPLACE_ALPHA = 1e-5
"""Laplace smoothing of the D_stsp histograms (Hess et al. 2023: 10e-6)."""
GMM_MIN_DIM = 6
"""From this many dimensions on, D_stsp uses Gaussian mixtures instead of histograms."""
STSP_ESTIMATORS = ("auto", "bins", "gmm")
"""The D_stsp estimators: by the dimension, histograms, Gaussian mixtures."""
_DENSE_BINS = 1 << 20
"""Up to this many bins, D_stsp counts with a dense ``np.bincount``; above, sparsely."""


# --------------------------------------------------------------------------------------
# helpers


def _as_2d(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{name} must have shape (T, D) or (T,), got {a.shape}")
    return a


def _truth(x: Any, name: str = "x_true") -> np.ndarray:
    a = _as_2d(x, name)
    if a.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 time points, got {a.shape[0]}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} has non-finite values")
    return a


def _batched(
    fn: Callable[..., Any], x_true: Any, x_gen: Any, **kwargs: Any
) -> tuple[bool, list[Any]]:
    """Apply ``fn(x_true, x_gen)`` over a batch axis if ``x_gen`` is (B, T, D)."""
    g = np.asarray(x_gen)
    if g.ndim != 3:
        return False, [fn(x_true, x_gen, **kwargs)]
    t = np.asarray(x_true)
    if t.ndim == 3:
        if t.shape[0] != g.shape[0]:
            raise ValueError(f"batch sizes differ: x_true {t.shape}, x_gen {g.shape}")
        return True, [fn(t[b], g[b], **kwargs) for b in range(g.shape[0])]
    return True, [fn(t, g[b], **kwargs) for b in range(g.shape[0])]


def drop_transient(x_gen: Any, fraction: float = 0.2) -> np.ndarray:
    """Drop the first ``fraction`` of the time axis (axis -2 of (T, D) or (B, T, D)).

    The long-run protocol (docs/protocols.md) generates 1.25 T steps and drops the first
    0.25 T, i.e. 20 % of the generation: the default ``fraction``.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    a = np.asarray(x_gen)
    axis = 0 if a.ndim == 1 else a.ndim - 2
    start = int(round(fraction * a.shape[axis]))
    return np.take(a, np.arange(start, a.shape[axis]), axis=axis)


# --------------------------------------------------------------------------------------
# D_stsp


@dataclass(frozen=True)
class StspResult:
    """A D_stsp value with the settings it depends on.

    Attributes:
        value: KL(p_true || q_gen); NaN when it cannot be computed (see ``reason``).
        method: ``"bins"`` (D < 6) or ``"gmm"`` (D >= 6).
        n_points: T, points of the true orbit used (the GMM keeps the first ``max_points``).
        n_bins: bins per dimension (binning), else None.
        n_samples: Monte-Carlo samples (GMM), else None.
        stderr: Monte-Carlo standard error of ``value`` (GMM), else None.
        reason: why ``value`` is NaN, else None.
        n_gen: points of the generated orbit used (in range, for binning).
    """

    value: float
    method: str
    n_points: int
    n_bins: int | None = None
    n_samples: int | None = None
    stderr: float | None = None
    reason: str | None = None
    n_gen: int | None = None

    def __float__(self) -> float:
        return float(self.value)

    def float(self) -> float:
        """The value as a plain float."""
        return float(self.value)


def stsp_bin_edges(x_true: Any, n_bins: int = 30) -> list[np.ndarray]:
    """Bin edges of the D_stsp histogram: ``n_bins`` per dimension over
    [min - 0.1 sd, max + 0.1 sd] of the truth.

    sd is the sample standard deviation (ddof = 1, as ``torch.std`` in Hess et al.'s code).
    A constant coordinate (zero range) gets the range [value - 0.5, value + 0.5].
    """
    xt = _truth(x_true)
    if n_bins < 1:
        raise ValueError(f"n_bins must be positive, got {n_bins}")
    sd = xt.std(axis=0, ddof=1)
    lo = xt.min(axis=0) - 0.1 * sd
    hi = xt.max(axis=0) + 0.1 * sd
    flat = hi <= lo
    lo[flat] -= 0.5
    hi[flat] += 0.5
    return [np.linspace(lo[d], hi[d], n_bins + 1) for d in range(xt.shape[1])]


def _flat_bin_index(x: np.ndarray, edges: list[np.ndarray]) -> np.ndarray:
    """Flat (C-order) bin index of each in-range row of ``x``; rows out of range are dropped.

    Bins are assigned as ``np.histogramdd`` does: half-open [e_k, e_k+1), the last bin
    closed on the right. Non-finite rows are out of range.
    """
    n_bins = len(edges[0]) - 1
    flat = np.zeros(x.shape[0], dtype=np.int64)
    inside = np.ones(x.shape[0], dtype=bool)
    for d, e in enumerate(edges):
        col = x[:, d]
        idx = np.searchsorted(e, col, side="right") - 1
        idx[col == e[-1]] = n_bins - 1
        inside &= (idx >= 0) & (idx < n_bins)
        flat = flat * n_bins + idx
    return flat[inside]


def _stsp_bins(xt: np.ndarray, xg: np.ndarray, n_bins: int) -> StspResult:
    edges = stsp_bin_edges(xt, n_bins)
    dim = xt.shape[1]
    n_cells = float(n_bins) ** dim
    ft = _flat_bin_index(xt, edges)
    fg = _flat_bin_index(xg, edges)
    n_p, n_q = ft.size, fg.size
    if n_q == 0:
        return StspResult(
            math.nan,
            "bins",
            xt.shape[0],
            n_bins=n_bins,
            reason="no generated point inside the truth's histogram range",
            n_gen=0,
        )
    if n_cells <= _DENSE_BINS:
        k = int(n_cells)
        hp = np.bincount(ft, minlength=k)
        hq = np.bincount(fg, minlength=k)
        occ = np.flatnonzero(hp + hq)
        hp, hq = hp[occ], hq[occ]
    else:  # sparse: count over the occupied bins only
        occ = np.unique(np.concatenate([ft, fg]))
        hp = np.bincount(np.searchsorted(occ, ft), minlength=occ.size)
        hq = np.bincount(np.searchsorted(occ, fg), minlength=occ.size)
    a = LAPLACE_ALPHA
    log_zp = math.log(n_p + a * n_cells)
    log_zq = math.log(n_q + a * n_cells)
    log_p = np.log(hp + a) - log_zp
    log_q = np.log(hq + a) - log_zq
    kl = float(np.sum(np.exp(log_p) * (log_p - log_q)))
    # bins empty in both: p = a / Z_p, q = a / Z_q each, in closed form
    n_empty = n_cells - occ.size
    if n_empty > 0:
        log_p0 = math.log(a) - log_zp
        kl += n_empty * math.exp(log_p0) * (log_zq - log_zp)
    return StspResult(kl, "bins", xt.shape[0], n_bins=n_bins, n_gen=n_q)


@numba.njit(cache=True, fastmath={"nsz", "arcp", "contract", "afn", "reassoc"})
def _gmm_lse_kernel(samples: np.ndarray, centres_t: np.ndarray, scale: float, out: np.ndarray):
    """out[i] = log sum_j exp(-scale |samples[i] - c_j|^2), centres given as (D, n).

    Squared distances by direct differences (no cancellation), vectorised over the
    centres; terms more than 40 below the largest exponent are skipped (their total is
    below n e^-40, under 1e-13 relative for n <= 10^4), which skips most exponentials.
    """
    n_s, dim = samples.shape
    n = centres_t.shape[1]
    buf = np.empty(n)
    cut = 40.0 / scale
    for i in range(n_s):
        s0 = samples[i, 0]
        for j in range(n):
            t = s0 - centres_t[0, j]
            buf[j] = t * t
        for d in range(1, dim):
            sd = samples[i, d]
            for j in range(n):
                t = sd - centres_t[d, j]
                buf[j] += t * t
        m = buf[0]
        for j in range(n):
            m = min(m, buf[j])
        lim = m + cut
        tot = 0.0
        for j in range(n):
            v = buf[j]
            if v < lim:
                tot += math.exp(-scale * (v - m))
        out[i] = -scale * m + math.log(tot)


def _gmm_logpdf(samples: np.ndarray, centres: np.ndarray, sigma2: float) -> np.ndarray:
    """log of the equal-weight isotropic mixture density N(c_j, sigma2 I) at each sample.

    A compiled log-sum-exp over direct squared distances (no samples x centres matrix
    in memory).
    """
    n, dim = centres.shape
    out = np.empty(samples.shape[0])
    _gmm_lse_kernel(
        np.ascontiguousarray(samples, dtype=np.float64),
        np.ascontiguousarray(centres.T, dtype=np.float64),
        0.5 / sigma2,
        out,
    )
    return out - math.log(n) - 0.5 * dim * math.log(2.0 * math.pi * sigma2)


def _mixture_samples(
    centres: np.ndarray,
    n_samples: int,
    sigma2: float,
    seed: int | np.random.Generator | np.random.RandomState | None,
) -> np.ndarray:
    """Draw from the equal-weight mixture: a component at random, plus N(0, sigma2 I).

    With a legacy ``np.random.RandomState`` the draws follow the order of dysts'
    ``GaussianMixture.sample`` (``choice`` with probabilities, then one standard-normal
    vector per sample), so seeding both alike gives the same samples.
    """
    n, dim = centres.shape
    if isinstance(seed, np.random.RandomState):
        cdf = (np.ones(n) / n).cumsum()
        cdf /= cdf[-1]
        idx = cdf.searchsorted(seed.random_sample(n_samples), side="right")
        z = seed.standard_normal((n_samples, dim))
    else:
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, n, size=n_samples)
        z = rng.standard_normal((n_samples, dim))
    return centres[idx] + math.sqrt(sigma2) * z


def _stsp_gmm(
    xt: np.ndarray,
    xg: np.ndarray,
    n_samples: int,
    max_points: int,
    sigma2: float,
    seed: int | np.random.Generator | np.random.RandomState | None,
) -> StspResult:
    pt = xt[:max_points]
    pg = xg[:max_points]
    if not np.all(np.isfinite(pg)):
        return StspResult(
            math.nan,
            "gmm",
            pt.shape[0],
            n_samples=n_samples,
            reason="non-finite values in the generated orbit",
            n_gen=pg.shape[0],
        )
    samples = _mixture_samples(pt, n_samples, sigma2, seed)
    ratio = _gmm_logpdf(samples, pt, sigma2) - _gmm_logpdf(samples, pg, sigma2)
    se = float(ratio.std(ddof=1) / math.sqrt(n_samples)) if n_samples > 1 else math.nan
    return StspResult(
        float(ratio.mean()),
        "gmm",
        pt.shape[0],
        n_samples=n_samples,
        stderr=se,
        n_gen=pg.shape[0],
    )


def _stsp_one(
    x_true: Any,
    x_gen: Any,
    *,
    n_bins: int,
    n_samples: int,
    max_points: int,
    sigma2: float,
    seed: Any,
    estimator: str = "auto",
) -> StspResult:
    if estimator not in STSP_ESTIMATORS:
        raise ValueError(f"estimator must be one of {STSP_ESTIMATORS}; got {estimator!r}")
    xt = _truth(x_true)
    xg = _as_2d(x_gen, "x_gen")
    if xg.shape[1] != xt.shape[1]:
        raise ValueError(f"dimensions differ: x_true {xt.shape}, x_gen {xg.shape}")
    if xg.shape[0] == 0:
        raise ValueError("x_gen is empty")
    if estimator == "bins" or (estimator == "auto" and xt.shape[1] < GMM_MIN_DIM):
        return _stsp_bins(xt, xg, n_bins)
    return _stsp_gmm(xt, xg, n_samples, max_points, sigma2, seed)


def state_space_divergence(
    x_true: Any,
    x_gen: Any,
    *,
    n_bins: int = 30,
    n_samples: int = 1000,
    max_points: int = 10_000,
    sigma2: float = 1.0,
    seed: int | np.random.Generator | np.random.RandomState | None = 0,
    estimator: str = "auto",
) -> StspResult | list[StspResult]:
    """D_stsp = KL(p_true || q_gen) between the orbits' state-space measures (Hess et al. 2023).

    ``estimator`` ``"auto"`` picks by the dimension D as below; ``"bins"`` or ``"gmm"`` force
    one (PhyxMamba's reference evaluation uses the mixture estimate for Lorenz-63 too).

    D < 6: histograms of ``n_bins`` per dimension over [min - 0.1 sd, max + 0.1 sd] of the
    truth (:func:`stsp_bin_edges`), Laplace smoothing ``p = (h + a) / (sum h + a n_bins^D)``
    with a = 1e-5. Generated points outside that range are dropped from the generated
    histogram (its ``sum h`` counts in-range points only), as in Hess et al.'s code; if none
    is left the value is NaN with a ``reason``. Counting uses a flat bin index and
    ``np.bincount`` (dense up to 2^20 bins, otherwise over the occupied bins only); bins
    empty in both histograms enter the sum in closed form. Deviation from the reference
    code: its outlier mask keeps coordinates ``> 0`` and so drops bin 0 of every dimension;
    we keep it, as ``np.histogramdd`` does.

    D >= 6: equal-weight isotropic Gaussian mixtures (variance ``sigma2``) centred on the
    first ``min(T, max_points)`` points of each orbit; KL by Monte Carlo from ``n_samples``
    samples of the true mixture (``seed``: an int or Generator, or a legacy RandomState to
    reproduce dysts' draws), log-densities by a compiled log-sum-exp (finite where dysts' ratio of
    densities underflows). ``stderr`` is the Monte-Carlo standard error.

    Args:
        x_true: (T, D) true orbit (finite).
        x_gen: (T', D) generated orbit, or (B, T', D) for a list of results.

    Returns:
        :class:`StspResult` (a list of them for batched ``x_gen``).
    """
    batched, res = _batched(
        _stsp_one,
        x_true,
        x_gen,
        n_bins=n_bins,
        n_samples=n_samples,
        max_points=max_points,
        sigma2=sigma2,
        seed=seed,
        estimator=estimator,
    )
    return res if batched else res[0]


def d_stsp(x_true: Any, x_gen: Any, **kwargs: Any) -> float | np.ndarray:
    """:func:`state_space_divergence` as a float ((B,) array for batched ``x_gen``)."""
    res = state_space_divergence(x_true, x_gen, **kwargs)
    if isinstance(res, list):
        return np.array([r.value for r in res])
    return res.value


# --------------------------------------------------------------------------------------
# D_H


def smoothed_power_spectrum(x: Any, *, smoothing: float = 20) -> np.ndarray:
    """The spectra D_H compares (Mikhaeil et al. 2022): per coordinate of ``x (T, D)``,
    z-score, |rfft|^2, Gaussian smoothing with sigma = ``smoothing`` frequency bins
    (``scipy.ndimage.gaussian_filter1d``, reflecting boundaries), clip at 0, normalise to
    sum 1. Returns ``(T // 2 + 1, D)`` (frequencies ``np.fft.rfftfreq(T, dt)``); a constant
    coordinate has no spectrum: its column is NaN.
    """
    x = _as_2d(x, "x")
    sd = x.std(axis=0)
    z = x - x.mean(axis=0)
    ok = sd > 0
    z[:, ok] /= sd[ok]
    power = np.abs(np.fft.rfft(z, axis=0)) ** 2
    if smoothing > 0:
        power = gaussian_filter1d(power, smoothing, axis=0)
    np.clip(power, 0.0, None, out=power)
    total = power.sum(axis=0)
    good = ok & (total > 0)
    power[:, good] /= total[good]
    power[:, ~good] = np.nan
    return power


def spectrum_hellinger_distance(p: np.ndarray, q: np.ndarray) -> float:
    """D_H from two sets of spectra of :func:`smoothed_power_spectrum` (same length):
    per coordinate the Hellinger distance H = sqrt(1 - sum sqrt(p q)), mean over
    coordinates. A constant coordinate (a NaN column) scores 0 against a constant one and
    1 against anything else."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(f"spectra differ in shape: {p.shape} and {q.shape}")
    h = np.empty(p.shape[1])
    for d in range(p.shape[1]):
        pn, qn = np.isnan(p[0, d]), np.isnan(q[0, d])
        if pn or qn:  # a constant coordinate: 0 against constant, 1 against anything else
            h[d] = 0.0 if (pn and qn) else 1.0
        else:
            bc = float(np.sum(np.sqrt(p[:, d] * q[:, d])))
            h[d] = math.sqrt(max(0.0, 1.0 - bc))
    return float(h.mean())


def _dh_one(x_true: Any, x_gen: Any, *, smoothing: float) -> float:
    xt = _truth(x_true)
    xg = _as_2d(x_gen, "x_gen")
    if xg.shape[1] != xt.shape[1]:
        raise ValueError(f"dimensions differ: x_true {xt.shape}, x_gen {xg.shape}")
    n = min(xt.shape[0], xg.shape[0])
    if n < 2:
        raise ValueError("need at least 2 time points in both series")
    if not np.all(np.isfinite(xg[:n])):
        return 1.0
    return spectrum_hellinger_distance(
        smoothed_power_spectrum(xt[:n], smoothing=smoothing),
        smoothed_power_spectrum(xg[:n], smoothing=smoothing),
    )


def power_spectrum_distance(
    x_true: Any, x_gen: Any, *, smoothing: float = 20
) -> float | np.ndarray:
    """D_H: Hellinger distance between smoothed power spectra, mean over dimensions.

    Mikhaeil et al. 2022 (NeurIPS), as in docs/metrics.md: per dimension z-score,
    |rfft|^2, Gaussian smoothing with sigma = ``smoothing`` frequency bins
    (``scipy.ndimage.gaussian_filter1d``, reflecting boundaries), clip at 0, normalise to
    sum 1 (:func:`smoothed_power_spectrum`), H = sqrt(1 - sum sqrt(p q))
    (:func:`spectrum_hellinger_distance`). Both series are truncated to the shorter length so
    that the frequency bins match. Non-finite generations give 1; a constant coordinate
    gives 1 against a varying one, 0 against a constant one. No frequency cut-off (the
    definition in docs/metrics.md has none). Scale- and shift-invariant per coordinate.

    Returns:
        D_H in [0, 1] (a (B,) array for batched ``x_gen``).
    """
    batched, res = _batched(_dh_one, x_true, x_gen, smoothing=smoothing)
    return np.array(res) if batched else res[0]


# --------------------------------------------------------------------------------------
# correlation dimension


def correlation_dimension(
    x: Any,
    *,
    n_points: int = 2000,
    seed: int | np.random.Generator | None = 0,
    c_range: tuple[float, float] = (1e-3, 3e-2),
    n_radii: int = 20,
    theiler: int = 0,
) -> float:
    """Grassberger-Procaccia correlation dimension D2 (Grassberger & Procaccia 1983).

    ``n_points`` points drawn at random without replacement (``seed``; all of them if T
    is smaller), all their pairwise Euclidean distances (pairs at most ``theiler`` samples
    apart in the original series excluded), the correlation sum C(r) = fraction of pairs
    closer than r at ``n_radii`` log-spaced radii, and the least-squares slope of log C
    against log r.

    Scaling region: the radii between the distance quantiles ``c_range`` (C from 1e-3 to
    3e-2 by default), i.e. small enough to stay below the attractor's size and large
    enough that C rests on >= 0.1 % of the pairs (2000 pairs at the default n_points).
    On Lorenz-63 (10^5 points at dt = 0.01) this gives 2.03 to 2.09 across subsamples
    (literature 2.05; dysts' metadata 1.99).

    Returns:
        D2; 0.0 if all points coincide (a fixed point); NaN if too few distinct pairs.
    """
    a = _as_2d(x, "x")
    a = a[np.all(np.isfinite(a), axis=1)]
    t = a.shape[0]
    if t < 3:
        return math.nan
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(t, n_points, replace=False)) if t > n_points else np.arange(t)
    d = pdist(a[idx])
    if theiler > 0:
        i, j = np.triu_indices(idx.size, k=1)
        d = d[np.abs(idx[i] - idx[j]) > theiler]
    d = np.sort(d[d > 0])
    if d.size == 0:
        return 0.0
    lo_q, hi_q = c_range
    r_lo = d[min(d.size - 1, int(lo_q * d.size))]
    r_hi = d[min(d.size - 1, int(hi_q * d.size))]
    if not r_hi > r_lo:
        return math.nan
    r = np.geomspace(r_lo, r_hi, n_radii)
    c = np.searchsorted(d, r, side="left") / d.size
    keep = c > 0
    if keep.sum() < 3:
        return math.nan
    return float(np.polyfit(np.log(r[keep]), np.log(c[keep]), 1)[0])


def correlation_dimension_error(x_true: Any, x_gen: Any, **kwargs: Any) -> float:
    """|D2(gen) - D2(true)| ("D_frac" in PhyxMamba); kwargs go to both estimates."""
    return abs(correlation_dimension(x_gen, **kwargs) - correlation_dimension(x_true, **kwargs))


# --------------------------------------------------------------------------------------
# Rosenstein


def _mean_period(x: np.ndarray) -> float:
    """Mean period in samples: 1 / power-weighted mean frequency, averaged over dims."""
    z = x - x.mean(axis=0)
    power = np.abs(np.fft.rfft(z, axis=0)) ** 2
    power[0] = 0.0
    freqs = np.fft.rfftfreq(x.shape[0])
    total = power.sum(axis=0)
    ok = total > 0
    if not np.any(ok):
        return 1.0
    f_mean = (freqs @ power[:, ok]) / total[ok]
    return float(np.mean(1.0 / f_mean))


def rosenstein_curve(
    x: Any,
    *,
    min_separation: int | None = None,
    n_steps: int | None = None,
    n_ref: int = 2000,
    seed: int | np.random.Generator | None = 0,
) -> tuple[np.ndarray, int]:
    """Mean log distance <ln d_j(i)> of nearest-neighbour pairs after i = 0..n_steps-1 steps.

    Returns the curve and the ``min_separation`` used. See :func:`rosenstein_lyapunov`.
    """
    a = _as_2d(x, "x")
    if not np.all(np.isfinite(a)):
        raise ValueError("x has non-finite values")
    t = a.shape[0]
    if min_separation is None:
        min_separation = int(math.ceil(_mean_period(a)))
    w = max(0, int(min_separation))
    if n_steps is None:
        n_steps = min(10 * max(w, 1), t // 4)
    n_steps = int(n_steps)
    usable = t - n_steps
    if n_steps < 2 or usable < 2 * w + 2:
        raise ValueError(f"series too short ({t} points) for n_steps={n_steps}, min_separation={w}")
    pts = a[:usable]
    rng = np.random.default_rng(seed)
    refs = (
        np.sort(rng.choice(usable, n_ref, replace=False)) if usable > n_ref else np.arange(usable)
    )
    # at most 2w + 1 candidates lie in the temporal window, so 2w + 2 neighbours suffice
    k = min(usable, 2 * w + 2)
    dist, nbr = cKDTree(pts).query(pts[refs], k=k)
    if k == 1:
        dist, nbr = dist[:, None], nbr[:, None]
    ok = (np.abs(nbr - refs[:, None]) > w) & (dist > 0)
    has = ok.any(axis=1)
    first = ok.argmax(axis=1)
    refs = refs[has]
    nn = nbr[has, first[has]]
    if refs.size == 0:
        raise ValueError("no admissible nearest neighbours")
    curve = np.empty(n_steps)
    for i in range(n_steps):  # one step at a time: memory O(n_ref), not O(n_ref n_steps)
        diff = a[refs + i] - a[nn + i]
        d = np.sqrt(np.einsum("rd,rd->r", diff, diff))
        d = d[d > 0]
        curve[i] = np.log(d).mean() if d.size else np.nan
    return curve, w


def rosenstein_lyapunov(
    x: Any,
    *,
    dt: float,
    min_separation: int | None = None,
    n_steps: int | None = None,
    n_ref: int = 2000,
    fit_fraction: tuple[float, float] = (0.2, 0.7),
    seed: int | np.random.Generator | None = 0,
) -> float:
    """Largest Lyapunov exponent of a series by Rosenstein et al. (1993), per unit time.

    For ``n_ref`` random reference points (``seed``) the nearest neighbour in state space
    at least ``min_separation`` samples away in time (default: the mean period,
    1 / power-weighted mean frequency, as Rosenstein et al. suggest), then the mean over
    pairs of ln d_j(i) for i = 0..n_steps-1 (default ``10 * min_separation``, at most
    T / 4). The exponent is the least-squares slope of that curve divided by ``dt``.

    Linear region: the curve rises from y0 = y(0) to a plateau y_sat (mean of its last
    fifth); the fit uses the first stretch between y0 + ``fit_fraction[0]`` (y_sat - y0)
    and y0 + ``fit_fraction[1]`` (y_sat - y0), skipping the initial alignment phase and the
    saturation. If the curve rises by less than one e-fold (no exponential separation,
    e.g. a periodic or quasi-periodic orbit) the slope over the whole curve is returned,
    which is close to 0. A scalar series must be delay-embedded by the caller.

    Returns:
        lambda_max in inverse time units.
    """
    y, _ = rosenstein_curve(
        x, min_separation=min_separation, n_steps=n_steps, n_ref=n_ref, seed=seed
    )
    i = np.arange(y.size)
    good = np.isfinite(y)
    y0 = y[0]
    y_sat = float(np.nanmean(y[-max(1, y.size // 5) :]))
    rise = y_sat - y0
    if rise < 1.0:
        return float(np.polyfit(i[good], y[good], 1)[0] / dt)
    lo = y0 + fit_fraction[0] * rise
    hi = y0 + fit_fraction[1] * rise
    start = int(np.argmax(y >= lo))
    stop = start + int(np.argmax(y[start:] >= hi)) if np.any(y[start:] >= hi) else y.size
    sel = slice(start, max(stop + 1, start + 3))
    return float(np.polyfit(i[sel][good[sel]], y[sel][good[sel]], 1)[0] / dt)


# --------------------------------------------------------------------------------------
# divergence and the whole protocol


@dataclass(frozen=True)
class Divergence:
    """Outcome of :func:`check_divergence`."""

    diverged: bool
    reason: str | None = None
    first_index: int | None = None


#: Floors on the extent of each coordinate's divergence box (:func:`check_divergence`):
#: relative to the coordinate's magnitude, and absolute.
BOX_REL_FLOOR = 0.01
BOX_ABS_FLOOR = 1e-6


def box_half_width(
    x_true: Any, *, box_factor: float = 10.0, scale: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Centre and half-width of the divergence box per coordinate (docs/metrics.md).

    Half-width ``box_factor / 2 * extent`` with ``extent`` the largest of: the truth's range
    (max - min); ``scale`` (e.g. the range of the whole dataset pool, so that a truth resting
    on an equilibrium still has an attractor-sized box); :data:`BOX_REL_FLOOR` x the largest
    |value| of the coordinate in the truth; :data:`BOX_ABS_FLOOR`. The box can therefore never
    be degenerate: a generation equal to the truth (or any true trajectory of a pool within
    ``scale``) never leaves it.
    """
    xt = _truth(x_true)
    lo, hi = xt.min(axis=0), xt.max(axis=0)
    extent = np.maximum(hi - lo, BOX_REL_FLOOR * np.maximum(np.abs(lo), np.abs(hi)))
    if scale is not None:
        sc = np.broadcast_to(np.asarray(scale, dtype=float), extent.shape)
        extent = np.maximum(extent, np.nan_to_num(np.abs(sc)))
    extent = np.maximum(extent, BOX_ABS_FLOOR)
    return 0.5 * (lo + hi), 0.5 * box_factor * extent


def check_divergence(
    x_gen: Any, x_true: Any, *, box_factor: float = 10.0, scale: Any = None
) -> Divergence:
    """Flag a generation as diverged (docs/metrics.md): non-finite values, or leaving the box.

    The box is centred on the midpoint of the truth's range per dimension with half-width
    ``box_factor * extent / 2`` (:func:`box_half_width`: the truth's range, floored by
    ``scale``, by 1 % of the coordinate's magnitude and by an absolute 1e-6).
    ``first_index`` is the first time index at fault.
    """
    xt = _truth(x_true)
    xg = _as_2d(x_gen, "x_gen")
    if xg.shape[1] != xt.shape[1]:
        return Divergence(True, f"dimension {xg.shape[1]} != truth's {xt.shape[1]}", None)
    bad = ~np.all(np.isfinite(xg), axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        return Divergence(True, f"non-finite values from index {i}", i)
    centre, half = box_half_width(xt, box_factor=box_factor, scale=scale)
    out = np.any(np.abs(xg - centre) > half, axis=1)
    if out.any():
        i = int(np.argmax(out))
        return Divergence(
            True, f"left the box of {box_factor:g} x the attractor's extent at index {i}", i
        )
    return Divergence(False, None, None)


def long_term_metrics(
    x_true: Any,
    x_gen: Any,
    *,
    dt: float,
    n_bins: int = 30,
    n_samples: int = 1000,
    max_points: int = 10_000,
    sigma2: float = 1.0,
    smoothing: float = 20,
    box_factor: float = 10.0,
    correlation_points: int = 2000,
    lyapunov: bool = False,
    seed: int = 0,
    scale: Any = None,
) -> dict[str, Any] | list[dict[str, Any]]:
    """All long-term metrics of one generation against the truth (docs/metrics.md).

    ``x_gen`` should already have its transient dropped (:func:`drop_transient`).
    :func:`check_divergence` runs first (``scale``: the floor on its box, e.g. the
    dataset pool's range per coordinate): a diverged generation returns ``status =
    "diverged"``, its ``reason`` and ``first_index``, D_H = 1 and D_stsp = NaN; a
    generation of the wrong shape or shorter than 2 points returns ``status = "invalid"``
    with the same values. Otherwise ``status = "ok"`` with D_stsp (``D_stsp_method``,
    ``n_points`` = T of the truth used, ``n_gen``, ``D_stsp_stderr`` for the GMM), D_H, D2
    of both and ``D_frac`` = |D2(gen) - D2(true)|, and with ``lyapunov=True`` Rosenstein
    estimates of both (``lambda_true``, ``lambda_gen``, per unit time with step ``dt``).
    Bad model output never raises; a bad truth does.
    """
    gen = np.asarray(x_gen)
    if gen.ndim == 3:
        x_true = np.asarray(x_true)
        return [
            long_term_metrics(
                x_true[b] if np.ndim(x_true) == 3 else x_true,
                gen[b],
                dt=dt,
                n_bins=n_bins,
                n_samples=n_samples,
                max_points=max_points,
                sigma2=sigma2,
                smoothing=smoothing,
                box_factor=box_factor,
                correlation_points=correlation_points,
                lyapunov=lyapunov,
                seed=seed,
                scale=scale,
            )
            for b in range(gen.shape[0])
        ]
    xt = _truth(x_true)
    failed: dict[str, Any] = {
        "D_stsp": math.nan,
        "D_H": 1.0,
        "D_frac": math.nan,
        "n_points": xt.shape[0],
    }
    try:
        xg = _as_2d(gen, "x_gen")
    except (ValueError, TypeError) as err:
        return {**failed, "status": "invalid", "reason": str(err), "first_index": None}
    if xg.shape[1] != xt.shape[1] or xg.shape[0] < 2:
        reason = f"generated shape {xg.shape} does not fit the truth's {xt.shape}"
        return {**failed, "status": "invalid", "reason": reason, "first_index": None}
    div = check_divergence(xg, xt, box_factor=box_factor, scale=scale)
    if div.diverged:
        return {
            **failed,
            "status": "diverged",
            "reason": div.reason,
            "first_index": div.first_index,
        }
    stsp = state_space_divergence(
        xt, xg, n_bins=n_bins, n_samples=n_samples, max_points=max_points, sigma2=sigma2, seed=seed
    )
    assert isinstance(stsp, StspResult)
    d2_true = correlation_dimension(xt, n_points=correlation_points, seed=seed)
    d2_gen = correlation_dimension(xg, n_points=correlation_points, seed=seed)
    out: dict[str, Any] = {
        "status": "ok",
        "reason": stsp.reason,
        "first_index": None,
        "D_stsp": stsp.value,
        "D_stsp_method": stsp.method,
        "D_stsp_stderr": stsp.stderr,
        "n_points": stsp.n_points,
        "n_gen": xg.shape[0],
        "D_H": power_spectrum_distance(xt, xg, smoothing=smoothing),
        "D2_true": d2_true,
        "D2_gen": d2_gen,
        "D_frac": abs(d2_gen - d2_true),
    }
    if lyapunov:
        for key, series in (("lambda_true", xt), ("lambda_gen", xg)):
            try:
                out[key] = rosenstein_lyapunov(series, dt=dt, seed=seed)
            except ValueError:  # too short
                out[key] = math.nan
    return out
