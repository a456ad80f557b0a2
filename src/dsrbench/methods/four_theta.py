"""The generalised 4Theta method per coordinate (theta = 2, additive model, linear trend),
seasonal mode tuned.

Gilpin 2023 grid: season_mode in ['additive', 'none']. Citation: Spiliotis et al., Int. J.
Forecast. 36, 1086 (2020) (the 4Theta method).
"""

from __future__ import annotations

from typing import Any, ClassVar

from dsrbench.methods._darts import PerCoordinateDarts


class FourTheta(PerCoordinateDarts):
    """The generalised 4Theta method per coordinate (theta = 2, additive model, linear trend),
    seasonal mode tuned.
    """

    name = "four_theta"
    label = "FourTheta"
    color = "#de9ed6"
    darts_class = "FourTheta"
    citation = "Spiliotis et al., Int. J. Forecast. 36, 1086 (2020) (the 4Theta method)"
    hyperparameters: ClassVar[dict[str, Any]] = {
        "theta": 2,
        "season_mode": "additive",
        "seasonality_period": None,
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {"season_mode": "none"}
    season_parameters = ("season_mode",)
    grid: ClassVar[dict[str, list[Any]]] = {"season_mode": ["additive", "none"]}
