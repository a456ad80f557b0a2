"""The context mean of each coordinate (a reference forecaster).

Gilpin 2023 grid: none (no hyperparameters tuned). Citation: Hyndman & Athanasopoulos,
Forecasting: principles and practice (the mean method).
"""

from __future__ import annotations

from typing import Any, ClassVar

from dsrbench.methods._darts import PerCoordinateDarts


class NaiveMean(PerCoordinateDarts):
    """The context mean of each coordinate (a reference forecaster)."""

    name = "naive_mean"
    label = "naive mean"
    color = "#737373"
    darts_class = "NaiveMean"
    reference = True
    citation = "Hyndman & Athanasopoulos, Forecasting: principles and practice (the mean method)"
    hyperparameters: ClassVar[dict[str, Any]] = {}
    quick_hyperparameters: ClassVar[dict[str, Any]] = {}
    grid: ClassVar[dict[str, list[Any]]] = {}
