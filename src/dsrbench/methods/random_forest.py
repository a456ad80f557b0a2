"""A random forest (scikit-learn, 100 trees) on the last `lags` values of every coordinate.

Gilpin 2023 grid: lags in [3, 5, 10, 25]. Citation: Breiman, Machine Learning 45, 5 (2001).
"""

from __future__ import annotations

from typing import Any, ClassVar

from dsrbench.methods._darts import DartsMethod


class RandomForest(DartsMethod):
    """A random forest (scikit-learn, 100 trees) on the last `lags` values of every coordinate."""

    name = "random_forest"
    label = "random forest"
    color = "#843c39"
    darts_class = "RandomForestModel"
    family = "lags"
    citation = "Breiman, Machine Learning 45, 5 (2001)"
    hyperparameters: ClassVar[dict[str, Any]] = {
        "lags": 10,
        "output_chunk_length": 1,
        "n_estimators": 100,
        "max_depth": None,
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {"lags": 5, "n_estimators": 10}
    grid: ClassVar[dict[str, list[Any]]] = {"lags": [3, 5, 10, 25]}
