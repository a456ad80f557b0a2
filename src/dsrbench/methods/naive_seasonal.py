"""The last K context values repeated (K = 1 at darts' default: the last value; a reference
forecaster).

Gilpin 2023 grid: none (no hyperparameters tuned). Citation: Hyndman & Athanasopoulos,
Forecasting: principles and practice (the seasonal naive method).
"""

from __future__ import annotations

from typing import Any, ClassVar

from dsrbench.methods._darts import PerCoordinateDarts


class NaiveSeasonal(PerCoordinateDarts):
    """The last K context values repeated (K = 1 at darts' default: the last value; a reference
    forecaster).
    """

    name = "naive_seasonal"
    label = "naive seasonal"
    color = "#bdbdbd"
    darts_class = "NaiveSeasonal"
    reference = True
    citation = (
        "Hyndman & Athanasopoulos, Forecasting: principles and practice (the seasonal naive method)"
    )
    hyperparameters: ClassVar[dict[str, Any]] = {"K": 1}
    quick_hyperparameters: ClassVar[dict[str, Any]] = {}
    grid: ClassVar[dict[str, list[Any]]] = {}
