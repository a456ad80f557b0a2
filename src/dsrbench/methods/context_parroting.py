"""Context parroting: copy what followed the best match of the context's last motif.

Zhang & Gilpin, "Context parroting: a simple but tough-to-beat baseline for foundation
models in scientific machine learning", arXiv:2505.11349 (ICLR 2026), Algorithm 1; the
mechanism they found in Chronos in "Zero-shot forecasting of chaotic systems", ICLR 2025
(arXiv:2409.15771). Their code is ``y-z-zhang/parroting`` (``models/parrot.py`` at
``dbc65af``; the benchmark model ``ParrotModel`` in ``benchmark/forecast_models.py`` at
``23ef754``). The rule, choice by choice:

* **Embedding.** The delay vectors ``(x_t, x_{t+tau}, ..., x_{t+(D-1) tau})``
  (``delay_embedding`` of ``parrot.py``); ``embedding_dim`` D = 10 and ``delay`` tau = 1,
  the defaults of ``ParrotModel(D=10, tau=1)`` with which the benchmark runs (the paper
  finds parroting insensitive to D; its sweep, ``run_parrot_D_sweep.py``, covers 5 to 30).
* **Coordinates.** Each coordinate is embedded and matched on its own, as a univariate
  series (``_per_channel_forecast`` of ``forecast_models.py``; the paper forecasts
  multivariate systems channel by channel). A D-dimensional system thus has D matches.
* **Matching.** The query is the last delay vector of the context; the candidates are the
  earlier delay vectors, except the last ``D * tau`` ones, which overlap the query
  (``embedded_data[:-D * tau]`` in ``embedding_distance``). Distance: Euclidean (``cdist``;
  computed here as its square, the same order). One neighbour, no averaging: the single
  best match (Algorithm 1; averaging over neighbours is the simplex projection the paper
  contrasts it with). Ties: the earliest candidate (``np.argmin``, as the paper's code).
* **Copying.** If the best match ends at ``t*``, the forecast copies the context after it,
  ``x_{t*+1}, ..., x_L`` (L the last context point), and, when the horizon is longer,
  repeats that block periodically (period ``L - t*``, at least ``D * tau``) until the
  horizon is filled (Algorithm 1: ``x_{t*+1:L}`` copied to ``x_{L+1:2L-t*}``, then
  repeated). The paper's code copies ``data[best_index:-1]``, i.e. without ``x_L``, so
  its block repeats with period ``L - t* - 1``; we follow the algorithm, which continues
  an exactly periodic context exactly (the code's block drops one point per repeat).

No training data: the forecast is a function of the context alone (``needs_fit`` False), and
it is invariant to a per-coordinate affine rescaling of the context, so no standardisation
is needed. A free run (:meth:`generate`) is the same periodic copy, as in the paper.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from dsrbench.methods.base import HyperparameterError, Method, check_context


def min_context_length(embedding_dim: int, delay: int) -> int:
    """The shortest context with one candidate match: ``(2 D - 1) tau + 1`` points (the
    query spans ``(D - 1) tau + 1`` points and a candidate must end ``D tau`` before it)."""
    return (2 * embedding_dim - 1) * delay + 1


def best_match(series: np.ndarray, embedding_dim: int, delay: int) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``series (S, L)``: the index where the copy starts (one past the end
    of the best-matching earlier delay vector) and the squared Euclidean distance of that
    match to the last delay vector. Vectorised over rows, O(S L D) operations and O(S L)
    memory; ties go to the earliest candidate."""
    x = np.asarray(series, dtype=np.float64)
    m, tau = int(embedding_dim), int(delay)
    n_cand = x.shape[1] - (2 * m - 1) * tau
    if n_cand < 1:
        raise ValueError(
            f"context_parroting: a context of {x.shape[1]} points is shorter than the "
            f"{min_context_length(m, tau)} that embedding_dim={m}, delay={tau} need; "
            "lengthen evaluation.context_length or lower embedding_dim"
        )
    query_start = x.shape[1] - 1 - (m - 1) * tau  # first point of the last delay vector
    d2 = np.zeros((x.shape[0], n_cand))
    for k in range(m):  # candidate r is (x_r, x_{r+tau}, ...): add one lag at a time
        d2 += (x[:, k * tau : k * tau + n_cand] - x[:, query_start + k * tau, None]) ** 2
    row = np.argmin(d2, axis=1)
    start = row + (m - 1) * tau + 1
    return start, d2[np.arange(x.shape[0]), row]


def parrot(series: np.ndarray, horizon: int, embedding_dim: int, delay: int) -> np.ndarray:
    """The parroting forecast ``(S, horizon)`` of each row of ``series (S, L)``: the points
    after the best match up to the last one, repeated periodically."""
    x = np.asarray(series, dtype=np.float64)
    start, _ = best_match(x, embedding_dim, delay)
    period = x.shape[1] - start
    idx = start[:, None] + np.arange(int(horizon))[None, :] % period[:, None]
    return np.take_along_axis(x, idx, axis=1)


class ContextParroting(Method):
    """Context parroting (Zhang & Gilpin 2025): per coordinate, copy what followed the nearest
    earlier delay vector of the context, repeated periodically; no training."""

    name = "context_parroting"
    needs_fit = False
    citation = (
        "Zhang & Gilpin, Context parroting: a simple but tough-to-beat baseline for foundation "
        "models in scientific machine learning, arXiv:2505.11349 (ICLR 2026)"
    )
    hyperparameters: ClassVar[dict[str, Any]] = {"embedding_dim": 10, "delay": 1}

    def __init__(self, **hyperparameters: Any) -> None:
        super().__init__(**hyperparameters)
        for key in ("embedding_dim", "delay"):
            value = self.params[key]
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise HyperparameterError(
                    f"context_parroting: {key} must be an integer >= 1, got {value!r}"
                )

    @property
    def min_context(self) -> int:
        """The fewest context points a forecast needs."""
        return min_context_length(self.params["embedding_dim"], self.params["delay"])

    def _series(self, context: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int]]:
        ctx = check_context(context)
        b, length, d = ctx.shape
        return ctx.transpose(0, 2, 1).reshape(b * d, length), (b, length, d)

    def matches(self, context: np.ndarray) -> np.ndarray:
        """The index ``(B, D)`` in each context where the copied block starts (one past the
        end of each coordinate's best match)."""
        series, (b, _, d) = self._series(context)
        start, _ = best_match(series, self.params["embedding_dim"], self.params["delay"])
        return start.reshape(b, d)

    def forecast(self, context: np.ndarray, horizon: int) -> np.ndarray:
        """The ``horizon`` states after each context ``(B, L, D)``: ``(B, horizon, D)``."""
        series, (b, _, d) = self._series(context)
        out = parrot(series, horizon, self.params["embedding_dim"], self.params["delay"])
        return out.reshape(b, d, int(horizon)).transpose(0, 2, 1)
