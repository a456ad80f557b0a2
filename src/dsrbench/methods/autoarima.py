"""ARIMA with orders chosen by the Hyndman-Khandakar search (statsforecast's AutoARIMA) per
coordinate.

Gilpin 2023 grid: none (no hyperparameters tuned). Citation: Hyndman & Khandakar, J. Stat.
Softw. 27(3) (2008).
"""

from __future__ import annotations

from typing import Any, ClassVar

from dsrbench.methods._darts import PerCoordinateDarts


class AutoARIMA(PerCoordinateDarts):
    """ARIMA with orders chosen by the Hyndman-Khandakar search (statsforecast's AutoARIMA) per
    coordinate.
    """

    name = "autoarima"
    label = "AutoARIMA"
    color = "#a55194"
    darts_class = "AutoARIMA"
    citation = "Hyndman & Khandakar, J. Stat. Softw. 27(3) (2008)"
    hyperparameters: ClassVar[dict[str, Any]] = {}
    quick_hyperparameters: ClassVar[dict[str, Any]] = {}
    grid: ClassVar[dict[str, list[Any]]] = {}
