"""Sparse identification of nonlinear dynamics (SINDy) through pysindy.

Brunton, Proctor & Kutz 2016, PNAS 113:3932: ``dx/dt = Theta(x) Xi`` with a polynomial
library Theta and a sparse coefficient matrix Xi found by sequentially thresholded least
squares (STLSQ). pysindy fits Xi on the standardised training trajectories (derivatives by
its finite differences, time in model units); the fitted model is the coefficient matrix
alone: forecasts integrate our own evaluation of the polynomial right-hand side (the
dictionary of :mod:`dsrbench.methods._polynomial`, pysindy's order) with scipy's DOP853,
so a saved model needs no refit. A solution that blows up is filled with NaN from there on.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
import xarray as xr

from dsrbench.methods import _polynomial as poly
from dsrbench.methods.base import DEFAULT_CONTEXT, FitContext, Method

BLOW_UP = 1e6  # standardised units: a solution beyond this has left the attractor


class SINDy(Method):
    """SINDy with a polynomial library and STLSQ (pysindy), integrated with DOP853."""

    name = "sindy"
    label = "SINDy"
    color = "#e377c2"
    hyperparameters: ClassVar[dict[str, Any]] = {
        "degree": 2,
        "threshold": 0.1,
        "alpha": 0.05,
        "rtol": 1e-8,
        "atol": 1e-8,
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {}
    fitted_arrays = ("coef", "mean", "std", "dt", "feature_names")

    def fit(
        self,
        train: xr.Dataset,
        val: xr.Dataset | None = None,
        ctx: FitContext = DEFAULT_CONTEXT,
    ) -> Self:
        import pysindy as ps

        x, _ = self.fit_scale(train, val)
        self.dt_ = float(train["time"].values[1] - train["time"].values[0])
        model = ps.SINDy(
            optimizer=ps.STLSQ(
                threshold=float(self.params["threshold"]), alpha=float(self.params["alpha"])
            ),
            feature_library=ps.PolynomialLibrary(degree=int(self.params["degree"])),
        )
        model.fit(list(x), t=self.dt_)
        self.coef_ = np.ascontiguousarray(model.coefficients().T)  # (F, D)
        self.feature_names_ = list(model.get_feature_names())
        self.pysindy_model_ = model
        return self

    def _terms(self) -> list[tuple[int, ...]]:
        return poly.monomials(self.mean_.size, int(self.params["degree"]))

    def rhs(self, x: np.ndarray) -> np.ndarray:
        """The identified vector field at standardised states ``x (S, D)``."""
        return poly.evaluate(x, self._terms()) @ self.coef_

    def equations(self) -> list[str]:
        """The identified equations, e.g. ``x0' = -0.99 x0 + 0.98 x1`` (standardised)."""
        names = poly.names(self._terms())
        out = []
        for j in range(self.coef_.shape[1]):
            terms = [f"{c:+.4g} {n}" for c, n in zip(self.coef_[:, j], names, strict=True) if c]
            out.append(f"x{j}' = " + (" ".join(terms) if terms else "0"))
        return out

    def _integrate(self, x0: np.ndarray, steps: int) -> np.ndarray:
        """All contexts in one DOP853 solve; a row that passes ``BLOW_UP`` is frozen (its
        derivative set to 0) and reported as NaN from then on, so one diverging context
        neither stops nor poisons the others."""
        from scipy.integrate import solve_ivp

        b, d = x0.shape
        terms = self._terms()
        coef = self.coef_

        def f(_t: float, y: np.ndarray) -> np.ndarray:
            z = y.reshape(b, d)
            with np.errstate(all="ignore"):
                dz = poly.evaluate(z, terms) @ coef
            dz[~np.all(np.abs(z) < BLOW_UP, axis=1) | ~np.all(np.isfinite(dz), axis=1)] = 0.0
            return dz.ravel()

        t_eval = self.dt_ * np.arange(1, steps + 1)
        out = np.full((b, steps, d), np.nan)
        with np.errstate(all="ignore"):
            sol = solve_ivp(
                f,
                (0.0, t_eval[-1]),
                x0.ravel(),
                method="DOP853",
                t_eval=t_eval,
                rtol=float(self.params["rtol"]),
                atol=float(self.params["atol"]),
            )
        n = sol.y.shape[1]
        if n:
            out[:, :n] = sol.y.T.reshape(n, b, d).transpose(1, 0, 2)
        # once a row has left the box it stays NaN
        gone = np.maximum.accumulate(~np.all(np.abs(out) < BLOW_UP, axis=2), axis=1)
        out[gone] = np.nan
        return out

    def forecast(self, context: np.ndarray, horizon: int) -> np.ndarray:
        return self.from_model(self._integrate(self.initial_state(context), horizon))

    @classmethod
    def load(cls, directory: Any) -> Self:
        model = super().load(directory)
        model.dt_ = float(model.dt_)
        model.feature_names_ = [str(n) for n in model.feature_names_]
        return model
