"""Next-generation reservoir computing (NG-RC / NVAR).

Gauthier, Bollt, Griffith & Barbosa 2021, "Next generation reservoir computing", Nat.
Commun. 12:5564. The feature vector at time t is

    O_total = [1, O_lin, O_nonlin],  O_lin = [x_t, x_{t-s}, ..., x_{t-(k-1)s}],
    O_nonlin = the unique monomials of O_lin of degrees 2..order,

and the readout ``W_out`` (ridge regression) predicts the increment
``x_{t+1} - x_t = W_out O_total``. For Lorenz-63 at dt = 0.025, k = 2, s = 1 and
order 2 this is 1 + 6 + 21 = 28 features, ridge 2.5e-6, trained on 400 points
(shared/SPEC.md section 4).

Deviation: the paper works in raw Lorenz coordinates; we standardise by the training mean
and scale by default (``standardize``) so the same ridge suits every dysts system; set
``standardize: false`` for the paper's exact setting.
"""

from __future__ import annotations

from itertools import combinations_with_replacement
from typing import Any, ClassVar, Self

import numpy as np
import xarray as xr

from dsrbench.methods.base import (
    Method,
    RunFiles,
    check_context,
    load_arrays,
    save_arrays,
    training_arrays,
)


def monomial_indices(n_linear: int, order: int) -> list[tuple[int, ...]]:
    """Index tuples of the unique monomials of degrees 2..order of ``n_linear`` variables."""
    return [
        combo
        for degree in range(2, order + 1)
        for combo in combinations_with_replacement(range(n_linear), degree)
    ]


class NextGenerationRC(Method):
    """NG-RC (Gauthier et al. 2021): polynomial features of k delay taps, ridge readout."""

    name = "nvar"
    hyperparameters: ClassVar[dict[str, Any]] = {
        "k": 2,
        "s": 1,
        "order": 2,
        "ridge": 2.5e-6,
        "train_points": None,
        "standardize": True,
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {}
    has_jacobian = True

    # -- features ----------------------------------------------------------------------
    @property
    def _span(self) -> int:
        return (int(self.params["k"]) - 1) * int(self.params["s"])

    def _monomials(self, n_linear: int) -> list[tuple[int, ...]]:
        return monomial_indices(n_linear, int(self.params["order"]))

    def features(self, linear: np.ndarray) -> np.ndarray:
        """``O_total`` for linear parts ``(S, k*D)``: ``(S, 1 + k*D + n_monomials)``."""
        cols = [np.ones((linear.shape[0], 1)), linear]
        for combo in self._monomials(linear.shape[1]):
            cols.append(np.prod(linear[:, list(combo)], axis=1, keepdims=True))
        return np.hstack(cols)

    def _linear(self, x: np.ndarray) -> np.ndarray:
        """Linear parts at every t >= span of trajectories ``x (N, T, D)``:
        ``(N, T - span, k*D)`` with the newest tap first."""
        k, s, span = int(self.params["k"]), int(self.params["s"]), self._span
        t = x.shape[1]
        taps = [x[:, span - j * s : t - j * s] for j in range(k)]
        return np.concatenate(taps, axis=2)

    def _scale(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean_) / self.std_

    def fit(
        self,
        train: xr.Dataset,
        val: xr.Dataset | None = None,
        *,
        device: str = "auto",
        seed: int = 0,
        budget: float | None = None,
        run: RunFiles | None = None,
    ) -> Self:
        if int(self.params["k"]) < 1 or int(self.params["s"]) < 1:
            raise ValueError("nvar: k and s must be >= 1")
        _, _, mean, std = training_arrays(train, val)
        if not self.params["standardize"]:
            mean, std = np.zeros_like(mean), np.ones_like(std)
        self.mean_, self.std_ = mean, std
        x = self._scale(np.asarray(train["x"].values, dtype=np.float64))
        n_points = self.params["train_points"]
        if n_points is not None:  # the paper: the first n points after the warm-up taps
            x = x[:, : self._span + int(n_points) + 1]
        lin = self._linear(x)[:, :-1]
        d = x.shape[2]
        target = (x[:, self._span + 1 :] - x[:, self._span : -1]).reshape(-1, d)
        feats = self.features(lin.reshape(-1, lin.shape[2]))
        # W_out = Y O^T (O O^T + ridge I)^-1 (Gauthier et al. 2021, Methods)
        gram = feats.T @ feats + float(self.params["ridge"]) * np.eye(feats.shape[1])
        self.w_out_ = np.ascontiguousarray(np.linalg.solve(gram, feats.T @ target).T)  # (D, F)
        return self

    # -- the map on the stacked taps (newest first), standardised ----------------------
    def initial_state(self, context: np.ndarray) -> np.ndarray:
        ctx = self._scale(check_context(context))
        if ctx.shape[1] < self._span + 1:  # pad a short context with its first point
            pad = np.repeat(ctx[:, :1], self._span + 1 - ctx.shape[1], axis=1)
            ctx = np.concatenate([pad, ctx], axis=1)
        return self._linear(ctx[:, -(self._span + 1) :])[:, -1]

    def _history(self, context: np.ndarray) -> np.ndarray:
        ctx = self._scale(check_context(context))
        need = self._span + 1
        if ctx.shape[1] < need:
            pad = np.repeat(ctx[:, :1], need - ctx.shape[1], axis=1)
            ctx = np.concatenate([pad, ctx], axis=1)
        return ctx[:, -need:]

    def step(self, state: np.ndarray) -> np.ndarray:
        """One step of the map on linear parts ``(B, k*D)`` (requires s = 1)."""
        if int(self.params["s"]) != 1:
            raise NotImplementedError("nvar: step/jacobian need s = 1 (taps one step apart)")
        state = np.asarray(state, dtype=np.float64)
        d = self.mean_.size
        nxt = state[:, :d] + self.features(state) @ self.w_out_.T
        return np.concatenate([nxt, state[:, :-d]], axis=1)

    def jacobian(self, state: np.ndarray) -> np.ndarray:
        if int(self.params["s"]) != 1:
            raise NotImplementedError("nvar: step/jacobian need s = 1 (taps one step apart)")
        state = np.asarray(state, dtype=np.float64)
        b, m = state.shape
        d = self.mean_.size
        # d features / d state: constant 0, linear identity, monomials by the product rule
        dfeat = [np.zeros((b, 1, m)), np.broadcast_to(np.eye(m), (b, m, m))]
        for combo in self._monomials(m):
            g = np.zeros((b, 1, m))
            for pos, var in enumerate(combo):
                rest = list(combo[:pos] + combo[pos + 1 :])
                g[:, 0, var] += np.prod(state[:, rest], axis=1)
            dfeat.append(g)
        dphi = np.concatenate(dfeat, axis=1)  # (B, F, M)
        jac = np.zeros((b, m, m))
        jac[:, :d] = np.einsum("df,bfm->bdm", self.w_out_, dphi)
        jac[:, :d, :d] += np.eye(d)
        jac[:, d:, :-d] = np.eye(m - d)
        return jac

    def forecast(self, context: np.ndarray, horizon: int) -> np.ndarray:
        hist = self._history(context)  # (B, span + 1, D), oldest first
        b, _, d = hist.shape
        out = np.empty((b, horizon, d))
        buf = np.concatenate([hist, np.empty((b, horizon, d))], axis=1)
        start = self._span + 1
        with np.errstate(all="ignore"):
            for t in range(horizon):
                lin = self._linear(buf[:, t : t + start])[:, -1]
                buf[:, start + t] = buf[:, start + t - 1] + self.features(lin) @ self.w_out_.T
                out[:, t] = buf[:, start + t]
        return out * self.std_ + self.mean_

    def save(self, directory: Any) -> None:
        super().save(directory)
        save_arrays(directory, w_out=self.w_out_, mean=self.mean_, std=self.std_)

    @classmethod
    def load(cls, directory: Any) -> Self:
        model = super().load(directory)
        arrays = load_arrays(directory)
        model.w_out_, model.mean_, model.std_ = arrays["w_out"], arrays["mean"], arrays["std"]
        return model
