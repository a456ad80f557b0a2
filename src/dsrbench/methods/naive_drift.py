"""The line through the first and last context points, extended (a reference forecaster).

Gilpin 2023 grid: none (no hyperparameters tuned). Citation: Hyndman & Athanasopoulos,
Forecasting: principles and practice (the drift method).
"""

from __future__ import annotations

from typing import Any, ClassVar

from dsrbench.methods._darts import PerCoordinateDarts


class NaiveDrift(PerCoordinateDarts):
    """The line through the first and last context points, extended (a reference forecaster)."""

    name = "naive_drift"
    label = "naive drift"
    color = "#969696"
    darts_class = "NaiveDrift"
    reference = True
    citation = "Hyndman & Athanasopoulos, Forecasting: principles and practice (the drift method)"
    hyperparameters: ClassVar[dict[str, Any]] = {}
    quick_hyperparameters: ClassVar[dict[str, Any]] = {}
    grid: ClassVar[dict[str, list[Any]]] = {}
