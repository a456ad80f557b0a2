"""The largest Lyapunov exponents of a learned map by the QR (Benettin) method.

:func:`lyapunov_qr` runs the QR method on any discrete map ``x -> step(x)`` with a Jacobian
``jacobian(x)`` (Benettin, Galgani, Giorgilli & Strelcyn 1980, *Meccanica* 15; Eckmann &
Ruelle 1985, *Rev. Mod. Phys.* 57, 617): tangent vectors are propagated by the Jacobian and
re-orthonormalised by a QR factorisation; the exponents are the time averages of
``log |R_ii|``, divided by the time step. The evaluation applies it to learned models (RNN,
NVAR, ...) that expose ``step`` and ``jacobian`` (docs/metrics.md); the true systems'
exponents are computed by :mod:`dsrbench.integration.lyapunov`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["lyapunov_qr"]


def lyapunov_qr(
    step: Callable[[np.ndarray], np.ndarray],
    jacobian: Callable[[np.ndarray], np.ndarray],
    x0: np.ndarray,
    n_steps: int,
    *,
    dt: float = 1.0,
    n_exponents: int = 1,
    transient: int = 0,
    renorm_every: int = 1,
    seed: int = 0,
    jvp: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """Leading Lyapunov exponents of the map ``x -> step(x)`` by the QR method.

    Benettin et al. (1980); Eckmann & Ruelle (1985): ``Q <- jacobian(x) Q`` along the orbit,
    re-orthonormalised by ``Q, R = qr(Q)`` every ``renorm_every`` steps; the exponents are
    ``sum log |R_ii| / (n_steps dt)``.

    Args:
        step: the map, ``step(x) -> x_next`` (state of shape (D,)).
        jacobian: ``jacobian(x) -> (D, D)``, the derivative of ``step`` at ``x``.
        x0: initial state (D,).
        n_steps: map steps over which the exponents are averaged (docs/metrics.md: >= 10^4).
        dt: time per map step; exponents are returned per unit time (``dt = 1``: per step).
        n_exponents: how many leading exponents (<= D).
        transient: steps run first (state and tangents) and not averaged.
        renorm_every: steps between two QR factorisations.
        seed: seeds the random initial tangent vectors.
        jvp: optional ``jvp(x, Q) -> jacobian(x) @ Q`` computed without the Jacobian (a
            large reservoir's state); used instead of ``jacobian`` when given.

    Returns:
        The ``n_exponents`` leading exponents, in decreasing order (up to estimation noise).
    """
    x = np.array(x0, dtype=np.float64).reshape(-1)
    d = x.size
    if not 1 <= n_exponents <= d:
        raise ValueError(f"n_exponents must be in [1, {d}], got {n_exponents}")
    if n_steps < 1 or transient < 0 or renorm_every < 1 or not dt > 0:
        raise ValueError("need n_steps >= 1, transient >= 0, renorm_every >= 1 and dt > 0")
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, n_exponents)))
    logs = np.zeros(n_exponents)
    total = transient + n_steps
    for i in range(total):
        if jvp is not None:
            q = np.asarray(jvp(x, q), dtype=np.float64)
        else:
            q = np.asarray(jacobian(x), dtype=np.float64) @ q
        x = np.asarray(step(x), dtype=np.float64).reshape(-1)
        if (i + 1) % renorm_every == 0 or i + 1 == transient or i + 1 == total:
            if n_exponents == 1:  # a one-column QR is a normalisation (no LAPACK call)
                norm = float(np.sqrt(q[:, 0] @ q[:, 0]))
                q, diag = q / norm, np.array([norm])
            else:
                q, r = np.linalg.qr(q)
                diag = np.abs(np.diag(r))
            if not np.all(np.isfinite(diag)) or not np.all(np.isfinite(x)):
                raise FloatingPointError(f"non-finite state or tangent at step {i + 1}")
            if i >= transient:
                with np.errstate(divide="ignore"):
                    logs += np.log(diag)
    return logs / (n_steps * dt)
