"""The torch Dormand-Prince 5(4) solver that exposes its heuristics
(:mod:`dsrbench.methods._adaptive_solver`): against torchdiffeq's ``dopri5`` (solution,
accepted steps, NFE, gradients), closed forms (exponential decay, the harmonic oscillator,
the eigenvalue of ``y' = -lambda y``), and the ERNODE/SRNODE penalties of Pal et al. 2021."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torchdiffeq import odeint

from dsrbench.methods._adaptive_solver import (
    DP5_STABILITY_SIZE,
    AdaptiveSolverError,
    SolverRegularisation,
    annealed_weight,
    dopri5_solve,
    error_penalty,
    stiffness_penalty,
)

F64 = torch.float64


class Lorenz(torch.nn.Module):
    """Lorenz-63 (sigma 10, rho 28, beta 8/3); counts its calls and torchdiffeq's accepted steps."""

    def __init__(self) -> None:
        super().__init__()
        self.calls, self.accepted = 0, []

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        x, v, z = y[..., 0], y[..., 1], y[..., 2]
        return torch.stack([10 * (v - x), x * (28 - z) - v, x * v - 8 / 3 * z], dim=-1)

    def callback_accept_step(self, t0: torch.Tensor, y0: torch.Tensor, dt: torch.Tensor) -> None:
        self.accepted.append(float(t0 + dt))


def mlp_field(seed: int = 0, dim: int = 3, width: int = 16) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(dim, width), torch.nn.Tanh(), torch.nn.Linear(width, dim)
    ).to(F64)

    class Field(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return self.net(y)

    return Field()


@pytest.mark.parametrize(
    ("dtype", "rtol", "atol"),
    [(F64, 1e-4, 1e-4), (F64, 1e-7, 1e-9), (torch.float32, 1e-4, 1e-4)],
)
def test_lorenz_matches_torchdiffeq_step_for_step(dtype: torch.dtype, rtol: float, atol: float):
    y0 = torch.tensor([[1.0, 1.0, 1.0], [-5.0, 3.0, 20.0]], dtype=dtype)
    t = torch.linspace(0, 2, 21, dtype=dtype)
    ref_field, field = Lorenz(), Lorenz()
    ref = odeint(ref_field, y0, t, method="dopri5", rtol=rtol, atol=atol)
    sol = dopri5_solve(field, y0, t, rtol=rtol, atol=atol)
    assert sol.nfe == field.calls == ref_field.calls  # 2 + 6 per attempted step, both
    assert sol.n_accepted == len(ref_field.accepted) > 20
    np.testing.assert_allclose(sol.step_ends.numpy(), ref_field.accepted, rtol=1e-12, atol=0)
    scale = 1e-12 if dtype == F64 else 1e-5
    torch.testing.assert_close(sol.ys, ref, rtol=scale, atol=scale * 30)
    assert torch.all(sol.error_estimates <= 1.0)


def test_gradients_match_torchdiffeq():
    """Direct backpropagation through the same steps: the gradients agree to the solver's
    accuracy (torchdiffeq also differentiates its first step size; we hold all steps fixed)."""
    field = mlp_field()
    y0 = torch.randn(8, 3, dtype=F64, generator=torch.Generator().manual_seed(1))
    t = torch.linspace(0, 3, 7, dtype=F64)
    params = list(field.parameters())
    ref = torch.autograd.grad(odeint(field, y0, t, rtol=1e-8, atol=1e-8).pow(2).sum(), params)
    ours = torch.autograd.grad(
        dopri5_solve(field, y0, t, rtol=1e-8, atol=1e-8).ys.pow(2).sum(), params
    )
    for a, b in zip(ref, ours, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-8, atol=1e-8 * float(a.abs().max()))


def test_closed_forms_exponential_decay_and_harmonic_oscillator():
    t = torch.linspace(0, 5, 11, dtype=F64)
    rates = torch.tensor([0.5, 2.0], dtype=F64)
    omega = 3.0
    errors = []
    for tol in (1e-5, 1e-8, 1e-11):
        decay = dopri5_solve(
            lambda s, y: -rates * y, torch.ones(2, dtype=F64), t, rtol=tol, atol=tol
        )
        exact = torch.exp(-rates[None] * t[:, None])
        err_decay = float((decay.ys - exact).abs().max())
        # x'' = -omega^2 x, x(0) = 1, x'(0) = 0: x = cos(omega t), v = -omega sin(omega t)
        osc = dopri5_solve(
            lambda s, y: torch.stack([y[1], -(omega**2) * y[0]]),
            torch.tensor([1.0, 0.0], dtype=F64),
            t,
            rtol=tol,
            atol=tol,
        )
        exact_osc = torch.stack([torch.cos(omega * t), -omega * torch.sin(omega * t)], dim=1)
        err_osc = float((osc.ys - exact_osc).abs().max())
        assert err_decay < 10 * tol and err_osc < 100 * tol, (tol, err_decay, err_osc)
        errors.append(err_osc)
    assert errors[0] > errors[1] > errors[2]


def test_local_error_falls_with_rtol_while_the_scaled_estimate_stays_below_one():
    y0 = torch.tensor([[1.0, 1.0, 1.0]], dtype=F64)
    t = torch.tensor([0.0, 1.0], dtype=F64)
    medians = []
    for rtol in (1e-3, 1e-5, 1e-7):
        sol = dopri5_solve(Lorenz(), y0, t, rtol=rtol, atol=rtol)
        assert 0 < float(sol.error_estimates.max()) <= 1.0
        medians.append(float(sol.local_errors.median()))
    assert medians[0] > 10 * medians[1] > 100 * medians[2]


def test_local_error_estimate_is_the_embedded_solutions_true_error():
    """One step of y' = -y from 1: the estimate |y5 - y4| is O(dt^5) (the error of the
    4th-order embedded solution) while y5 is exact to O(dt^6), so the estimate is the true
    error of y4 to leading order, and shrinks 4^5-fold when dt shrinks 4-fold."""
    estimates, y5_errors = [], []
    for dt in (0.2, 0.05):
        sol = dopri5_solve(
            lambda s, y: -y, torch.ones(1, dtype=F64), [0.0, dt], first_step=dt, rtol=1, atol=1
        )
        assert sol.n_accepted == 1 and sol.n_rejected == 0
        estimates.append(float(sol.local_errors[0]))  # RMS of one element: |y5 - y4|
        y5_errors.append(abs(float(sol.ys[-1, 0]) - math.exp(-dt)))
    assert 4**5 * 0.7 < estimates[0] / estimates[1] < 4**5 * 1.3
    assert y5_errors[0] < 0.15 * estimates[0] and y5_errors[1] < 0.04 * estimates[1]


def test_stiffness_estimate_is_the_eigenvalue_of_a_linear_problem():
    lam = 50.0
    sol = dopri5_solve(
        lambda s, y: -lam * y, torch.ones(3, dtype=F64), [0.0, 1.0], rtol=1e-6, atol=1e-9
    )
    torch.testing.assert_close(
        sol.stiffness_estimates, torch.full_like(sol.stiffness_estimates, lam), rtol=1e-10, atol=0
    )
    # R_S's terms are lambda * dt_j
    terms = stiffness_penalty(sol, reduction="max"), stiffness_penalty(sol)
    assert float(terms[0]) == pytest.approx(lam * float(sol.step_sizes.max()), rel=1e-10)
    assert float(terms[1]) == pytest.approx(lam * float(sol.step_sizes.sum()), rel=1e-10)


def test_stiffness_estimate_finds_the_largest_eigenvalue_of_a_stiff_problem():
    """y' = -diag(1, 1000) y: ||A v|| / ||v|| never exceeds the largest |eigenvalue| 1000;
    while the fast mode dominates the stage differences (early) it equals it, and once that
    mode has decayed the steps are limited by stability, the estimate stays within 7 % of
    1000 and lambda dt sits at the edge of DP5's stability region (|dt lambda| ~ 3.3 on the
    negative real axis)."""
    lam = torch.tensor([1.0, 1000.0], dtype=F64)
    sol = dopri5_solve(lambda s, y: -lam * y, torch.ones(2, dtype=F64), [0.0, 1.0], rtol=1e-6)
    assert float(sol.stiffness_estimates.max()) <= 1000.0 * (1 + 1e-12)
    torch.testing.assert_close(
        sol.stiffness_estimates[:10], torch.full((10,), 1000.0, dtype=F64), rtol=1e-9, atol=0
    )
    late = sol.step_ends > 0.1
    estimates = sol.stiffness_estimates[late]
    assert late.sum() > 100
    assert float(estimates.min()) > 930.0 and float(estimates.median()) > 980.0
    scaled = float((estimates * sol.step_sizes[late]).median()) / DP5_STABILITY_SIZE
    assert 0.85 < scaled < 1.1


@pytest.mark.parametrize("which", ["error", "stiffness"])
def test_penalty_gradients_match_finite_differences_and_a_step_lowers_the_penalty(which: str):
    """The penalties' gradients are those of the steps taken (the controller is not
    differentiated, as in the paper). With ``ifactor = 1`` and no rejection the controller
    keeps ``first_step`` for every step, so the steps stay fixed when the field changes and
    R_E, R_S are smooth functions of its parameters: the autograd directional derivative
    equals central finite differences, and a small step against the gradient lowers them."""
    field = mlp_field(seed=3, width=8)
    y0 = torch.randn(16, 3, dtype=F64, generator=torch.Generator().manual_seed(2))
    reg = SolverRegularisation(
        error_weight=1.0 if which == "error" else 0.0,
        stiffness_weight=1.0 if which == "stiffness" else 0.0,
    )
    options = {"rtol": 1e-3, "atol": 1e-3, "first_step": 0.1, "ifactor": 1.0}

    def penalty() -> tuple[torch.Tensor, int]:
        sol = dopri5_solve(field, y0, [0.0, 2.0], **options)
        assert sol.n_rejected == 0 and torch.all(sol.step_sizes == 0.1)
        return reg.penalty(sol, 0, 1), sol.n_accepted

    before, n_steps = penalty()
    params = list(field.parameters())
    grads = torch.autograd.grad(before, params)
    direction = [g / max(float(g.abs().max()), 1e-12) for g in grads]
    along = sum(float((g * d).sum()) for g, d in zip(grads, direction, strict=True))

    def moved(step: float) -> tuple[float, int]:
        """The penalty with the parameters moved by ``step * direction`` (then restored)."""
        with torch.no_grad():
            for p, d in zip(params, direction, strict=True):
                p += step * d
            value, n = penalty()
            for p, d in zip(params, direction, strict=True):
                p -= step * d
        return float(value), n

    eps = 1e-5
    assert along > 0
    assert (moved(eps)[0] - moved(-eps)[0]) / (2 * eps) == pytest.approx(along, rel=1e-5)
    after, n_after = moved(-1e-2)
    assert n_after == n_steps and after < float(before.detach())


def test_penalties_reduce_over_accepted_steps_as_documented():
    sol = dopri5_solve(Lorenz(), torch.tensor([1.0, 1.0, 1.0], dtype=F64), [0.0, 1.0], rtol=1e-4)
    terms = sol.error_estimates * sol.step_sizes
    assert float(error_penalty(sol, 2.0)) == pytest.approx(2 * float(terms.sum()))
    assert float(error_penalty(sol, reduction="mean")) == pytest.approx(float(terms.mean()))
    assert float(
        stiffness_penalty(sol, stability_size=DP5_STABILITY_SIZE, reduction="mean")
    ) == pytest.approx(float((sol.stiffness_estimates * sol.step_sizes).mean()) / 3.3066)
    with pytest.raises(ValueError, match="reduction must be"):
        error_penalty(sol, reduction="median")  # type: ignore[arg-type]


def test_annealed_weight_and_regularisation_settings():
    assert annealed_weight(0, 75, 100.0, 10.0) == pytest.approx(100.0)
    assert annealed_weight(75, 75, 100.0, 10.0) == pytest.approx(10.0)
    assert annealed_weight(25, 75, 100.0, 10.0) == pytest.approx(100.0 * 10 ** (-1 / 3))
    reg = SolverRegularisation(error_weight=100.0, error_weight_end=10.0, stiffness_weight=0.5)
    assert reg.active and reg.error_weight_at(75, 75) == pytest.approx(10.0)
    sol = dopri5_solve(Lorenz(), torch.tensor([1.0, 1.0, 1.0], dtype=F64), [0.0, 0.5], rtol=1e-4)
    expected = (
        10.0 * (sol.error_estimates * sol.step_sizes).mean()
        + 0.5 * (sol.stiffness_estimates * sol.step_sizes).mean()
    )  # the default reduction is the released code's mean
    assert float(reg.penalty(sol, 75, 75)) == pytest.approx(float(expected), rel=1e-12)
    assert not SolverRegularisation().active
    with pytest.raises(ValueError, match="error_weight_end > 0"):
        SolverRegularisation(error_weight=0.0, error_weight_end=10.0)
    with pytest.raises(ValueError, match="must be >= 0"):
        SolverRegularisation(stiffness_weight=-1.0)


def test_bad_input_and_failures_raise_clear_errors():
    y0 = torch.ones(2, dtype=F64)
    with pytest.raises(ValueError, match="strictly increasing"):
        dopri5_solve(lambda s, y: -y, y0, [1.0, 0.0])
    with pytest.raises(ValueError, match="at least 2 output times"):
        dopri5_solve(lambda s, y: -y, y0, [0.0])
    with pytest.raises(TypeError, match="floating-point"):
        dopri5_solve(lambda s, y: -y, torch.ones(2, dtype=torch.int64), [0.0, 1.0])
    with pytest.raises(ValueError, match="rtol > 0"):
        dopri5_solve(lambda s, y: -y, y0, [0.0, 1.0], rtol=0.0)
    with pytest.raises(AdaptiveSolverError, match="max_num_steps=5"):
        dopri5_solve(Lorenz(), torch.ones(3, dtype=F64), [0.0, 10.0], max_num_steps=5)
    # blow-up in finite time (y' = y^2 from 1 reaches infinity at t = 1); like torchdiffeq's
    # failures, an AssertionError, so code written for torchdiffeq catches it
    with pytest.raises(AssertionError, match="dopri5_solve"):
        dopri5_solve(lambda s, y: y**2, y0, [0.0, 2.0], max_num_steps=10_000)
