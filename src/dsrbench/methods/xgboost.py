"""Gradient-boosted trees (xgboost, its defaults) on the last `lags` values of every
coordinate.

Gilpin 2023 grid: lags in [3, 5, 10, 25]. Citation: Chen & Guestrin, XGBoost, KDD 2016.
"""

from __future__ import annotations

from typing import Any, ClassVar

from dsrbench.methods._darts import LagRegressionDarts


class XGBoost(LagRegressionDarts):
    """Gradient-boosted trees (xgboost, its defaults) on the last `lags` values of every
    coordinate.
    """

    name = "xgboost"
    label = "XGBoost"
    color = "#d6616b"
    darts_class = "XGBModel"
    seeded = True
    citation = "Chen & Guestrin, XGBoost, KDD 2016"
    #: n_jobs 1: one thread per job, the workflow runs jobs in parallel
    hyperparameters: ClassVar[dict[str, Any]] = {"lags": 10, "output_chunk_length": 1, "n_jobs": 1}
    quick_hyperparameters: ClassVar[dict[str, Any]] = {"lags": 5}
    grid: ClassVar[dict[str, list[Any]]] = {"lags": [3, 5, 10, 25]}
