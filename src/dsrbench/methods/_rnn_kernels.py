"""Exact loss gradients of the latent piecewise-linear RNNs, in numba (float64, CPU).

Forward rollout and hand-derived backpropagation through time for K models at once (a
leading model axis on every parameter and on the data; K = 1 is a single model):

* :func:`shplrnn_gtf_loss_grad`: the shallow PLRNN ``z' = A z + W1 act + h`` with
  ``act = ReLU(W2 z + h2)`` (clipped: ``- ReLU(W2 z)``), trained with generalized teacher
  forcing (Hess et al. 2023, ICML): after each step the observed units (the first D) become
  ``(1 - alpha) z + alpha x_t``, alpha a constant (no gradient through it).
* :func:`alrnn_loss_grad`: the AL-RNN ``z' = A z + W Phi(z) + h``, Phi the identity on the
  first M - P units and ReLU on the last P (Brenner et al. 2024, NeurIPS), with sparse
  identity teacher forcing: at every t that is a multiple of tau the observed units are
  set to ``x_t`` after the prediction.

Both start from ``z_0 = [x_0, L x_0]`` (just ``x_0`` when M = D) and return the loss
``mean((z_t[:D] - x_t)^2)`` over the batch, t = 1..T-1 and the D observed units, the
states being those before forcing, and its gradients. They compute exactly what torch
autograd computes of the methods' own rollouts (``gtf_rollout``, ``sparse_tf_rollout``;
ReLU'(0) = 0, as in torch), up to the order of floating-point sums (tests: 1e-10 relative).

Speed: the per-step work is a few small matrix-vector products per batch element, which
eager torch spends on per-operation overhead. Here every inner loop runs over the batch
axis (states are stored ``(T, M, B)``), element-wise and without reductions, so it
vectorises under ``fastmath=False``; per-batch-element gradient accumulators are summed
once at the end. With several numba threads (``numba.set_num_threads``) the K models run
in parallel, one model per thread. The forward pass stores the latent inputs of every step (and the
shPLRNN's hidden pre-activations) for the backward pass; no allocation happens inside the
time loop.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

__all__ = ["alrnn_loss_grad", "shplrnn_gtf_forced_states", "shplrnn_gtf_loss_grad"]


# -- shared --------------------------------------------------------------------------------
@njit(cache=True, fastmath=False)
def _initial_latent(L: np.ndarray, x: np.ndarray, z0: np.ndarray) -> None:
    """``z0 (M, B) = [x_0, L x_0]`` of one model's batch ``x (B, T, D)``."""
    n_b, d = x.shape[0], x.shape[2]
    for b in range(n_b):
        for i in range(d):
            z0[i, b] = x[b, 0, i]
    for r in range(L.shape[0]):
        for b in range(n_b):
            acc = 0.0
            for i in range(d):
                acc += L[r, i] * x[b, 0, i]
            z0[d + r, b] = acc


@njit(cache=True, fastmath=False)
def _initial_latent_grad(x: np.ndarray, dz0: np.ndarray, gL: np.ndarray) -> None:
    """``gL (M - D, D) = sum_b dz0[D:, b] x_0[b]^T``."""
    n_b, d = x.shape[0], x.shape[2]
    for r in range(gL.shape[0]):
        for i in range(d):
            acc = 0.0
            for b in range(n_b):
                acc += dz0[d + r, b] * x[b, 0, i]
            gL[r, i] = acc


# -- shPLRNN + GTF ---------------------------------------------------------------------------
@njit(cache=True, fastmath=False)
def _shplrnn_forward(
    A: np.ndarray,
    W1: np.ndarray,
    W2: np.ndarray,
    h: np.ndarray,
    h2: np.ndarray,
    x: np.ndarray,
    alpha: float,
    clipped: bool,
    zin: np.ndarray,
    pre: np.ndarray,
    res: np.ndarray,
    forced: np.ndarray,
    want_forced: bool,
) -> float:
    """GTF rollout of one model. ``zin (T, M, B)``: zin[t - 1] is the input of step t
    (zin[0] = z_0 on entry); ``pre (T - 1, H, B)`` the hidden pre-activations ``W2 z``;
    ``res (T - 1, D, B)`` the residuals ``z_t[:D] - x_t`` before forcing. With
    ``want_forced``, ``forced (B, T - 1, M)`` receives the states after forcing. Returns the
    sum of squared residuals."""
    n_b, n_t, d = x.shape[0], x.shape[1], x.shape[2]
    m_dim, n_h = W1.shape[0], W1.shape[1]
    keep = 1.0 - alpha
    sse = 0.0
    zn = np.empty((m_dim, n_b))
    act = np.empty(n_b)
    for t in range(1, n_t):
        z = zin[t - 1]
        pt = pre[t - 1]
        for m in range(m_dim):
            am, hm = A[m], h[m]
            for b in range(n_b):
                zn[m, b] = am * z[m, b] + hm
        for j in range(n_h):
            p = pt[j]
            for b in range(n_b):
                p[b] = 0.0
            for m in range(m_dim):
                w = W2[j, m]
                for b in range(n_b):
                    p[b] += w * z[m, b]
            hj = h2[j]
            for b in range(n_b):
                act[b] = max(p[b] + hj, 0.0)
            if clipped:
                for b in range(n_b):
                    act[b] -= max(p[b], 0.0)
            for m in range(m_dim):
                w = W1[m, j]
                for b in range(n_b):
                    zn[m, b] += w * act[b]
        r = res[t - 1]
        for i in range(d):
            for b in range(n_b):
                e = zn[i, b] - x[b, t, i]
                r[i, b] = e
                sse += e * e
        znext = zin[t]
        for m in range(m_dim):
            for b in range(n_b):
                znext[m, b] = zn[m, b]
        if alpha > 0:
            for i in range(d):
                for b in range(n_b):
                    znext[i, b] = keep * zn[i, b] + alpha * x[b, t, i]
        if want_forced:
            for b in range(n_b):
                for m in range(m_dim):
                    forced[b, t - 1, m] = znext[m, b]
    return sse


@njit(cache=True, fastmath=False)
def _shplrnn_one(
    A: np.ndarray,
    W1: np.ndarray,
    W2: np.ndarray,
    h: np.ndarray,
    h2: np.ndarray,
    L: np.ndarray,
    x: np.ndarray,
    alpha: float,
    clipped: bool,
    gA: np.ndarray,
    gW1: np.ndarray,
    gW2: np.ndarray,
    gh: np.ndarray,
    gh2: np.ndarray,
    gL: np.ndarray,
) -> float:
    """Loss and gradients (written into the ``g*`` arrays) of one model."""
    n_b, n_t, d = x.shape[0], x.shape[1], x.shape[2]
    m_dim, n_h = W1.shape[0], W1.shape[1]
    zin = np.empty((n_t, m_dim, n_b))
    pre = np.empty((n_t - 1, n_h, n_b))
    res = np.empty((n_t - 1, d, n_b))
    _initial_latent(L, x, zin[0])
    sse = _shplrnn_forward(
        A, W1, W2, h, h2, x, alpha, clipped, zin, pre, res, np.empty((0, 0, 0)), False
    )
    scale = 2.0 / (n_b * (n_t - 1) * d)
    keep = 1.0 - alpha if alpha > 0 else 1.0
    # per-batch-element accumulators, summed over b at the end
    bA = np.zeros((m_dim, n_b))
    bh = np.zeros((m_dim, n_b))
    bW1 = np.zeros((n_h, m_dim, n_b))  # [j, m, b]
    bW2 = np.zeros((n_h, m_dim, n_b))  # [j, m, b]
    bh2 = np.zeros((n_h, n_b))
    carry = np.zeros((m_dim, n_b))  # d loss / d (input of step t + 1)
    dzn = np.empty((m_dim, n_b))  # d loss / d (output of step t, before forcing)
    act = np.empty(n_b)
    dact = np.empty(n_b)
    dpre = np.empty(n_b)
    for t in range(n_t - 1, 0, -1):
        z = zin[t - 1]
        pt = pre[t - 1]
        r = res[t - 1]
        for m in range(m_dim):
            for b in range(n_b):
                dzn[m, b] = carry[m, b]
        for i in range(d):
            for b in range(n_b):
                dzn[i, b] = keep * carry[i, b] + scale * r[i, b]
        for m in range(m_dim):
            for b in range(n_b):
                g = dzn[m, b]
                bA[m, b] += g * z[m, b]
                bh[m, b] += g
                carry[m, b] = A[m] * g
        for j in range(n_h):
            p = pt[j]
            hj = h2[j]
            for b in range(n_b):
                act[b] = max(p[b] + hj, 0.0)
                dact[b] = 0.0
            if clipped:
                for b in range(n_b):
                    act[b] -= max(p[b], 0.0)
            for m in range(m_dim):
                w = W1[m, j]
                for b in range(n_b):
                    dact[b] += w * dzn[m, b]
                    bW1[j, m, b] += dzn[m, b] * act[b]
            for b in range(n_b):
                on = 1.0 if p[b] + hj > 0 else 0.0
                bh2[j, b] += on * dact[b]
                if clipped and p[b] > 0:
                    on -= 1.0
                dpre[b] = on * dact[b]
            for m in range(m_dim):
                w = W2[j, m]
                for b in range(n_b):
                    bW2[j, m, b] += dpre[b] * z[m, b]
                    carry[m, b] += w * dpre[b]
    for m in range(m_dim):
        sa = 0.0
        sh = 0.0
        for b in range(n_b):
            sa += bA[m, b]
            sh += bh[m, b]
        gA[m] = sa
        gh[m] = sh
    for j in range(n_h):
        s2 = 0.0
        for b in range(n_b):
            s2 += bh2[j, b]
        gh2[j] = s2
        for m in range(m_dim):
            s1 = 0.0
            s = 0.0
            for b in range(n_b):
                s1 += bW1[j, m, b]
                s += bW2[j, m, b]
            gW1[m, j] = s1
            gW2[j, m] = s
    _initial_latent_grad(x, carry, gL)
    return sse / (n_b * (n_t - 1) * d)


@njit(cache=True, fastmath=False)
def _shplrnn_many(A, W1, W2, h, h2, L, x, alpha, clipped, gA, gW1, gW2, gh, gh2, gL, loss):
    for k in range(A.shape[0]):
        loss[k] = _shplrnn_one(
            A[k], W1[k], W2[k], h[k], h2[k], L[k], x[k], alpha[k], clipped,
            gA[k], gW1[k], gW2[k], gh[k], gh2[k], gL[k],
        )  # fmt: skip


@njit(cache=True, fastmath=False, parallel=True)
def _shplrnn_many_parallel(A, W1, W2, h, h2, L, x, alpha, clipped, gA, gW1, gW2, gh, gh2, gL, loss):
    for k in prange(A.shape[0]):
        loss[k] = _shplrnn_one(
            A[k], W1[k], W2[k], h[k], h2[k], L[k], x[k], alpha[k], clipped,
            gA[k], gW1[k], gW2[k], gh[k], gh2[k], gL[k],
        )  # fmt: skip


@njit(cache=True, fastmath=False)
def _shplrnn_forced_many(A, W1, W2, h, h2, L, x, alpha, clipped, out):
    n_b, n_t, d = x.shape[1], x.shape[2], x.shape[3]
    m_dim, n_h = W1.shape[1], W1.shape[2]
    for k in range(A.shape[0]):
        zin = np.empty((n_t, m_dim, n_b))
        pre = np.empty((n_t - 1, n_h, n_b))
        res = np.empty((n_t - 1, d, n_b))
        _initial_latent(L[k], x[k], zin[0])
        _shplrnn_forward(
            A[k], W1[k], W2[k], h[k], h2[k], x[k], alpha[k], clipped, zin, pre, res, out[k], True
        )


# -- AL-RNN + sparse teacher forcing -----------------------------------------------------------
@njit(cache=True, fastmath=False)
def _alrnn_one(
    A: np.ndarray,
    W: np.ndarray,
    h: np.ndarray,
    L: np.ndarray,
    x: np.ndarray,
    tau: int,
    relu_units: int,
    gA: np.ndarray,
    gW: np.ndarray,
    gh: np.ndarray,
    gL: np.ndarray,
) -> float:
    """Loss and gradients (written into the ``g*`` arrays) of one AL-RNN."""
    n_b, n_t, d = x.shape[0], x.shape[1], x.shape[2]
    m_dim = W.shape[0]
    first_relu = m_dim - relu_units
    zin = np.empty((n_t, m_dim, n_b))
    res = np.empty((n_t - 1, d, n_b))
    _initial_latent(L, x, zin[0])
    zn = np.empty((m_dim, n_b))
    phi = np.empty(n_b)
    sse = 0.0
    for t in range(1, n_t):
        z = zin[t - 1]
        for m in range(m_dim):
            am, hm = A[m], h[m]
            for b in range(n_b):
                zn[m, b] = am * z[m, b] + hm
        for n in range(m_dim):
            if n >= first_relu:
                for b in range(n_b):
                    phi[b] = max(z[n, b], 0.0)
            else:
                for b in range(n_b):
                    phi[b] = z[n, b]
            for m in range(m_dim):
                w = W[m, n]
                for b in range(n_b):
                    zn[m, b] += w * phi[b]
        r = res[t - 1]
        for i in range(d):
            for b in range(n_b):
                e = zn[i, b] - x[b, t, i]
                r[i, b] = e
                sse += e * e
        znext = zin[t]
        for m in range(m_dim):
            for b in range(n_b):
                znext[m, b] = zn[m, b]
        if t % tau == 0:
            for i in range(d):
                for b in range(n_b):
                    znext[i, b] = x[b, t, i]
    scale = 2.0 / (n_b * (n_t - 1) * d)
    bA = np.zeros((m_dim, n_b))
    bh = np.zeros((m_dim, n_b))
    bW = np.zeros((m_dim, m_dim, n_b))  # [n, m, b]
    carry = np.zeros((m_dim, n_b))
    dzn = np.empty((m_dim, n_b))
    dphi = np.empty(n_b)
    for t in range(n_t - 1, 0, -1):
        z = zin[t - 1]
        r = res[t - 1]
        for m in range(m_dim):
            for b in range(n_b):
                dzn[m, b] = carry[m, b]
        cut = t % tau == 0  # the observed units of the next input are data
        for i in range(d):
            for b in range(n_b):
                dzn[i, b] = scale * r[i, b] if cut else carry[i, b] + scale * r[i, b]
        for m in range(m_dim):
            for b in range(n_b):
                g = dzn[m, b]
                bA[m, b] += g * z[m, b]
                bh[m, b] += g
        for n in range(m_dim):
            relu = n >= first_relu
            if relu:
                for b in range(n_b):
                    phi[b] = max(z[n, b], 0.0)
            else:
                for b in range(n_b):
                    phi[b] = z[n, b]
            for b in range(n_b):
                dphi[b] = 0.0
            for m in range(m_dim):
                w = W[m, n]
                for b in range(n_b):
                    dphi[b] += w * dzn[m, b]
                    bW[n, m, b] += dzn[m, b] * phi[b]
            an = A[n]
            if relu:
                for b in range(n_b):
                    on = 1.0 if z[n, b] > 0 else 0.0
                    carry[n, b] = an * dzn[n, b] + on * dphi[b]
            else:
                for b in range(n_b):
                    carry[n, b] = an * dzn[n, b] + dphi[b]
    for m in range(m_dim):
        sa = 0.0
        sh = 0.0
        for b in range(n_b):
            sa += bA[m, b]
            sh += bh[m, b]
        gA[m] = sa
        gh[m] = sh
    for n in range(m_dim):
        for m in range(m_dim):
            s = 0.0
            for b in range(n_b):
                s += bW[n, m, b]
            gW[m, n] = s
    _initial_latent_grad(x, carry, gL)
    return sse / (n_b * (n_t - 1) * d)


@njit(cache=True, fastmath=False)
def _alrnn_many(A, W, h, L, x, tau, relu_units, gA, gW, gh, gL, loss):
    for k in range(A.shape[0]):
        loss[k] = _alrnn_one(
            A[k], W[k], h[k], L[k], x[k], tau, relu_units, gA[k], gW[k], gh[k], gL[k]
        )


@njit(cache=True, fastmath=False, parallel=True)
def _alrnn_many_parallel(A, W, h, L, x, tau, relu_units, gA, gW, gh, gL, loss):
    for k in prange(A.shape[0]):
        loss[k] = _alrnn_one(
            A[k], W[k], h[k], L[k], x[k], tau, relu_units, gA[k], gW[k], gh[k], gL[k]
        )


def _parallel(k: int) -> bool:
    """Spread the K models over numba's threads (``numba.set_num_threads``) when there are
    several of both; each model's arithmetic is the same either way (exact)."""
    return k > 1 and numba.get_num_threads() > 1


# -- the API ----------------------------------------------------------------------------------
def _array(name: str, a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``a`` as a C-contiguous float64 array of ``shape``, or an error naming it."""
    out = np.ascontiguousarray(a, dtype=np.float64)
    if out.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (model axis first), got {out.shape}")
    return out


def _data(x: np.ndarray, k: int, m: int) -> tuple[np.ndarray, int, int, int]:
    x = np.ascontiguousarray(x, dtype=np.float64)
    if x.ndim != 4 or x.shape[0] != k:
        raise ValueError(f"x must have shape (K={k}, B, T, D), got {x.shape}")
    _, n_b, n_t, d = x.shape
    if n_t < 2 or n_b < 1 or d < 1:
        raise ValueError(f"x needs B >= 1 windows of T >= 2 steps and D >= 1, got {x.shape}")
    if m < d:
        raise ValueError(f"latent dimension M={m} < observation dimension D={d} of x")
    return x, n_b, n_t, d


def _shplrnn_inputs(A, W1, W2, h, h2, L, x, alpha):
    A = np.ascontiguousarray(A, dtype=np.float64)
    if A.ndim != 2:
        raise ValueError(f"A must have shape (K, M) (model axis first), got {A.shape}")
    k, m = A.shape
    W1 = np.ascontiguousarray(W1, dtype=np.float64)
    if W1.ndim != 3:
        raise ValueError(f"W1 must have shape (K, M, H), got {W1.shape}")
    n_h = W1.shape[2]
    x, _, _, d = _data(x, k, m)
    arrays = (
        A,
        _array("W1", W1, (k, m, n_h)),
        _array("W2", W2, (k, n_h, m)),
        _array("h", h, (k, m)),
        _array("h2", h2, (k, n_h)),
        _array("L", L, (k, m - d, d)),
        x,
    )
    alpha = _array("alpha", np.broadcast_to(np.asarray(alpha, np.float64), (k,)), (k,))
    if np.any(~((alpha >= 0) & (alpha <= 1))):
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    return arrays, alpha


def shplrnn_gtf_loss_grad(
    A: np.ndarray,
    W1: np.ndarray,
    W2: np.ndarray,
    h: np.ndarray,
    h2: np.ndarray,
    L: np.ndarray,
    x: np.ndarray,
    alpha: np.ndarray,
    clipped: bool,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """GTF loss ``(K,)`` of K shPLRNNs on their batches ``x (K, B, T, D)`` and its gradients
    ``{"A", "W1", "W2", "h", "h2", "L"}`` (the parameters' shapes). ``A (K, M)`` is the
    diagonal, ``W1 (K, M, H)``, ``W2 (K, H, M)``, ``h (K, M)``, ``h2 (K, H)``,
    ``L (K, M - D, D)`` (``(K, 0, D)`` when M = D), ``alpha (K,)`` each model's constant
    GTF alpha (0: no forcing)."""
    (A, W1, W2, h, h2, L, x), alpha = _shplrnn_inputs(A, W1, W2, h, h2, L, x, alpha)
    params = {"A": A, "W1": W1, "W2": W2, "h": h, "h2": h2, "L": L}
    grads = {n: np.empty_like(a) for n, a in params.items()}
    loss = np.empty(A.shape[0])
    kernel = _shplrnn_many_parallel if _parallel(A.shape[0]) else _shplrnn_many
    kernel(
        A, W1, W2, h, h2, L, x, alpha, bool(clipped),
        grads["A"], grads["W1"], grads["W2"], grads["h"], grads["h2"], grads["L"], loss,
    )  # fmt: skip
    return loss, grads


def shplrnn_gtf_forced_states(
    A: np.ndarray,
    W1: np.ndarray,
    W2: np.ndarray,
    h: np.ndarray,
    h2: np.ndarray,
    L: np.ndarray,
    x: np.ndarray,
    alpha: np.ndarray,
    clipped: bool,
) -> np.ndarray:
    """The GTF rollout's states after forcing, ``(K, B, T - 1, M)`` (the ``forced`` output
    of ``gtf_rollout``; no gradient). Arguments as :func:`shplrnn_gtf_loss_grad`."""
    (A, W1, W2, h, h2, L, x), alpha = _shplrnn_inputs(A, W1, W2, h, h2, L, x, alpha)
    k, n_b, n_t, _ = x.shape
    out = np.empty((k, n_b, n_t - 1, A.shape[1]))
    _shplrnn_forced_many(A, W1, W2, h, h2, L, x, alpha, bool(clipped), out)
    return out


def alrnn_loss_grad(
    A: np.ndarray,
    W: np.ndarray,
    h: np.ndarray,
    L: np.ndarray,
    x: np.ndarray,
    tau: int,
    relu_units: int,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Sparse-teacher-forcing loss ``(K,)`` of K AL-RNNs on their batches
    ``x (K, B, T, D)`` and its gradients ``{"A", "W", "h", "L"}``. ``A (K, M)`` is the
    diagonal, ``W (K, M, M)``, ``h (K, M)``, ``L (K, M - D, D)``; the last ``relu_units``
    of the M units are ReLU units; the observed units are set to the data every ``tau``
    steps."""
    A = np.ascontiguousarray(A, dtype=np.float64)
    if A.ndim != 2:
        raise ValueError(f"A must have shape (K, M) (model axis first), got {A.shape}")
    k, m = A.shape
    x, _, _, d = _data(x, k, m)
    W = _array("W", W, (k, m, m))
    h = _array("h", h, (k, m))
    L = _array("L", L, (k, m - d, d))
    if int(tau) < 1:
        raise ValueError(f"tau (the forcing interval) must be >= 1, got {tau}")
    if not 0 <= int(relu_units) <= m:
        raise ValueError(f"relu_units must lie in 0..M={m}, got {relu_units}")
    grads = {n: np.empty_like(a) for n, a in {"A": A, "W": W, "h": h, "L": L}.items()}
    loss = np.empty(k)
    kernel = _alrnn_many_parallel if _parallel(k) else _alrnn_many
    kernel(
        A, W, h, L, x, int(tau), int(relu_units),
        grads["A"], grads["W"], grads["h"], grads["L"], loss,
    )  # fmt: skip
    return loss, grads
