"""Least-squares linear regression on the last `lags` values of every coordinate.

Gilpin 2023 grid: lags in [3, 5, 10, 25]. Citation: darts' LinearRegressionModel (least
squares on lagged values; Herzen et al., JMLR 2022).
"""

from __future__ import annotations

from typing import Any, ClassVar

from dsrbench.methods._darts import LagRegressionDarts


class LinearRegression(LagRegressionDarts):
    """Least-squares linear regression on the last `lags` values of every coordinate."""

    name = "linear_regression"
    label = "linear regression"
    color = "#8c6d31"
    darts_class = "LinearRegressionModel"
    citation = (
        "darts' LinearRegressionModel (least squares on lagged values; Herzen et al., JMLR 2022)"
    )
    hyperparameters: ClassVar[dict[str, Any]] = {"lags": 10, "output_chunk_length": 1}
    quick_hyperparameters: ClassVar[dict[str, Any]] = {"lags": 5}
    grid: ClassVar[dict[str, list[Any]]] = {"lags": [3, 5, 10, 25]}
