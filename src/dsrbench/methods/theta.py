"""The Theta method (theta = 2) per coordinate, seasonal mode tuned.

Gilpin 2023 grid: season_mode in ['additive', 'none']. Citation: Assimakopoulos &
Nikolopoulos, Int. J. Forecast. 16, 521 (2000).
"""

from __future__ import annotations

from typing import Any, ClassVar

from dsrbench.methods._darts import PerCoordinateDarts


class Theta(PerCoordinateDarts):
    """The Theta method (theta = 2) per coordinate, seasonal mode tuned."""

    name = "theta"
    label = "Theta"
    color = "#ce6dbd"
    darts_class = "Theta"
    citation = "Assimakopoulos & Nikolopoulos, Int. J. Forecast. 16, 521 (2000)"
    hyperparameters: ClassVar[dict[str, Any]] = {
        "theta": 2,
        "season_mode": "additive",
        "seasonality_period": None,
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {"season_mode": "none"}
    season_parameters = ("season_mode",)
    grid: ClassVar[dict[str, list[Any]]] = {"season_mode": ["additive", "none"]}
