"""TBATS (trigonometric seasonality, Box-Cox, ARMA errors, trend; statsforecast's AutoTBATS)
per coordinate.

Gilpin 2023 grid: none (no hyperparameters tuned). Citation: De Livera, Hyndman & Snyder, J.
Am. Stat. Assoc. 106, 1513 (2011).
"""

from __future__ import annotations

from typing import Any, ClassVar

from dsrbench.methods._darts import PerCoordinateDarts


class TBATS(PerCoordinateDarts):
    """TBATS (trigonometric seasonality, Box-Cox, ARMA errors, trend; statsforecast's
    AutoTBATS) per coordinate.
    """

    name = "tbats"
    label = "TBATS"
    color = "#e7ba52"
    darts_class = "TBATS"
    citation = "De Livera, Hyndman & Snyder, J. Am. Stat. Assoc. 106, 1513 (2011)"
    hyperparameters: ClassVar[dict[str, Any]] = {"season_length": 1}
    quick_hyperparameters: ClassVar[dict[str, Any]] = {}
    grid: ClassVar[dict[str, list[Any]]] = {}
