"""Holt-Winters exponential smoothing (statsmodels) per coordinate: additive trend, seasonal
component tuned.

Gilpin 2023 grid: seasonal in ['additive', 'none']. Citation: Holt, Int. J. Forecast. 20, 5
(2004, from 1957); Winters, Manag. Sci. 6, 324 (1960).
"""

from __future__ import annotations

from typing import Any, ClassVar

from dsrbench.methods._darts import PerCoordinateDarts


class ExponentialSmoothing(PerCoordinateDarts):
    """Holt-Winters exponential smoothing (statsmodels) per coordinate: additive trend,
    seasonal component tuned.
    """

    name = "exponential_smoothing"
    label = "exponential smoothing"
    color = "#b5cf6b"
    darts_class = "ExponentialSmoothing"
    citation = "Holt, Int. J. Forecast. 20, 5 (2004, from 1957); Winters, Manag. Sci. 6, 324 (1960)"
    hyperparameters: ClassVar[dict[str, Any]] = {
        "seasonal": "additive",
        "seasonal_periods": None,
        "damped": False,
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {"seasonal": "none"}
    season_parameters = ("seasonal",)
    grid: ClassVar[dict[str, list[Any]]] = {"seasonal": ["additive", "none"]}
