"""A differentiable Dormand-Prince 5(4) solver in torch that exposes its internal heuristics.

The groundwork of the solver-heuristic regularisers of Pal, Ma, Shah & Rackauckas 2021,
"Opening the Blackbox: Accelerating Neural Differential Equations by Regularizing Internal
Solver Heuristics", ICML (ERNODE and SRNODE). torchdiffeq computes the local error estimate
of every step but does not return it; :func:`dopri5_solve` returns, for every accepted
step ``j``:

* the step size ``dt_j`` (a constant for autograd: the step-size controller is not
  differentiated, as in the paper's discrete sensitivities);
* the **local error estimate** ``EEst_j = RMS( dt_j sum_i e_i k_i / (atol + rtol
  max(|y_j|, |y_{j+1}|)) )``, the tolerance-scaled quantity that accepts the step when
  it is <= 1 (Hairer, Norsett & Wanner, *Solving ODEs I*, 2nd ed., eq. II.4.11; the RMS
  runs over every element of the state, batch included, so a batch has one step size);
* the **stiffness estimate** ``lambda_j = ||k7 - k6|| / ||g7 - g6||`` (Shampine 1977;
  Hairer & Wanner, *Solving ODEs II*, section IV.2): stages 6 and 7 of Dormand-Prince
  are both evaluated at ``t + dt``, at the inputs ``g6`` and ``g7 = y_{j+1}`` (FSAL), so
  the ratio estimates the largest |eigenvalue| of the Jacobian along ``g7 - g6``;

both differentiable with respect to the parameters of ``f`` and the initial state.

Step control follows torchdiffeq 0.2.5's ``dopri5`` so that the accepted steps and the
solution agree with ``torchdiffeq.odeint(..., method="dopri5")`` to rounding: Shampine's
error weights (``b - b_hat``, two thirds of Hairer's DOPRI5 estimate), the RMS norm,
Hairer's initial-step rule (*Solving ODEs I*, section II.4, with order 4), the controller
``dt_next = dt * min(ifactor, max(safety * EEst^(-1/5), dfactor if EEst > 1 else 1))``,
and the solution at the output times from the quartic dense output through the
step's midpoint. Not carried over: torchdiffeq's ``step_t``/``jump_t``, ``min_step``/
``max_step``, decreasing output times, events, and its one-ulp perturbation of the time
of stages 6 and 7 (which only a non-autonomous ``f`` with a discontinuity notices).

Wiring into a trainer (``node``): with ``reg = SolverRegularisation(...)`` active, solve a
batch with ``sol = dopri5_solve(field, x0, t, rtol=..., atol=...)`` in place of
``torchdiffeq.odeint`` (``sol.ys`` is ``odeint``'s output, ``(len(t), B, D)``), add
``reg.penalty(sol, epoch, epochs)`` to the batch's loss, and log ``sol.nfe``;
:class:`AdaptiveSolverError` is an ``AssertionError``, so the existing skip of failed
batches applies unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch

__all__ = [
    "DP5_STABILITY_SIZE",
    "AdaptiveSolution",
    "AdaptiveSolverError",
    "SolverRegularisation",
    "annealed_weight",
    "dopri5_solve",
    "error_penalty",
    "stiffness_penalty",
]

VectorField = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Reduction = Literal["sum", "mean", "max"]

# Dormand & Prince 1980, "A family of embedded Runge-Kutta formulae", J. Comput. Appl. Math.
# 6(1), table 2 (the 5th-order solution weights b equal the last row of A: FSAL).
C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
#: error weights b - b_hat with Shampine's embedded 4th-order weights b_hat (as torchdiffeq;
#: Shampine 1986, "Some practical Runge-Kutta formulas", Math. Comp. 46)
E = (
    35 / 384 - 1951 / 21600,
    0.0,
    500 / 1113 - 22642 / 50085,
    125 / 192 - 451 / 720,
    -2187 / 6784 + 12231 / 42400,
    11 / 84 - 649 / 6300,
    -1 / 60,
)
#: weights of the midpoint y(t + dt/2) of the dense output (Shampine 1986)
MID = (
    6025192743 / 30085553152 / 2,
    0.0,
    51252292925 / 65400821598 / 2,
    -2691868925 / 45128329728 / 2,
    187940372067 / 1594534317056 / 2,
    -1776094331 / 19743644256 / 2,
    11237099 / 235043384 / 2,
)
ORDER = 5  # of the solution; the controller's exponent is -1/ORDER, as torchdiffeq's
#: |dt lambda| at the edge of DP5's stability region on the negative real axis
#: (OrdinaryDiffEq's ``alg_stability_size(DP5)``); lambda_j dt_j / DP5_STABILITY_SIZE > 1
#: means the step is limited by stability rather than accuracy
DP5_STABILITY_SIZE = 3.3066


class AdaptiveSolverError(AssertionError):
    """The solver could not continue: a non-finite state, a step-size underflow, or more
    than ``max_num_steps`` attempted steps between two output times. It subclasses
    :class:`AssertionError` because torchdiffeq reports the same failures by ``assert``,
    so code that catches torchdiffeq's failures catches these unchanged."""


@dataclass(frozen=True)
class AdaptiveSolution:
    """What :func:`dopri5_solve` returns; ``n`` is the number of accepted steps.

    ``ys``: ``(len(t), *y0.shape)``, the solution at the output times (``ys[0] = y0``).
    ``step_ends``: ``(n,)`` float64, the time at the end of each accepted step.
    ``step_sizes``: ``(n,)`` float64, ``dt_j`` (no gradient).
    ``error_estimates``: ``(n,)``, ``EEst_j`` (differentiable; <= 1 by acceptance).
    ``local_errors``: ``(n,)``, the RMS of the unscaled estimate ``dt_j sum_i e_i k_i``
    (differentiable; it falls with the tolerances, ``EEst_j`` does not).
    ``stiffness_estimates``: ``(n,)``, ``lambda_j`` (differentiable; 0 where ``g7 = g6``).
    ``nfe``: evaluations of ``f``; ``n_rejected``: rejected steps.
    """

    ys: torch.Tensor
    step_ends: torch.Tensor
    step_sizes: torch.Tensor
    error_estimates: torch.Tensor
    local_errors: torch.Tensor
    stiffness_estimates: torch.Tensor
    nfe: int
    n_rejected: int

    @property
    def n_accepted(self) -> int:
        return int(self.step_sizes.numel())


def _rms(x: torch.Tensor) -> torch.Tensor:
    return x.pow(2).mean().sqrt()


def _initial_step(
    f: VectorField, t0: float, y0: torch.Tensor, f0: torch.Tensor, rtol: float, atol: float
) -> float:
    """Hairer, Norsett & Wanner, *Solving ODEs I*, section II.4 ("starting step size"),
    for an error estimator of order 4, in the state's precision as torchdiffeq computes it."""
    scale = atol + y0.abs() * rtol
    d0, d1 = _rms(y0 / scale), _rms(f0 / scale)
    if d0 < 1e-5 or d1 < 1e-5:
        h0 = torch.tensor(1e-6, dtype=y0.dtype, device=y0.device)
    else:
        h0 = 0.01 * d0 / d1
    f1 = f(torch.tensor(t0 + float(h0), dtype=y0.dtype, device=y0.device), y0 + h0 * f0)
    d2 = _rms((f1 - f0) / scale) / h0
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = torch.clamp(h0 * 1e-3, min=1e-6)
    else:
        h1 = (0.01 / torch.maximum(d1, d2)) ** (1.0 / ORDER)
    return float(torch.minimum(100 * h0, h1))


def _next_step(dt: float, ratio: float, safety: float, ifactor: float, dfactor: float) -> float:
    """torchdiffeq's controller: grow by at most ``ifactor``; after a rejection shrink by at
    most ``dfactor``; never shrink after an accepted step."""
    if ratio == 0.0:
        return dt * ifactor
    floor = dfactor if ratio >= 1.0 else 1.0
    return dt * min(ifactor, max(safety / ratio ** (1.0 / ORDER), floor))


def _stiffness(dk: torch.Tensor, dg: torch.Tensor) -> torch.Tensor:
    """``||dk|| / ||dg||``, and 0 where ``dg = 0`` (no gradient through a zero norm)."""
    num, den = torch.linalg.vector_norm(dk), torch.linalg.vector_norm(dg)
    positive = den > 0
    return torch.where(positive, num / torch.where(positive, den, 1.0), 0.0)


def _quartic(
    y0: torch.Tensor, y1: torch.Tensor, y_mid: torch.Tensor, f0: torch.Tensor, f1: torch.Tensor, dt
) -> list[torch.Tensor]:
    """Coefficients ``[p0, .., p4]`` of the quartic ``p(x) = sum_n p_n x^n`` on ``x in [0, 1]``
    with ``p(0) = y0``, ``p(1) = y1``, ``p(1/2) = y_mid``, ``p'(0) = dt f0``, ``p'(1) = dt f1``:
    Shampine 1986's dense output of Dormand-Prince (torchdiffeq's, in its order of terms)."""
    p4 = 2 * dt * (f1 - f0) - 8 * (y1 + y0) + 16 * y_mid
    p3 = dt * (5 * f0 - 3 * f1) + 18 * y0 + 14 * y1 - 32 * y_mid
    p2 = dt * (f1 - 4 * f0) - 11 * y0 - 5 * y1 + 16 * y_mid
    return [y0, dt * f0, p2, p3, p4]


def _evaluate(coeffs: Sequence[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """``sum_n coeffs[n] x^n``, summed in torchdiffeq's order."""
    total, power = coeffs[0] + x * coeffs[1], x
    for c in coeffs[2:]:
        power = power * x
        total = total + power * c
    return total


def _combine(y0: torch.Tensor, ks: Sequence[torch.Tensor], w_dt: torch.Tensor) -> torch.Tensor:
    """``y0 + sum_i (w_i dt) k_i`` over the stages ``ks`` (summed as torchdiffeq sums them, so
    that float32 runs round alike)."""
    return y0 + (torch.stack(list(ks), dim=-1) * w_dt).sum(dim=-1)


def _check_inputs(y0: torch.Tensor, t: torch.Tensor, rtol: float, atol: float) -> None:
    if not isinstance(y0, torch.Tensor) or not torch.is_floating_point(y0):
        raise TypeError(f"dopri5_solve: y0 must be a floating-point tensor, got {y0!r:.80}")
    if t.ndim != 1 or t.numel() < 2:
        raise ValueError(
            f"dopri5_solve: t must be a 1-D tensor of at least 2 output times, "
            f"got shape {tuple(t.shape)}"
        )
    if not bool(torch.all(t[1:] > t[:-1])):
        raise ValueError("dopri5_solve: the output times t must be strictly increasing")
    if not (rtol > 0 and atol >= 0):
        raise ValueError(f"dopri5_solve: need rtol > 0 and atol >= 0, got {rtol=}, {atol=}")


def dopri5_solve(
    f: VectorField,
    y0: torch.Tensor,
    t: torch.Tensor | Sequence[float],
    *,
    rtol: float = 1e-7,
    atol: float = 1e-9,
    safety: float = 0.9,
    ifactor: float = 10.0,
    dfactor: float = 0.2,
    first_step: float | None = None,
    max_num_steps: int = 2**31 - 1,
) -> AdaptiveSolution:
    """Solve ``dy/dt = f(t, y)`` from ``y(t[0]) = y0`` with adaptive Dormand-Prince 5(4).

    ``f(t, y)``: an ``nn.Module`` or callable, ``t`` a 0-dim tensor of ``y0``'s dtype, ``y`` of
    ``y0``'s shape (any: ``(B, D)`` for a batch). ``t``: the increasing output times.
    Defaults are torchdiffeq's (``rtol`` 1e-7, ``atol`` 1e-9, ``safety`` 0.9, ``ifactor``
    10, ``dfactor`` 0.2, ``first_step`` from Hairer's rule). ``max_num_steps``: attempted
    steps allowed between two output times (torchdiffeq's option of that name).

    Gradients flow through every stage to ``y0`` and the parameters of ``f`` (direct
    backpropagation, the paper's discrete sensitivities); the step sizes are constants.
    Raises :class:`AdaptiveSolverError` where torchdiffeq's ``odeint`` asserts.
    """
    t = torch.as_tensor(t, dtype=torch.float64)
    rtol, atol = float(rtol), float(atol)
    _check_inputs(y0, t, rtol, atol)
    dtype, device = y0.dtype, y0.device
    a_rows = [torch.tensor(row, dtype=dtype, device=device) for row in A]
    e_w = torch.tensor(E, dtype=dtype, device=device)
    mid_w = torch.tensor(MID, dtype=dtype, device=device)
    times = t.tolist()

    def tensor_time(value: float) -> torch.Tensor:
        return torch.tensor(value, dtype=dtype, device=device)

    t0 = times[0]
    y, f_y = y0, f(tensor_time(t0), y0)
    nfe = 1
    if first_step is None:
        with torch.no_grad():
            dt = _initial_step(f, t0, y0.detach(), f_y.detach(), rtol, atol)
        nfe += 1
    else:
        dt = float(first_step)
    outputs = [y0]
    step_ends: list[float] = []
    step_sizes: list[float] = []
    errors: list[torch.Tensor] = []
    local_errors: list[torch.Tensor] = []
    stiffness: list[torch.Tensor] = []
    n_rejected = 0
    last: tuple[float, torch.Tensor, torch.Tensor, torch.Tensor] | None = None  # t, y, f, k
    coeffs: list[torch.Tensor] | None = None
    for t_out in times[1:]:
        attempts = 0
        while t_out > t0:  # t0: the end of the last accepted step
            if attempts >= max_num_steps:
                raise AdaptiveSolverError(
                    f"dopri5_solve: more than max_num_steps={max_num_steps} steps before "
                    f"t={t_out}; raise max_num_steps or loosen rtol/atol"
                )
            attempts += 1
            if not math.isfinite(dt):
                dt = 0.0
            t1 = t0 + dt
            if not t1 > t0:
                raise AdaptiveSolverError(f"dopri5_solve: step size underflow (dt={dt}) at t={t0}")
            if not bool(torch.isfinite(y).all()):
                raise AdaptiveSolverError(f"dopri5_solve: non-finite state at t={t0}")
            dt_state = tensor_time(dt)  # the step in the state's precision, as torchdiffeq
            ks = [f_y]
            for i in range(1, 7):
                g = _combine(y, ks, a_rows[i] * dt_state)
                ks.append(f(tensor_time(t1 if C[i] == 1.0 else t0 + C[i] * dt), g))
                if i == 5:
                    g6 = g
            y1, k = g, torch.stack(ks, dim=-1)
            # Hairer, Norsett & Wanner I, eqs. (4.10)-(4.11): the RMS of the tolerance-scaled error
            error = (k * (e_w * dt_state)).sum(dim=-1)
            scaled = error / (atol + rtol * torch.maximum(y.abs(), y1.abs()))
            ratio = _rms(scaled)
            nfe += 6
            ratio_value = float(ratio.detach())
            if not math.isfinite(ratio_value):
                raise AdaptiveSolverError(
                    f"dopri5_solve: non-finite stage values in the step from t={t0} (the "
                    "vector field returned inf or nan)"
                )
            if ratio_value <= 1.0:
                errors.append(ratio)
                local_errors.append(_rms(error))
                stiffness.append(_stiffness(ks[6] - ks[5], y1 - g6))
                step_ends.append(t1)
                step_sizes.append(dt)
                last, coeffs = (t0, y, f_y, k), None
                y, f_y, t0 = y1, ks[6], t1
            else:
                n_rejected += 1
            dt = _next_step(dt, ratio_value, safety, ifactor, dfactor)
        assert last is not None
        t_prev, y_prev, f_prev, k_prev = last
        h = t0 - t_prev
        if coeffs is None:  # the dense output of the last accepted step, fitted once
            h_state = tensor_time(h)
            y_mid = y_prev + (k_prev * (mid_w * h_state)).sum(dim=-1)
            coeffs = _quartic(y_prev, y, y_mid, f_prev, f_y, h_state)
        outputs.append(_evaluate(coeffs, tensor_time((t_out - t_prev) / h)))
    empty = y0.new_zeros(0)
    return AdaptiveSolution(
        ys=torch.stack(outputs),
        step_ends=torch.tensor(step_ends, dtype=torch.float64),
        step_sizes=torch.tensor(step_sizes, dtype=torch.float64),
        error_estimates=torch.stack(errors) if errors else empty,
        local_errors=torch.stack(local_errors) if local_errors else empty,
        stiffness_estimates=torch.stack(stiffness) if stiffness else empty,
        nfe=nfe,
        n_rejected=n_rejected,
    )


def _reduce(values: torch.Tensor, reduction: Reduction, name: str) -> torch.Tensor:
    if reduction == "sum":
        return values.sum()
    if values.numel() == 0:
        return values.new_zeros(())
    if reduction == "mean":
        return values.mean()
    if reduction == "max":
        return values.max()
    raise ValueError(f"{name}: reduction must be 'sum', 'mean' or 'max', got {reduction!r}")


def error_penalty(
    solution: AdaptiveSolution, weight: float = 1.0, reduction: Reduction = "sum"
) -> torch.Tensor:
    """ERNODE's penalty ``weight * R_E``, ``R_E = sum_j EEst_j |dt_j|`` over the accepted
    steps (Pal et al. 2021, section 3, as printed: the default ``reduction="sum"``).
    ``"mean"`` averages ``EEst_j |dt_j|`` over the steps instead, as the authors' released
    code does (its weights, e.g. 100 annealed to 10 on MNIST, go with the mean); ``"max"``
    takes the largest term."""
    return weight * _reduce(
        solution.error_estimates * _step_sizes(solution), reduction, "error_penalty"
    )


def stiffness_penalty(
    solution: AdaptiveSolution,
    weight: float = 1.0,
    reduction: Reduction = "sum",
    stability_size: float = 1.0,
) -> torch.Tensor:
    """SRNODE's penalty ``weight * R_S``, ``R_S = sum_j lambda_j |dt_j|`` over the accepted
    steps (Pal et al. 2021, section 3, as printed). ``stability_size``: divide by it (the
    released code divides by the method's stability-region size, :data:`DP5_STABILITY_SIZE`
    for Dormand-Prince, so that ``lambda_j dt_j / size > 1`` means "stiff at this step");
    ``reduction`` as in :func:`error_penalty`."""
    if not stability_size > 0:
        raise ValueError(f"stiffness_penalty: stability_size must be > 0, got {stability_size}")
    terms = solution.stiffness_estimates * _step_sizes(solution) / stability_size
    return weight * _reduce(terms, reduction, "stiffness_penalty")


def _step_sizes(solution: AdaptiveSolution) -> torch.Tensor:
    estimates = solution.error_estimates
    return solution.step_sizes.abs().to(estimates.dtype).to(estimates.device)


def annealed_weight(epoch: int, epochs: int, start: float, end: float) -> float:
    """The paper's exponentially annealed weight ``start * exp(-k epoch)`` with
    ``k = log(start / end) / epochs`` (Pal et al. 2021, MNIST: 100 -> 10 over 75 epochs;
    PhysioNet: 1000 -> 100 over 300): ``start`` at epoch 0, ``end`` at ``epochs``."""
    if epochs < 1 or start <= 0 or end <= 0:
        raise ValueError(
            f"annealed_weight: need epochs >= 1 and start, end > 0, got {epochs=}, {start=}, {end=}"
        )
    return start * math.exp(-math.log(start / end) * epoch / epochs)


@dataclass(frozen=True)
class SolverRegularisation:
    """The ERNODE and SRNODE terms of a training loss, as one object a trainer holds.

    ``error_weight``: lambda_E at epoch 0 (0: no ERNODE term); ``error_weight_end``: lambda_E
    at the last epoch, reached by :func:`annealed_weight` (None: constant);
    ``stiffness_weight``: lambda_S (0: no SRNODE term); ``reduction`` and ``stability_size``
    as in :func:`error_penalty` and :func:`stiffness_penalty`. ``penalty(solution, epoch,
    epochs)`` is the term to add to the loss of a batch solved by :func:`dopri5_solve`.
    """

    error_weight: float = 0.0
    error_weight_end: float | None = None
    stiffness_weight: float = 0.0
    reduction: Reduction = "mean"  # the released code's, with which the paper's weights go
    stability_size: float = 1.0

    def __post_init__(self) -> None:
        if self.error_weight < 0 or self.stiffness_weight < 0:
            raise ValueError(
                "SolverRegularisation: error_weight and stiffness_weight must be >= 0, got "
                f"{self.error_weight} and {self.stiffness_weight}"
            )
        if self.error_weight_end is not None and not (
            self.error_weight > 0 and self.error_weight_end > 0
        ):
            raise ValueError(
                "SolverRegularisation: an annealed error weight needs error_weight > 0 and "
                f"error_weight_end > 0, got {self.error_weight} -> {self.error_weight_end}"
            )
        if self.reduction not in ("sum", "mean", "max"):
            raise ValueError(
                f"SolverRegularisation: reduction must be 'sum', 'mean' or 'max', got "
                f"{self.reduction!r}"
            )

    @property
    def active(self) -> bool:
        """Whether the loss has a solver term (else solve with any solver, torchdiffeq's)."""
        return self.error_weight > 0 or self.stiffness_weight > 0

    def error_weight_at(self, epoch: int, epochs: int) -> float:
        if self.error_weight_end is None or self.error_weight == 0:
            return self.error_weight
        return annealed_weight(epoch, epochs, self.error_weight, self.error_weight_end)

    def penalty(self, solution: AdaptiveSolution, epoch: int, epochs: int) -> torch.Tensor:
        total = solution.ys.new_zeros(())
        if self.error_weight > 0:
            weight = self.error_weight_at(epoch, epochs)
            total = total + error_penalty(solution, weight, self.reduction)
        if self.stiffness_weight > 0:
            total = total + stiffness_penalty(
                solution, self.stiffness_weight, self.reduction, self.stability_size
            )
        return total
