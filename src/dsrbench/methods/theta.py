"""The Theta method (theta = 2) per coordinate, seasonal mode tuned.

Gilpin 2023 grid: season_mode in ['additive', 'none']. Citation: Assimakopoulos &
Nikolopoulos, Int. J. Forecast. 16, 521 (2000).
"""

from __future__ import annotations

from typing import Any, ClassVar

from dsrbench.methods._darts import DartsMethod, season_mode


class Theta(DartsMethod):
    """The Theta method (theta = 2) per coordinate, seasonal mode tuned."""

    name = "theta"
    darts_class = "Theta"
    family = "per_coordinate"
    citation = "Assimakopoulos & Nikolopoulos, Int. J. Forecast. 16, 521 (2000)"
    hyperparameters: ClassVar[dict[str, Any]] = {
        "theta": 2,
        "season_mode": "additive",
        "seasonality_period": None,
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {"season_mode": "none"}
    grid: ClassVar[dict[str, list[Any]]] = {"season_mode": ["additive", "none"]}

    def darts_kwargs(self) -> dict[str, Any]:
        """The seasonal mode as darts' enum."""
        return {**self.params, "season_mode": season_mode(self.params["season_mode"])}
