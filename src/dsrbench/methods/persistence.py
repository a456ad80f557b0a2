"""Persistence: repeat the last observed state (the naive forecast of Gilpin 2023)."""

from __future__ import annotations

import numpy as np

from dsrbench.methods.base import Method, check_context


class Persistence(Method):
    """x_{t+k} = x_t for every k: scores badly on every metric, by design."""

    name = "persistence"
    label = "persistence"
    color = "#bcbd22"
    needs_fit = False

    def forecast(self, context: np.ndarray, horizon: int) -> np.ndarray:
        ctx = check_context(context)
        return np.repeat(ctx[:, -1:, :], horizon, axis=1)
