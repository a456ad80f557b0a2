"""A linear state-space model identified by N4SID and forecast by its Kalman filter (darts'
KalmanForecaster; dim_x at darts' default 1, as in Gilpin 2023).

Gilpin 2023 grid: none (no hyperparameters tuned). Citation: Kalman, J. Basic Eng. 82, 35
(1960); N4SID system identification (Van Overschee & De Moor, Automatica 1994).
"""

from __future__ import annotations

from typing import Any, ClassVar

from dsrbench.methods._darts import LocalDarts


class Kalman(LocalDarts):
    """A linear state-space model identified by N4SID and forecast by its Kalman filter (darts'
    KalmanForecaster; dim_x at darts' default 1, as in Gilpin 2023).
    """

    name = "kalman"
    label = "Kalman filter"
    color = "#637939"
    darts_class = "KalmanForecaster"
    citation = (
        "Kalman, J. Basic Eng. 82, 35 (1960); N4SID: Van Overschee & De Moor, Automatica 1994"
    )
    hyperparameters: ClassVar[dict[str, Any]] = {"dim_x": 1}
    quick_hyperparameters: ClassVar[dict[str, Any]] = {}
    grid: ClassVar[dict[str, list[Any]]] = {}
