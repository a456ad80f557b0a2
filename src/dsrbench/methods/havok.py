"""HAVOK: a linear model in eigen-time-delay coordinates, forced by the last of them.

Brunton, Brunton, Proctor, Kaiser & Kutz 2017, "Chaos as an intermittently forced linear
system", Nat. Commun. 8:19 (Hankel alternative view of Koopman):

1. **Hankel matrix.** The delay vector at time t stacks ``delays`` (q) samples spaced
   ``stride`` (s) apart, newest first: ``h_t = [x_t; x_{t-s}; ...; x_{t-(q-1)s}]``. The
   paper observes one scalar coordinate; for a D-dimensional state we stack all D
   standardised coordinates of each sample (h_t has q D entries), so forecasts of every
   coordinate can be read back. The columns of H are the delay vectors of every training
   trajectory (never across two trajectories); a column advances one sample.
2. **SVD.** ``H = U S V^T``, truncated to rank r (``rank``): the eigen-time-delay
   coordinates of h_t are ``v_t = S_r^{-1} U_r^T h_t`` (the rows of V_r, as in the paper).
3. **Regression.** The paper's model is ``dv/dt = A v_{1:r-1} + B v_r`` on the first r - 1
   coordinates, the r-th acting as forcing, fitted to derivatives of v by fourth-order
   central differences and sparse regression (its code: threshold 0, i.e. least squares).
   ``regression: "derivative"`` does this (least squares, no threshold) and maps (A, B) to
   one sample step by the zero-order hold ``expm([[A, B], [0, 0]] dt)`` (the forcing held
   over a step). ``regression: "discrete"`` (default) fits the one-step map
   ``v_{1:r-1}(t+1) = A_d v_{1:r-1}(t) + B_d v_r(t)`` by least squares directly: exact on
   data from a linear system, and free of the differencing error at coarse sampling.
4. **The forcing in a forecast.** v_r is not modelled by HAVOK; a forecast needs a rule
   for it (``forcing``): ``"zero"`` (the unforced linear model), ``"hold"`` (the last value
   of the context, held), or ``"linear"`` (v_r(t+1) from all of v(t) by least squares,
   which closes the loop: a rank-r Hankel DMD). Default ``"zero"``: the forcing is near
   zero except in rare bursts (the paper's point); on Lorenz-63, Roessler, Chen and
   Halvorsen it forecasts as well as ``"linear"`` and better than ``"hold"``
   (docs/methods.md, ``havok``).
5. **Back to the state.** A forecast runs the linear map on v from the context's last
   delay vector (the context needs ``(q - 1) s + 1`` points) and reads each state as the
   newest sample of the reconstructed delay vector, ``x_t = (U_r S_r v_t)[:D]``, mapped
   back from standardised coordinates.

The map is linear, so :meth:`jacobian` is the constant step matrix. The paper's Lorenz-63
setting is q = 100, r = 15 at dt = 0.001: a window of 0.1 time units, 0.067 of Lorenz's
dominant period. The defaults keep r = 15 and that window at the database's fine
granularity (100 points per period: q = 7); ``delays: 100`` is the paper's q on data
sampled as finely as the paper's (benchmarks/accuracy/havok_lorenz_forcing.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import xarray as xr

from dsrbench.methods.base import (
    DEFAULT_CONTEXT,
    FitContext,
    HyperparameterError,
    Method,
    check_context,
)

REGRESSIONS = ("discrete", "derivative")
FORCING_RULES = ("zero", "hold", "linear")


def delay_vectors(x: np.ndarray, delays: int, stride: int) -> np.ndarray:
    """The delay vectors of trajectories ``x (N, T, D)``: ``(N, T - (q-1) s, q D)``, row k of
    trajectory n holding ``[x_t; x_{t-s}; ...; x_{t-(q-1)s}]`` for t = (q-1) s + k (newest
    sample first)."""
    span = (delays - 1) * stride
    t = x.shape[1]
    taps = [x[:, span - j * stride : t - j * stride] for j in range(delays)]
    return np.concatenate(taps, axis=2)


def fourth_order_derivative(v: np.ndarray, dt: float) -> np.ndarray:
    """Fourth-order central differences along axis 1 of ``v (N, M, r)``: ``(N, M - 4, r)``,
    the derivative at samples 2 .. M - 3 (as the paper's code)."""
    return (-v[:, 4:] + 8 * v[:, 3:-1] - 8 * v[:, 1:-3] + v[:, :-4]) / (12 * dt)


def least_squares(design: np.ndarray, target: np.ndarray, ridge: float) -> np.ndarray:
    """``W`` minimising ``||design W - target||^2 + ridge ||W||^2`` (plain least squares,
    by ``lstsq``, when ``ridge`` is 0)."""
    if ridge > 0:
        gram = design.T @ design + ridge * np.eye(design.shape[1])
        return np.linalg.solve(gram, design.T @ target)
    return np.linalg.lstsq(design, target, rcond=None)[0]


def zero_order_hold(a: np.ndarray, b: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """The one-step map ``(A_d, B_d)`` of ``dv/dt = A v + B u`` with u held over ``dt``."""
    from scipy.linalg import expm

    n, m = a.shape[0], b.shape[1]
    block = np.zeros((n + m, n + m))
    block[:n, :n] = a
    block[:n, n:] = b
    phi = expm(block * dt)
    return phi[:n, :n], phi[:n, n:]


class HAVOK(Method):
    """HAVOK (Brunton et al. 2017): Hankel SVD, linear model forced by the last coordinate."""

    name = "havok"
    label = "HAVOK"
    color = "#b8860b"
    hyperparameters: ClassVar[dict[str, Any]] = {
        "delays": 7,
        "stride": 1,
        "rank": 15,
        "regression": "discrete",
        "forcing": "zero",
        "ridge": 0.0,
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {}
    #: the delay window from a fraction of a period to several (docs/methods.md, ``havok``)
    grid: ClassVar[dict[str, list[Any]]] = {"delays": [5, 7, 10, 30, 100]}
    citation = "Brunton et al., Nat. Commun. 8, 19 (2017)"
    fitted_arrays = ("modes", "singular_values", "dynamics", "forcing_row", "mean", "std", "dt")

    # -- settings ---------------------------------------------------------------------
    @property
    def _q(self) -> int:
        return int(self.params["delays"])

    @property
    def _s(self) -> int:
        return int(self.params["stride"])

    @property
    def _r(self) -> int:
        return int(self.params["rank"])

    @property
    def window(self) -> int:
        """Samples one delay vector spans: ``(delays - 1) stride + 1``."""
        return (self._q - 1) * self._s + 1

    def _check(self) -> None:
        p = self.params
        if self._q < 1 or self._s < 1:
            raise HyperparameterError(
                f"havok: delays and stride must be >= 1, got delays={p['delays']}, "
                f"stride={p['stride']}"
            )
        if self._r < 2:
            raise HyperparameterError(
                f"havok: rank must be >= 2 (r - 1 modelled coordinates and the forcing), "
                f"got {p['rank']}"
            )
        if p["regression"] not in REGRESSIONS:
            raise HyperparameterError(
                f"havok: regression must be one of {', '.join(REGRESSIONS)}, "
                f"got {p['regression']!r}"
            )
        if p["forcing"] not in FORCING_RULES:
            raise HyperparameterError(
                f"havok: forcing must be one of {', '.join(FORCING_RULES)}, got {p['forcing']!r}"
            )
        if float(p["ridge"]) < 0:
            raise HyperparameterError(f"havok: ridge must be >= 0, got {p['ridge']}")

    # -- fit --------------------------------------------------------------------------
    def fit(
        self,
        train: xr.Dataset,
        val: xr.Dataset | None = None,
        ctx: FitContext = DEFAULT_CONTEXT,
    ) -> Self:
        self._check()
        x, _ = self.fit_scale(train, val)
        n, t, d = x.shape
        self.dt_ = float(train["time"].values[1] - train["time"].values[0])
        derivative = self.params["regression"] == "derivative"
        need = self.window + (4 if derivative else 1)
        if t < need:
            raise ValueError(
                f"havok: training trajectories of {t} points are too short for delays="
                f"{self._q} with stride={self._s}: one delay vector spans {self.window} points "
                f"and the {self.params['regression']} regression needs {need} per trajectory; "
                "lower delays or stride, or train on longer trajectories (training.train_length)"
            )
        h = delay_vectors(x, self._q, self._s)  # (N, M, qD)
        m = h.shape[1]
        if self._r > min(self._q * d, n * m):
            raise HyperparameterError(
                f"havok: rank {self._r} exceeds the rank of the Hankel matrix "
                f"({self._q} delays x {d} coordinates = {self._q * d} rows, {n * m} columns); "
                "lower rank or raise delays"
            )
        # H^T = (columns, q D): its right singular vectors are the modes U of H
        _, sing, vt = np.linalg.svd(h.reshape(n * m, -1), full_matrices=False)
        modes = vt[: self._r].T.copy()
        # a deterministic sign: the largest entry of each mode is positive
        flip = np.sign(modes[np.argmax(np.abs(modes), axis=0), np.arange(self._r)])
        self.modes_ = modes * np.where(flip == 0, 1.0, flip)
        self.singular_values_ = sing[: self._r].copy()
        # round-off level of the Hankel matrix's rows (numpy's matrix_rank would scale by the
        # number of columns, which flags the paper's Lorenz setting: s_15 / s_1 = 2.6e-13)
        tol = sing[0] * self._q * d * np.finfo(float).eps
        if not self.singular_values_[-1] > tol:
            raise ValueError(
                f"havok: the Hankel matrix has rank below {self._r} (singular value "
                f"{self._r} is {self.singular_values_[-1]:.3g}, numerically 0); lower rank"
            )
        v = self.coordinates(h)  # (N, M, r)
        ridge = float(self.params["ridge"])
        if derivative:
            target = fourth_order_derivative(v, self.dt_).reshape(-1, self._r)
            design = v[:, 2:-2].reshape(-1, self._r)
        else:
            target = v[:, 1:].reshape(-1, self._r)
            design = v[:, :-1].reshape(-1, self._r)
        coef = least_squares(design, target, ridge).T  # (r, r): row i predicts coordinate i
        self.dynamics_ = coef[:-1].copy()  # [A | B]
        self.forcing_row_ = coef[-1].copy()
        self._set_step()
        return self

    def coordinates(self, h: np.ndarray) -> np.ndarray:
        """Eigen-time-delay coordinates ``v = S_r^{-1} U_r^T h`` of delay vectors
        ``h (..., q D)``: ``(..., r)``."""
        return (h @ self.modes_) / self.singular_values_

    @property
    def a_matrix(self) -> np.ndarray:
        """A, ``(r-1, r-1)``: continuous-time with ``regression: derivative``, else the
        one-step map A_d."""
        return self.dynamics_[:, :-1]

    @property
    def b_vector(self) -> np.ndarray:
        """B, ``(r-1,)``: the forcing's column (continuous-time or one-step, as A)."""
        return self.dynamics_[:, -1]

    def _set_step(self) -> None:
        """The step matrix on v (the Jacobian) and the read-out of the state from v."""
        r = self._r
        step = np.zeros((r, r))
        rule = self.params["forcing"]
        if self.params["regression"] == "derivative":
            if rule == "linear":
                from scipy.linalg import expm

                step = expm(np.vstack([self.dynamics_, self.forcing_row_]) * self.dt_)
            else:
                a_d, b_d = zero_order_hold(self.a_matrix, self.b_vector[:, None], self.dt_)
                step[:-1, :-1], step[:-1, -1:] = a_d, b_d
        else:
            step[:-1] = self.dynamics_
            if rule == "linear":
                step[-1] = self.forcing_row_
        if rule == "hold":
            step[-1, -1] = 1.0
        #: v(t+1) = step v(t): A_d, B_d and the forcing rule's row
        self.step_matrix_ = step
        d = self.mean_.size
        #: x_t (standardised) = readout v_t: the newest sample of U_r S_r v_t
        self.readout_ = self.modes_[:d] * self.singular_values_

    # -- forecasts --------------------------------------------------------------------
    def initial_state(self, context: np.ndarray) -> np.ndarray:
        """v of the context's last delay vector, ``(B, r)``; the context needs
        ``(delays - 1) stride + 1`` points."""
        ctx = self.to_model(check_context(context))
        if ctx.shape[1] < self.window:
            raise ValueError(
                f"havok needs contexts of at least {self.window} points for one delay vector "
                f"(delays={self._q}, stride={self._s}); got {ctx.shape[1]}: raise "
                "evaluation.context_length or lower delays / stride"
            )
        h = delay_vectors(ctx[:, -self.window :], self._q, self._s)[:, -1]
        return self.coordinates(h)

    def step(self, state: np.ndarray) -> np.ndarray:
        return np.asarray(state, dtype=np.float64) @ self.step_matrix_.T

    def jacobian(self, state: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.step_matrix_, (len(state), self._r, self._r)).copy()

    def observe(self, state: np.ndarray) -> np.ndarray:
        return state @ self.readout_.T

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        model = super().load(directory)
        model.dt_ = float(model.dt_)
        model._set_step()
        return model
