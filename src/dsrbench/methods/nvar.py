"""Next-generation reservoir computing (NG-RC / NVAR).

Gauthier, Bollt, Griffith & Barbosa 2021, "Next generation reservoir computing", Nat.
Commun. 12:5564 (Methods, and their code ``LorenzConstLinQuadraticNVARtimedelay-RK23.py``).
The feature vector at time t is

    O_total = [1, O_lin, O_nonlin],  O_lin = [x_t, x_{t-s}, ..., x_{t-(k-1)s}],
    O_nonlin = the unique monomials of O_lin of degrees 2..order,

and the readout ``W_out`` (ridge regression, the constant included in the penalty as in
the paper) predicts the increment ``x_{t+1} - x_t = W_out O_total``. For Lorenz-63 at
dt = 0.025, k = 2, s = 1 and order 2 this is 1 + 6 + 21 = 28 features, ridge 2.5e-6,
trained on 400 points (docs/methods.md). The monomials are ordered as in the
paper's code (row <= column loops over O_lin, newest tap first).

Forecasts: the last ``(k-1) s + 1`` context points fill the delay taps, then the map runs
closed loop. ``step``/``jacobian`` act on that delay buffer (newest state first, flattened;
for s = 1 it is exactly the k stacked taps, k*D numbers), in the model's coordinates.

Deviation (``standardize``, default true): we work in coordinates standardised by the
training mean and scale, while the paper works on raw Lorenz coordinates. The paper's
data were integrated with scipy's RK23 at its default tolerance (rtol 1e-3); on such data
raw coordinates reproduce its forecasts (about 7 to 9 Lyapunov times valid), but on an
accurately integrated trajectory (dsrbench's datasets, rtol 1e-10) the same raw-coordinate
NG-RC with ridge 2.5e-6 blows up within 0.2 Lyapunov times: the ridge is negligible
against the raw features (up to ~1e3) and the two-tap map picks up a spurious unstable
mode. In standardised coordinates the same ridge, k and 400 points give 4 to 5 Lyapunov
times on accurate data (tests/unit/test_methods_reservoir.py). Set ``standardize: false`` for
the paper's exact setting. ``train_points`` (default all) keeps the first n targets of
each training trajectory after the taps are filled (the paper: 400).
"""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations_with_replacement
from typing import Any, ClassVar, Self

import numpy as np
import xarray as xr

from dsrbench.methods.base import DEFAULT_CONTEXT, FitContext, Method, check_context


def monomial_indices(n_linear: int, order: int) -> list[tuple[int, ...]]:
    """Index tuples of the unique monomials of degrees 2..order of ``n_linear`` variables,
    in the order of ``itertools.combinations_with_replacement`` (the paper's loops)."""
    return [
        combo
        for degree in range(2, order + 1)
        for combo in combinations_with_replacement(range(n_linear), degree)
    ]


@lru_cache(maxsize=32)
def index_table(n_linear: int, order: int) -> np.ndarray:
    """``(n_monomials, order)`` indices into ``[O_lin, 1]`` of the monomials of
    :func:`monomial_indices`; the padding index ``n_linear`` (the appended 1) shortens a
    monomial below the full order. Cached (read-only): forecasts use it at every step."""
    combos = monomial_indices(n_linear, order)
    table = np.full((len(combos), max(order, 1)), n_linear, dtype=np.intp)
    for row, combo in enumerate(combos):
        table[row, : len(combo)] = combo
    table.flags.writeable = False
    return table


class NextGenerationRC(Method):
    """NG-RC (Gauthier et al. 2021): polynomial features of k delay taps, ridge readout of
    the increment."""

    name = "nvar"
    label = "NG-RC (NVAR)"
    color = "#ff7f0e"
    hyperparameters: ClassVar[dict[str, Any]] = {
        "k": 2,
        "s": 1,
        "order": 2,
        "ridge": 2.5e-6,
        "train_points": None,
        "standardize": True,
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {}
    #: the Gilpin 2023 grid (its benchmark code)
    grid: ClassVar[dict[str, list[Any]]] = {"k": [2, 5, 15, 30, 60, 120]}
    citation = "Gauthier et al., Nat. Commun. 12, 5564 (2021)"
    fitted_arrays = ("w_out", "mean", "std")

    # -- sizes and index tables ---------------------------------------------------------
    @property
    def _k(self) -> int:
        return int(self.params["k"])

    @property
    def _s(self) -> int:
        return int(self.params["s"])

    @property
    def _span(self) -> int:
        """Steps between the newest and the oldest tap."""
        return (self._k - 1) * self._s

    def _check(self) -> None:
        if self._k < 1 or self._s < 1 or int(self.params["order"]) < 1:
            raise ValueError("nvar: k, s and order must be >= 1")
        if float(self.params["ridge"]) < 0:
            raise ValueError("nvar: ridge must be >= 0")

    def n_features(self, dim: int) -> int:
        """Length of ``O_total`` for ``dim`` observed coordinates."""
        n_linear = self._k * dim
        return 1 + n_linear + len(monomial_indices(n_linear, int(self.params["order"])))

    # -- features ----------------------------------------------------------------------
    def features(self, linear: np.ndarray) -> np.ndarray:
        """``O_total`` for linear parts ``(S, k*D)``: ``(S, 1 + k*D + n_monomials)``."""
        linear = np.asarray(linear, dtype=np.float64)
        n, m = linear.shape
        table = index_table(m, int(self.params["order"]))
        aug = np.concatenate([linear, np.ones((n, 1))], axis=1)
        nonlin = np.prod(aug[:, table], axis=2) if table.size else np.empty((n, 0))
        return np.concatenate([np.ones((n, 1)), linear, nonlin], axis=1)

    def feature_jacobian(self, linear: np.ndarray) -> np.ndarray:
        """d O_total / d O_lin at linear parts ``(S, k*D)``: ``(S, F, k*D)`` (product rule)."""
        linear = np.asarray(linear, dtype=np.float64)
        n, m = linear.shape
        table = index_table(m, int(self.params["order"]))
        aug = np.concatenate([linear, np.ones((n, 1))], axis=1)
        factors = aug[:, table]  # (S, n_mono, order)
        dmono = np.zeros((n, table.shape[0], m + 1))
        rows = np.arange(table.shape[0])
        for pos in range(table.shape[1]):
            others = np.prod(np.delete(factors, pos, axis=2), axis=2)  # (S, n_mono)
            np.add.at(dmono, (slice(None), rows, table[:, pos]), others)
        return np.concatenate(
            [np.zeros((n, 1, m)), np.broadcast_to(np.eye(m), (n, m, m)), dmono[:, :, :m]],
            axis=1,
        )

    def _linear(self, x: np.ndarray) -> np.ndarray:
        """Linear parts at every t >= span of trajectories ``x (N, T, D)``:
        ``(N, T - span, k*D)``, newest tap first."""
        t, span = x.shape[1], self._span
        taps = [x[:, span - j * self._s : t - j * self._s] for j in range(self._k)]
        return np.concatenate(taps, axis=2)

    # -- training ----------------------------------------------------------------------
    def fit(
        self,
        train: xr.Dataset,
        val: xr.Dataset | None = None,
        ctx: FitContext = DEFAULT_CONTEXT,
    ) -> Self:
        """Ridge regression of the increments on the features (deterministic; ``seed``,
        ``device``, ``budget``, ``run`` and ``val`` are not needed)."""
        self._check()
        x, _ = self.fit_scale(train)
        if not self.params["standardize"]:  # the paper's raw coordinates
            x = np.asarray(train["x"].values, dtype=np.float64)
            self.mean_, self.std_ = np.zeros_like(self.mean_), np.ones_like(self.std_)
        n_points = self.params["train_points"]
        if n_points is not None:  # the paper: the first n targets after the taps are filled
            x = x[:, : self._span + int(n_points) + 1]
        if x.shape[1] < self._span + 2:
            raise ValueError(
                f"nvar: trajectories of {x.shape[1]} points are too short for k = {self._k}, "
                f"s = {self._s} (need {self._span + 2})"
            )
        d = x.shape[2]
        lin = self._linear(x)[:, :-1].reshape(-1, self._k * d)
        target = (x[:, self._span + 1 :] - x[:, self._span : -1]).reshape(-1, d)
        feats = self.features(lin)
        # W_out = Y O^T (O O^T + ridge I)^-1 (Gauthier et al. 2021, Methods; row convention)
        gram = feats.T @ feats + float(self.params["ridge"]) * np.eye(feats.shape[1])
        self.w_out_ = np.ascontiguousarray(np.linalg.solve(gram, feats.T @ target).T)  # (D, F)
        return self

    # -- the map on the delay buffer (newest state first), model coordinates ------------
    def _buffer(self, context: np.ndarray) -> np.ndarray:
        """The last ``span + 1`` context states, oldest first ``(B, span + 1, D)``; a short
        context is padded with its first point."""
        ctx = self.to_model(check_context(context))
        need = self._span + 1
        if ctx.shape[1] < need:
            pad = np.repeat(ctx[:, :1], need - ctx.shape[1], axis=1)
            ctx = np.concatenate([pad, ctx], axis=1)
        return ctx[:, -need:]

    def initial_state(self, context: np.ndarray) -> np.ndarray:
        """The delay buffer after ``context``: ``(B, (span + 1) D)``, newest state first."""
        buf = self._buffer(context)[:, ::-1]
        return np.ascontiguousarray(buf.reshape(buf.shape[0], -1))

    def _taps(self, dim: int) -> np.ndarray:
        """Indices into the flattened buffer of the k taps (newest first)."""
        return (np.arange(self._k)[:, None] * self._s * dim + np.arange(dim)).ravel()

    def step(self, state: np.ndarray) -> np.ndarray:
        """One step on buffers ``(B, (span + 1) D)``: x_{t+1} = x_t + W_out O_total, then the
        buffer shifts by one state."""
        state = np.asarray(state, dtype=np.float64)
        d = self.w_out_.shape[0]
        nxt = state[:, :d] + self.features(state[:, self._taps(d)]) @ self.w_out_.T
        return np.concatenate([nxt, state[:, :-d]], axis=1)

    def jacobian(self, state: np.ndarray) -> np.ndarray:
        """d step / d state, ``(B, M, M)``."""
        state = np.asarray(state, dtype=np.float64)
        b, m = state.shape
        d = self.w_out_.shape[0]
        taps = self._taps(d)
        jac = np.zeros((b, m, m))
        jac[:, :d, taps] = np.einsum(
            "df,bfl->bdl", self.w_out_, self.feature_jacobian(state[:, taps])
        )
        jac[:, :d, :d] += np.eye(d)
        jac[:, d:, :-d] = np.eye(m - d)
        return jac
