"""A random forest (scikit-learn, 100 trees) on the last `lags` values of every coordinate.

Gilpin 2023 grid: lags in [3, 5, 10, 25]. Citation: Breiman, Machine Learning 45, 5 (2001).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, ClassVar

from dsrbench.methods._darts import LagRegressionDarts


class RandomForest(LagRegressionDarts):
    """A random forest (scikit-learn, 100 trees) on the last `lags` values of every coordinate."""

    name = "random_forest"
    label = "random forest"
    color = "#843c39"
    darts_class = "RandomForestModel"
    seeded = True
    citation = "Breiman, Machine Learning 45, 5 (2001)"
    hyperparameters: ClassVar[dict[str, Any]] = {
        "lags": 10,
        "output_chunk_length": 1,
        "n_estimators": 100,
        "max_depth": None,
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {"lags": 5, "n_estimators": 10}
    grid: ClassVar[dict[str, list[Any]]] = {"lags": [3, 5, 10, 25]}

    @contextlib.contextmanager
    def _predicting(self) -> Iterator[None]:
        """The trees predict through the compiled :mod:`._fast_forest` during a forecast
        (bit for bit scikit-learn's prediction, without its per-call overhead)."""
        from sklearn.ensemble import RandomForestRegressor

        from dsrbench.methods._fast_forest import compiled_forest

        est = self.model_.model  # the forest, or darts' MultiOutputRegressor of forests
        forests = [est] if isinstance(est, RandomForestRegressor) else []
        forests += [
            e for e in getattr(est, "estimators_", []) if isinstance(e, RandomForestRegressor)
        ]
        cache = self.__dict__.setdefault("_fast_forests", {})
        with contextlib.ExitStack() as stack:
            for forest in forests:
                stack.enter_context(compiled_forest(forest, cache))
            yield
