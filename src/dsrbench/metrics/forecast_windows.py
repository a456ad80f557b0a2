"""Attractor metrics on the forecast windows themselves: the variants of PhyxMamba's
reference evaluation (Liu et al. 2025, arXiv:2505.23863; docs/metrics.md, "Metrics on
forecast windows").

dsrbench's own D_stsp, D_frac and D_H compare a long free run of the model with a long
true run (:mod:`dsrbench.metrics.attractor`). PhyxMamba's evaluation instead scores each
short forecast (300 steps) against the true continuation of its context, and averages over
forecasts after dropping those whose D_stsp is 40 or more, or NaN. Per forecast window:

* VPT: the cumulative-sMAPE rule (threshold 30 on the 0-200 scale,
  :func:`dsrbench.metrics.forecast.valid_prediction_time`), capped at the window length;
* sMAPE (0-200) over the first 1, 4 and 10 Lyapunov times;
* D_stsp: the Gaussian-mixture KL(p_true || p_pred) with one isotropic unit-variance
  component per point, estimated from ``n_samples`` (1000) draws of the true mixture
  (:func:`dsrbench.metrics.attractor.state_space_divergence` with ``estimator="gmm"``), on
  coordinates z-scored by the given mean and standard deviation;
* the Grassberger-Procaccia correlation dimension of the true and of the predicted window
  (:func:`dsrbench.metrics.attractor.correlation_dimension`).

:func:`summarise_windows` averages them, D_frac being the root mean square of the
differences of the two dimensions over the kept windows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from dsrbench.metrics.attractor import correlation_dimension, state_space_divergence
from dsrbench.metrics.forecast import smape_at_horizons, valid_prediction_time

__all__ = ["STSP_LIMIT", "WindowScores", "summarise_windows", "window_scores"]

#: PhyxMamba's evaluation drops forecasts whose D_stsp is at least this (or NaN)
STSP_LIMIT = 40.0


@dataclass(frozen=True)
class WindowScores:
    """Per-window scores, each an array over the B forecast windows."""

    vpt: np.ndarray
    smape: dict[float, np.ndarray]
    d_stsp: np.ndarray
    dim_true: np.ndarray
    dim_pred: np.ndarray


def window_scores(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    steps_per_lyapunov_time: float,
    mean: np.ndarray,
    std: np.ndarray,
    horizons: Iterable[float] = (1, 4, 10),
    n_samples: int = 1000,
    seed: int = 0,
) -> WindowScores:
    """Scores of the forecasts ``y_pred (B, H, D)`` against the truth ``y_true (B, H, D)``
    (module doc); ``mean`` and ``std`` (D,) z-score both before D_stsp. The draws of window b
    are seeded by ``(seed, b)``."""
    yt = np.asarray(y_true, dtype=float)
    yp = np.asarray(y_pred, dtype=float)
    if yt.ndim != 3 or yt.shape != yp.shape:
        raise ValueError(
            f"need y_true and y_pred of one shape (B, H, D); got {yt.shape}, {yp.shape}"
        )
    std = np.where(np.asarray(std, dtype=float) > 0, std, 1.0)
    with np.errstate(all="ignore"):
        vpt = np.asarray(
            valid_prediction_time(yt, yp, steps_per_lyapunov_time=steps_per_lyapunov_time),
            dtype=float,
        ).reshape(-1)
        vpt = np.minimum(vpt, yt.shape[1] / steps_per_lyapunov_time)
        smape = {
            h: np.asarray(v, dtype=float).reshape(-1)
            for h, v in smape_at_horizons(
                yt,
                yp,
                steps_per_lyapunov_time=steps_per_lyapunov_time,
                horizons=horizons,
                scale=200,
            ).items()
        }
    zt, zp = (yt - mean) / std, (yp - mean) / std
    kl = np.array(
        [
            state_space_divergence(
                zt[b], zp[b], estimator="gmm", n_samples=n_samples, seed=[seed, b]
            ).value
            for b in range(yt.shape[0])
        ]
    )
    dims = [(correlation_dimension(yt[b]), _dimension(yp[b])) for b in range(yt.shape[0])]
    return WindowScores(
        vpt=vpt,
        smape=smape,
        d_stsp=kl,
        dim_true=np.array([d[0] for d in dims]),
        dim_pred=np.array([d[1] for d in dims]),
    )


def _dimension(x: np.ndarray) -> float:
    """The correlation dimension of a forecast; NaN where it has non-finite values."""
    return correlation_dimension(x) if np.all(np.isfinite(x)) else math.nan


def summarise_windows(
    scores: WindowScores | list[WindowScores], *, filtered: bool, limit: float = STSP_LIMIT
) -> dict[str, float]:
    """Means over the windows (of several systems' or seeds' scores pooled): ``vpt``,
    ``smape@<h>``, ``d_stsp``, ``d_frac`` (root mean square of dim_pred - dim_true) and
    ``n`` / ``n_total``. With ``filtered``, only windows with a finite D_stsp below ``limit``
    count, as in PhyxMamba's evaluation; NaN values otherwise are skipped."""
    parts = scores if isinstance(scores, list) else [scores]
    if not parts:
        raise ValueError("no window scores to summarise")
    vpt = np.concatenate([s.vpt for s in parts])
    kl = np.concatenate([s.d_stsp for s in parts])
    diff = np.concatenate([s.dim_pred - s.dim_true for s in parts])
    keep = np.isfinite(kl) & (kl < limit) if filtered else np.ones(kl.shape, bool)
    out = {"n": float(keep.sum()), "n_total": float(keep.size)}

    def mean(v: np.ndarray) -> float:
        v = v[keep]
        v = v[np.isfinite(v)]
        return float(v.mean()) if v.size else math.nan

    out["vpt"] = mean(vpt)
    for h in parts[0].smape:
        out[f"smape@{h:g}"] = mean(np.concatenate([s.smape[h] for s in parts]))
    out["d_stsp"] = mean(kl)
    sq = diff[keep]
    sq = sq[np.isfinite(sq)]
    out["d_frac"] = float(np.sqrt(np.mean(sq**2))) if sq.size else math.nan
    return out
