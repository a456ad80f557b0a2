"""Ridge vector autoregression (VAR(p)), the linear baseline.

On standardised data, ``x_{t+1} = x_t * [increments] + c + sum_{k=1..p} A_k x_{t+1-k}``
with the coefficients from one ridge regression (closed form, intercept not penalised);
forecasts iterate the fitted map. The state of the map is the stack of the last ``p``
observations, so its Jacobian is the companion matrix (Lutkepohl 2005, ch. 2).
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
import xarray as xr

from dsrbench.methods.base import (
    Method,
    RunFiles,
    check_context,
    load_arrays,
    save_arrays,
    training_arrays,
)


def lagged_design(x: np.ndarray, lags: int) -> tuple[np.ndarray, np.ndarray]:
    """``(features (S, 1 + lags*D), targets (S, D))`` from trajectories ``x (N, T, D)``:
    features [1, x_t, x_{t-1}, ..., x_{t-p+1}], target x_{t+1}."""
    n, t, d = x.shape
    rows = []
    for k in range(lags):
        rows.append(x[:, lags - 1 - k : t - 1 - k])
    lagged = np.concatenate(rows, axis=2).reshape(-1, lags * d)
    ones = np.ones((lagged.shape[0], 1))
    return np.hstack([ones, lagged]), x[:, lags:].reshape(-1, d)


def ridge_solve(features: np.ndarray, targets: np.ndarray, ridge: float) -> np.ndarray:
    """Ridge coefficients ``(F, D)``; the first (constant) feature is not penalised."""
    penalty = np.full(features.shape[1], ridge)
    penalty[0] = 0.0
    gram = features.T @ features + np.diag(penalty)
    return np.linalg.solve(gram, features.T @ targets)


class VectorAutoregression(Method):
    """Ridge VAR(p) on standardised coordinates, optionally predicting increments."""

    name = "var"
    hyperparameters: ClassVar[dict[str, Any]] = {"lags": 5, "ridge": 1e-6, "increments": True}
    quick_hyperparameters: ClassVar[dict[str, Any]] = {}
    has_jacobian = True

    def fit(
        self,
        train: xr.Dataset,
        val: xr.Dataset | None = None,
        *,
        device: str = "auto",
        seed: int = 0,
        budget: float | None = None,
        run: RunFiles | None = None,
    ) -> Self:
        p = int(self.params["lags"])
        if p < 1:
            raise ValueError("var: lags must be >= 1")
        x, _, self.mean_, self.std_ = training_arrays(train, val)
        features, targets = lagged_design(x, p)
        if self.params["increments"]:
            targets = targets - features[:, 1 : 1 + x.shape[2]]
        self.coef_ = ridge_solve(features, targets, float(self.params["ridge"]))
        return self

    # -- the map on the stacked state [x_t, x_{t-1}, ..., x_{t-p+1}] (standardised) -----
    def _next(self, state: np.ndarray) -> np.ndarray:
        d = self.mean_.size
        nxt = self.coef_[0] + state @ self.coef_[1:]
        if self.params["increments"]:
            nxt = nxt + state[:, :d]
        return nxt

    def step(self, state: np.ndarray) -> np.ndarray:
        state = np.asarray(state, dtype=np.float64)
        d = self.mean_.size
        return np.concatenate([self._next(state), state[:, :-d]], axis=1)

    def jacobian(self, state: np.ndarray) -> np.ndarray:
        state = np.asarray(state, dtype=np.float64)
        d, m = self.mean_.size, state.shape[1]
        jac = np.zeros((m, m))
        jac[:d] = self.coef_[1:].T
        if self.params["increments"]:
            jac[:d, :d] += np.eye(d)
        jac[d:, :-d] = np.eye(m - d)
        return np.broadcast_to(jac, (state.shape[0], m, m)).copy()

    def initial_state(self, context: np.ndarray) -> np.ndarray:
        ctx = (check_context(context) - self.mean_) / self.std_
        p = int(self.params["lags"])
        if ctx.shape[1] < p:  # pad a short context with its first point
            pad = np.repeat(ctx[:, :1], p - ctx.shape[1], axis=1)
            ctx = np.concatenate([pad, ctx], axis=1)
        return ctx[:, ::-1][:, :p].reshape(ctx.shape[0], -1)

    def forecast(self, context: np.ndarray, horizon: int) -> np.ndarray:
        state = self.initial_state(context)
        d = self.mean_.size
        out = np.empty((state.shape[0], horizon, d))
        with np.errstate(all="ignore"):
            for k in range(horizon):
                state = self.step(state)
                out[:, k] = state[:, :d]
        return out * self.std_ + self.mean_

    def save(self, directory: Any) -> None:
        super().save(directory)
        save_arrays(directory, coef=self.coef_, mean=self.mean_, std=self.std_)

    @classmethod
    def load(cls, directory: Any) -> Self:
        model = super().load(directory)
        arrays = load_arrays(directory)
        model.coef_, model.mean_, model.std_ = arrays["coef"], arrays["mean"], arrays["std"]
        return model
