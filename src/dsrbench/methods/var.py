"""VAR: ridge vector autoregression on the standardised observations.

x_{t+1} = c + sum_{k=1..p} A_k x_{t+1-k} (Luetkepohl 2005, *New Introduction to Multiple
Time Series Analysis*, ch. 3), fitted in closed form by ridge regression with an
unpenalised intercept (the estimator of scikit-learn's ``Ridge(fit_intercept=True)``:
centre the design and the targets, solve (X^T X + ridge I) W = X^T Y, c = y_bar - x_bar W).
With ``increments`` the regression target is x_{t+1} - x_t, so the ridge shrinks towards
persistence instead of towards zero (as NG-RC does, Gauthier et al. 2021). Gilpin 2023
tunes ``lags`` in {3, 5, 10, 25} for its LinearRegression baseline.

The internal state of :meth:`step` is the stack of the last ``lags`` standardised states
(newest first); its Jacobian is the constant companion matrix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import xarray as xr

from dsrbench.methods.base import (
    DEFAULT_CONTEXT,
    FitContext,
    HyperparameterError,
    Method,
    check_context,
)


def lagged_design(x: np.ndarray, lags: int) -> tuple[np.ndarray, np.ndarray]:
    """``(features, targets)`` of a VAR(``lags``) on trajectories ``x (N, T, D)``.

    A feature row is ``[1, x_t, x_{t-1}, ..., x_{t-lags+1}]`` (newest lag first,
    ``1 + lags * D`` columns), its target the next state ``x_{t+1}``.
    """
    n, t, d = x.shape
    if t <= lags:
        raise ValueError(f"trajectories of {t} points are too short for {lags} lags")
    taps = np.concatenate([x[:, lags - 1 - k : t - 1 - k] for k in range(lags)], axis=-1)
    taps = taps.reshape(-1, lags * d)
    feats = np.concatenate([np.ones((taps.shape[0], 1)), taps], axis=1)
    return feats, x[:, lags:].reshape(-1, d)


def ridge_with_intercept(design: np.ndarray, target: np.ndarray, ridge: float) -> np.ndarray:
    """``W (1 + F, D)``, row 0 the intercept c, minimising ||Y - c - X W||^2 + ridge ||W||^2
    with c unpenalised (``design (S, F)`` without the constant column)."""
    x_mean = design.mean(axis=0)
    y_mean = target.mean(axis=0)
    xc = design - x_mean
    gram = xc.T @ xc + ridge * np.eye(design.shape[1])
    coef = np.linalg.solve(gram, xc.T @ (target - y_mean))
    return np.concatenate([(y_mean - x_mean @ coef)[None], coef], axis=0)


class VAR(Method):
    """Ridge vector autoregression with ``lags`` lags on standardised data."""

    name = "var"
    label = "ridge VAR"
    color = "#8c564b"
    hyperparameters: ClassVar[dict[str, Any]] = {"lags": 5, "ridge": 1e-6, "increments": True}
    quick_hyperparameters: ClassVar[dict[str, Any]] = {}
    fitted_arrays = ("coef", "mean", "std")

    def _check(self) -> None:
        if int(self.params["lags"]) < 1:
            raise HyperparameterError(f"lags must be >= 1, got {self.params['lags']}")
        if float(self.params["ridge"]) < 0:
            raise HyperparameterError(f"ridge must be >= 0, got {self.params['ridge']}")

    def fit(
        self,
        train: xr.Dataset,
        val: xr.Dataset | None = None,
        ctx: FitContext = DEFAULT_CONTEXT,
    ) -> Self:
        self._check()
        x, _ = self.fit_scale(train, val)
        d = x.shape[2]
        feats, nxt = lagged_design(x, int(self.params["lags"]))
        target = nxt - feats[:, 1 : 1 + d] if self.params["increments"] else nxt
        self._set(ridge_with_intercept(feats[:, 1:], target, float(self.params["ridge"])))
        return self

    def _set(self, coef: np.ndarray) -> None:
        #: regression coefficients (1 + lags * D, D): row 0 the intercept, then the lags,
        #: newest first (of the increment x_{t+1} - x_t when ``increments``)
        self.coef_ = coef
        d = coef.shape[1]
        lags = int(self.params["lags"])
        #: the map x_{t+1} = c + [A_1, ..., A_p] [x_t; ...; x_{t-p+1}]: c and (D, lags * D)
        self.intercept_ = coef[0].copy()
        self.map_coef_ = coef[1:].T.copy()
        if self.params["increments"]:
            self.map_coef_[:, :d] += np.eye(d)
        companion = np.zeros((lags * d, lags * d))
        companion[:d] = self.map_coef_
        companion[d:, :-d] = np.eye((lags - 1) * d)
        #: the companion matrix: the Jacobian of the map on z = [x_t; ...; x_{t-p+1}]
        self.companion_ = companion

    def initial_state(self, context: np.ndarray) -> np.ndarray:
        """The last ``lags`` standardised states, newest first (a context shorter than
        ``lags`` is padded by repeating its first point)."""
        ctx = self.to_model(check_context(context))
        lags = int(self.params["lags"])
        if ctx.shape[1] < lags:
            pad = np.repeat(ctx[:, :1], lags - ctx.shape[1], axis=1)
            ctx = np.concatenate([pad, ctx], axis=1)
        return ctx[:, ::-1][:, :lags].reshape(ctx.shape[0], -1)

    def step(self, state: np.ndarray) -> np.ndarray:
        d = self.coef_.shape[1]
        nxt = state @ self.map_coef_.T + self.intercept_
        return np.concatenate([nxt, state[:, :-d]], axis=1)

    def jacobian(self, state: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.companion_, (state.shape[0], *self.companion_.shape)).copy()

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        method = super().load(directory)
        method._set(method.coef_)  # the derived map
        return method
