"""ARIMA(p, 1, 0) per coordinate (statsmodels), p tuned.

Gilpin 2023 grid: p in [3, 5, 10, 25]. Citation: Box & Jenkins, Time Series Analysis (1970).
"""

from __future__ import annotations

from typing import Any, ClassVar

from dsrbench.methods._darts import DartsMethod


class ARIMA(DartsMethod):
    """ARIMA(p, 1, 0) per coordinate (statsmodels), p tuned."""

    name = "arima"
    darts_class = "ARIMA"
    family = "per_coordinate"
    citation = "Box & Jenkins, Time Series Analysis (1970)"
    hyperparameters: ClassVar[dict[str, Any]] = {"p": 12, "d": 1, "q": 0}
    quick_hyperparameters: ClassVar[dict[str, Any]] = {"p": 3}
    grid: ClassVar[dict[str, list[Any]]] = {"p": [3, 5, 10, 25]}
