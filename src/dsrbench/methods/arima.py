"""ARIMA(p, 1, 0) per coordinate (statsmodels), p tuned, with a fallback where the fit fails.

Gilpin 2023 grid: p in [3, 5, 10, 25]. Citation: Box & Jenkins, Time Series Analysis (1970).

**Fallback.** statsmodels' default fit (state-space maximum likelihood, as darts calls it)
raises ``numpy.linalg.LinAlgError`` ("LU decomposition error" or "Schur decomposition
solver error", from the stationary initialisation of the Kalman filter) on some coordinates
of some systems: on 26 of the 135 systems at 100 points per period in the full Gilpin 2023
run (Lorenz and Chen among them). Rather than lose the model, each coordinate tries, in
order (:data:`FALLBACK_CHAIN`), until one fits:

1. ``default``: darts' fit, unchanged (a coordinate it handles is bit-identical to darts);
2. ``innovations_mle``: the same ARIMA(p, 1, 0), Gaussian maximum likelihood through the
   innovations algorithm (``ARIMA.fit(method="innovations_mle")``);
3. ``burg``: the same order, Burg's AR estimator (always stationary);
4. ``p=<p/2>``, ``p=<p/4>``, ... down to ``p=1``: the default fit at a halved order.

A step that raises LinAlgError or ValueError (``innovations_mle`` refuses
non-stationary AR parameters) passes to the next; if every step raises, darts' error is
raised. Which step each coordinate used is kept
(:attr:`ARIMA.fallbacks_`, one entry per coordinate) and the training record carries it as
``fit_details.arima_fit`` (:attr:`ARIMA.fit_details_`, written by
``dsrbench.pipeline.train.training_info``).
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import numpy as np

from dsrbench.methods._darts import PerCoordinateDarts

__all__ = ["ARIMA", "FALLBACK_CHAIN", "fallback_arima_class"]

#: the fits tried after darts' default one, in order, before halving p (module doc)
FALLBACK_CHAIN = ("innovations_mle", "burg")


def _orders(p: int) -> list[int]:
    """p halved until 1 (``10 -> [5, 2, 1]``)."""
    out = []
    while p > 1:
        p //= 2
        out.append(max(p, 1))
    return out


@functools.cache
def fallback_arima_class() -> type:
    """darts' ARIMA with the fallback chain of the module doc in its fit (built on first use:
    darts is imported lazily). The fitted model's ``fallback_`` names the step that fitted."""
    from darts.models import ARIMA as DartsARIMA
    from statsmodels.tsa.arima.model import ARIMA as StatsmodelsARIMA

    class FallbackARIMA(DartsARIMA):
        """darts' ARIMA; where its fit raises LinAlgError, the next step of the chain."""

        def _fit(self, series: Any, future_covariates: Any = None, verbose: Any = None) -> Any:
            try:
                out = super()._fit(series, future_covariates, verbose=verbose)
            except np.linalg.LinAlgError as first:
                y = series.values(copy=False)
                p, d, q = self.order
                steps: list[tuple[str, tuple[int, int, Any], dict[str, Any]]] = [
                    (name, (p, d, q), {"method": name}) for name in FALLBACK_CHAIN
                ]
                if isinstance(p, int | np.integer):
                    steps += [(f"p={k}", (k, d, q), {}) for k in _orders(int(p))]
                for name, order, kwargs in steps:
                    try:
                        model = StatsmodelsARIMA(
                            y, order=order, seasonal_order=self.seasonal_order, trend=self.trend
                        ).fit(**kwargs)
                    except (np.linalg.LinAlgError, ValueError):
                        continue  # e.g. innovations_mle: "non-stationary" (ValueError)
                    self.model = model
                    self.fallback_ = name
                    return self
                raise first
            self.fallback_ = "default"
            return out

    FallbackARIMA.__name__ = FallbackARIMA.__qualname__ = "FallbackARIMA"
    return FallbackARIMA


class ARIMA(PerCoordinateDarts):
    """ARIMA(p, 1, 0) per coordinate (statsmodels), p tuned; a coordinate whose default fit
    raises LinAlgError falls back as the module doc says."""

    name = "arima"
    label = "ARIMA"
    color = "#7b4173"
    darts_class = "ARIMA"
    citation = "Box & Jenkins, Time Series Analysis (1970)"
    hyperparameters: ClassVar[dict[str, Any]] = {"p": 12, "d": 1, "q": 0}
    quick_hyperparameters: ClassVar[dict[str, Any]] = {"p": 3}
    grid: ClassVar[dict[str, list[Any]]] = {"p": [3, 5, 10, 25]}

    @classmethod
    def darts_model_class(cls) -> type:
        """:func:`fallback_arima_class` (one per coordinate, in darts' ``MultivariateModel``)."""
        return fallback_arima_class()

    def _local_fit(self, z: np.ndarray) -> Any:
        model = super()._local_fit(z)
        self.fallbacks_ = [getattr(m, "fallback_", "default") for m in model._models]
        return model

    @property
    def fit_details_(self) -> dict[str, Any] | None:
        """What the last fit did, for the training record: ``arima_fit``, the step of the
        fallback chain per coordinate (``"default"``: darts' fit), and the
        coordinates that fell back; None before a fit."""
        steps = getattr(self, "fallbacks_", None)
        if steps is None:
            return None
        return {
            "arima_fit": list(steps),
            "arima_fallback_coordinates": [i for i, s in enumerate(steps) if s != "default"],
        }
