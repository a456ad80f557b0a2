"""Mean: predict the training mean at every step (the climatology forecast)."""

from __future__ import annotations

from typing import Self

import numpy as np
import xarray as xr

from dsrbench.methods.base import DEFAULT_CONTEXT, FitContext, Method, check_context


class Mean(Method):
    """x_{t+k} = mean of the training data, per coordinate."""

    name = "mean"
    label = "mean"
    color = "#393b79"
    needs_fit = True  # the training mean: predicted only by a model its train job saved
    fitted_arrays = ("mean",)

    def fit(
        self, train: xr.Dataset, val: xr.Dataset | None = None, ctx: FitContext = DEFAULT_CONTEXT
    ) -> Self:
        self.mean_ = np.asarray(train["x"].mean(dim=("trajectory", "time")).values, dtype=float)
        return self

    def forecast(self, context: np.ndarray, horizon: int) -> np.ndarray:
        ctx = check_context(context)
        return np.broadcast_to(self.mean_, (ctx.shape[0], horizon, ctx.shape[2])).copy()
