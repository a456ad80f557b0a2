"""Neural ODE: dx/dt = f_theta(x), trained through an ODE solver (torchdiffeq).

Chen, Rubanova, Bettencourt & Duvenaud 2018, "Neural ordinary differential equations",
NeurIPS; settings of Gilpin 2023 (the dysts benchmark's ``NODEForecast``: torchdiffeq, a
30-unit residual MLP, weights drawn from N(0, 0.1^2) and zero biases, Adam at learning rate
1e-2, batches of 128 windows whose length is tuned in {2, 5, 15, 30, 60, 120}) and of the DSR
papers (dopri5 at tolerance 1e-4), see docs/methods.md.

* Vector field, on standardised coordinates::

      f(x) = g(x) [+ A x + b],
      g    = Linear(D, H) -> tanh -> [n_blocks x residual block] -> Linear(H, D),
      residual block: h -> h + SiLU(W2 SiLU(W1 h + c1) + c2)

  ``g`` is Gilpin 2023's network (H = 30, one block), the default. The optional linear
  skip ``A x + b`` (``linear_skip``, initialised at zero so training starts from Gilpin's
  field) carries a linear part; ``field = "linear"`` keeps only it (``dx/dt = A x + b``).
* Time: one data step is one model time unit (Gilpin's ``t = arange(n)``), so the field is
  the change per data step, of order 0.1 on standardised data at 15 to 100 points per
  period, which suits the small initial weights; the data's spacing dt does not enter.
* Training: windows of ``seq_len`` points (:func:`dsrbench.methods.trainer.sample_windows`), the
  solution from each window's first point compared with the rest of the window (MSE), Adam
  (or RAdam) with a learning rate decaying exponentially per epoch from ``lr_start`` to
  ``lr_end`` (Gilpin keeps 1e-2 fixed for 500 iterations); direct backpropagation through
  the solver (no adjoint), float32. The default window of 15 points is from Gilpin's grid;
  on Lorenz-63 at 50 points per period 30-point windows left the field stuck near zero.
  A batch on which the solver fails (or whose loss is not finite) is skipped; the epoch
  log counts them (``skipped``). ``dtype``: float32 (Gilpin's) or float64.
* ``jacobian_weight`` > 0 adds a Jacobian penalty of the one-step solver map at the
  windows' first points, weighted by each point's one-step error (after JAWS, Nie &
  Suzuki 2026; :mod:`dsrbench.methods._jacobian_penalty`); 0, the default, is off.
* Many models (:meth:`NeuralODE.fit_many`): with a fixed-step solver and Adam, the models of
  a chunk train together (:mod:`dsrbench.methods._node_many`, equal to their lone runs up to
  rounding); with an adaptive solver or RAdam, one after another; with the solver-heuristic
  regularisation and Adam, in one group whose batch solves each model with its own steps.
* Solver-heuristic regularisation (Pal, Ma, Shah & Rackauckas 2021, "Opening the Blackbox",
  ICML; off by default): ``ernode_weight`` > 0 adds ``lambda_E R_E`` (the local error
  estimates, ERNODE), ``srnode_weight`` > 0 adds ``lambda_S R_S`` (the stiffness estimates,
  SRNODE) to the loss; training then integrates with
  :func:`dsrbench.methods._adaptive_solver.dopri5_solve` (torchdiffeq's ``dopri5`` steps,
  which exposes both estimates) and needs ``method = "dopri5"``. The epoch log gains
  ``mse``, ``R_E``, ``R_S`` and ``nfe`` (means over the batches; R unweighted).
* Solvers: ``method`` is any torchdiffeq method (``dopri5`` with ``rtol``/``atol``, the
  default; fixed-grid ones step ``1 / substeps``); ``"rk4"`` is the classical fixed-step
  Runge-Kutta scheme with ``substeps`` steps per data step, implemented here (torchdiffeq's
  ``rk4`` is the 3/8 rule) so that forecasts, the Lyapunov step map and its Jacobian are one
  and the same map; it is the fast option of the quick settings.
* Predictions integrate from the last context point on the data grid in float64: with
  ``method = "rk4"`` in numpy (the step map of the Lyapunov exponent, the torch map up to
  rounding), else in torch, in chunks of ``CHUNK`` steps under ``torch.no_grad``. An
  adaptive solver chooses one step size for the whole batch of contexts (torchdiffeq's norm
  runs over the batch). A batch whose
  integration fails (step-size underflow, non-finite states, more than
  ``MAX_SOLVER_STEPS`` steps per data step) is retried one trajectory at a time and a
  failing trajectory is bisected in time, so only the diverging trajectory, from where it
  diverges, is nan; nothing raises. ``forecast_nfe_`` holds the vector-field evaluations
  of the last forecast or free run (one evaluation covers the batch of contexts; retries
  included).
* ``has_jacobian``: the state is the standardised x; the step map is the RK4 flow over one
  data step with ``substeps`` steps (for ``method = "rk4"`` exactly the forecast map, for
  ``dopri5`` an approximation of it of the solvers' accuracy), its Jacobian (and the
  Jacobian-vector products of the QR Lyapunov exponent) by forward-mode differentiation of
  the RK4 stages in numpy float64.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np
import torch
import xarray as xr

from dsrbench.methods import _jacobian_penalty as jacobian
from dsrbench.methods._adaptive_solver import (
    AdaptiveSolution,
    SolverRegularisation,
    dopri5_solve,
    error_penalty,
    stiffness_penalty,
)
from dsrbench.methods.base import (
    DEFAULT_CONTEXT,
    FitContext,
    FitOutcome,
    FitTask,
    Method,
    RunFiles,
    check_context,
)
from dsrbench.methods.trainer import (
    Batch,
    Member,
    SavedNetwork,
    TrainingStep,
    fit_in_groups,
    loop_settings,
    resolve_device,
    sample_windows,
    seed_everything,
    train_one,
    validation_stsp,
)

#: data steps integrated per call in forecasts and free runs
CHUNK = 1000
FIELDS = ("residual_mlp", "linear")
#: torchdiffeq's fixed-step methods (they step ``1 / substeps`` per data step)
FIXED_GRID = (
    "euler",
    "midpoint",
    "heun2",
    "heun3",
    "explicit_adams",
    "implicit_adams",
    "fixed_adams",
)
#: adaptive solver steps allowed per data step in predictions (more: the run diverged)
MAX_SOLVER_STEPS = 1000
DTYPES = {"float32": torch.float32, "float64": torch.float64}


class ResidualBlock(torch.nn.Module):
    """``h + SiLU(W2 SiLU(W1 h + c1) + c2)`` (Gilpin 2023's ``ResNet`` block)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(width, width),
            torch.nn.SiLU(),
            torch.nn.Linear(width, width),
            torch.nn.SiLU(),
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.net(h)


class VectorField(torch.nn.Module):
    """``f(x) = A x + b + g(x)``: ``linear`` is the skip ``A x + b`` (None without it),
    ``mlp`` the residual network ``g`` (None for a linear field)."""

    def __init__(
        self,
        dim: int,
        hidden: int,
        *,
        blocks: int = 1,
        linear_skip: bool = True,
        mlp: bool = True,
    ) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(dim, dim) if linear_skip else None
        self.mlp = None
        if mlp:
            self.mlp = torch.nn.Sequential(
                torch.nn.Linear(dim, hidden),
                torch.nn.Tanh(),
                *[ResidualBlock(hidden) for _ in range(blocks)],
                torch.nn.Linear(hidden, dim),
            )
        if self.linear is None and self.mlp is None:
            raise ValueError("node: the vector field needs the linear skip or the MLP")

    def initialise(self, std: float) -> None:
        """Gilpin 2023: MLP weights from N(0, std^2), biases 0; the linear skip at 0."""
        with torch.no_grad():
            if self.mlp is not None:
                for module in self.mlp.modules():
                    if isinstance(module, torch.nn.Linear):
                        torch.nn.init.normal_(module.weight, mean=0.0, std=std)
                        torch.nn.init.zeros_(module.bias)
            if self.linear is not None:
                torch.nn.init.zeros_(self.linear.weight)
                torch.nn.init.zeros_(self.linear.bias)

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        out = self.mlp(x) if self.mlp is not None else None
        if self.linear is not None:
            out = self.linear(x) if out is None else out + self.linear(x)
        return out


def rk4_steps(field: torch.nn.Module, x: torch.Tensor, steps: int, substeps: int) -> torch.Tensor:
    """The classical RK4 solution at ``steps`` data steps after ``x (B, D)``, ``substeps``
    steps of size ``1 / substeps`` per data step; shape ``(steps, B, D)``."""
    h = 1.0 / substeps
    t = torch.zeros((), dtype=x.dtype, device=x.device)
    out = []
    for _ in range(steps):
        for _ in range(substeps):
            k1 = field(t, x)
            k2 = field(t, x + 0.5 * h * k1)
            k3 = field(t, x + 0.5 * h * k2)
            k4 = field(t, x + h * k3)
            x = x + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
        out.append(x)
    return torch.stack(out)


def _field_tangent(
    w: dict[str, Any], x: np.ndarray, dx: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """``f(x)`` of :class:`VectorField` weights ``w`` at ``x (B, D)`` and its Jacobian
    applied to ``dx (B, D, k)`` (forward mode; None: the value only)."""

    def lin(name: str, a: np.ndarray) -> np.ndarray:
        return a @ w[name + ".weight"].T + w[name + ".bias"]

    def tan(name: str, da: np.ndarray) -> np.ndarray:
        return np.einsum("oi,bik->bok", w[name + ".weight"], da)

    out = np.zeros_like(x)
    dout = None if dx is None else np.zeros_like(dx)
    if "mlp.0.weight" in w:
        a = np.tanh(lin("mlp.0", x))
        da = None if dx is None else (1 - a * a)[..., None] * tan("mlp.0", dx)
        for i in range(int(w["_blocks"])):
            pre = f"mlp.{2 + i}.net."
            y1 = lin(pre + "0", a)
            s1 = 1 / (1 + np.exp(-y1))
            u = y1 * s1
            y2 = lin(pre + "2", u)
            s2 = 1 / (1 + np.exp(-y2))
            if da is not None:  # silu'(y) = s (1 + y (1 - s))
                du = (s1 * (1 + y1 * (1 - s1)))[..., None] * tan(pre + "0", da)
                da = da + (s2 * (1 + y2 * (1 - s2)))[..., None] * tan(pre + "2", du)
            a = a + y2 * s2
        last = f"mlp.{2 + int(w['_blocks'])}"
        out = out + lin(last, a)
        if dout is not None:
            dout = dout + tan(last, da)
    if "linear.weight" in w:
        out = out + lin("linear", x)
        if dout is not None:
            dout = dout + tan("linear", dx)
    return out, dout


class CountingField(torch.nn.Module):
    """``field`` that counts its evaluations (``calls``): the NFE of a solve."""

    def __init__(self, field: torch.nn.Module) -> None:
        super().__init__()
        self.field, self.calls = field, 0

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.field(t, x)


SOLVER_STATS = ("mse", "R_E", "R_S", "nfe")


def regularised_window_loss(
    model: NeuralODE,
    field: Any,
    windows: torch.Tensor,
    epoch: int,
) -> tuple[torch.Tensor, dict[str, float]] | None:
    """The loss of one model's ``windows (B, seq, D)`` with the solver-heuristic terms (Pal
    et al. 2021): the MSE of the :func:`dopri5_solve` solution from each window's first
    point plus ``lambda_E R_E + lambda_S R_S`` at ``epoch``, and the batch's unweighted
    ``R_E``, ``R_S``, its ``mse`` and ``nfe``; None where the solver fails."""
    reg = model._solver_regularisation()
    try:
        sol = model._solve_adaptive(field, windows[:, 0], windows.shape[1] - 1)
    except AssertionError:  # AdaptiveSolverError: the batch is skipped, as torchdiffeq's
        return None
    mse = torch.mean((sol.ys[1:].transpose(0, 1) - windows[:, 1:]) ** 2)
    loss = mse + reg.penalty(sol, epoch, int(model.params["epochs"]))
    with torch.no_grad():
        stats = {
            "mse": float(mse),
            "R_E": float(error_penalty(sol, 1.0, reg.reduction)),
            "R_S": float(stiffness_penalty(sol, 1.0, reg.reduction)),
            "nfe": float(sol.nfe),
        }
    return loss, stats


class SolverStats:
    """Per-model means over an epoch's batches of :data:`SOLVER_STATS`."""

    def __init__(self, n_models: int) -> None:
        self.sums = np.zeros((n_models, len(SOLVER_STATS)))
        self.counts = np.zeros(n_models)

    def add(self, k: int, stats: dict[str, float]) -> None:
        self.sums[k] += [stats[name] for name in SOLVER_STATS]
        self.counts[k] += 1

    def rows(self) -> list[dict[str, float]]:
        with np.errstate(all="ignore"):
            means = self.sums / self.counts[:, None]
        return [dict(zip(SOLVER_STATS, map(float, row), strict=True)) for row in means]


def dtype_name(dtype: torch.dtype) -> str:
    """The numpy name of a torch floating dtype."""
    return {torch.float32: "float32", torch.float64: "float64"}[dtype]


class NodeStep(TrainingStep):
    """The training step of one neural ODE with a torch optimiser (Adam or RAdam; any
    solver): windows of ``seq_len`` points, the solution from each window's first point
    against the rest of the window (MSE), the learning rate decaying exponentially per
    epoch. A batch on which the solver fails or whose loss is not finite is skipped (as
    Gilpin 2023 does; the ``skipped`` column of the log)."""

    def __init__(
        self, model: NeuralODE, x: np.ndarray, v: np.ndarray | None, device: torch.device
    ) -> None:
        self.model, self.val, self.device = model, v, device
        dtype = model._training_dtype()
        self.x = x.astype(dtype_name(dtype))
        self.field = model._field(x.shape[2])
        self.field.initialise(float(model.params["init_std"]))
        self.field = self.field.to(device, dtype)
        epochs = int(model.params["epochs"])
        lr0, lr1 = float(model.params["lr_start"]), float(model.params["lr_end"])
        optimizers = {"adam": torch.optim.Adam, "radam": torch.optim.RAdam}
        self.optimizer = optimizers[model.params["optimizer"]](self.field.parameters(), lr=lr0)
        # exponential decay per epoch: gamma^epochs = lr_end / lr_start
        self.scheduler = torch.optim.lr_scheduler.ExponentialLR(
            self.optimizer, (lr1 / lr0) ** (1.0 / max(1, epochs))
        )
        self.seq = min(int(model.params["seq_len"]), x.shape[1])
        self.batch_size = int(model.params["batch_size"])
        self.n_batches = int(model.params["batches_per_epoch"])
        self.done = 0
        self.regularised = model._solver_regularisation().active
        self.stats = SolverStats(1)

    def state(self) -> dict[str, Any]:
        return {"model": self.field, "optimizer": self.optimizer, "scheduler": self.scheduler}

    def begin_epoch(self, epoch: int) -> None:
        self.done = 0
        self.stats = SolverStats(1)

    def loss(self, batch: Batch) -> torch.Tensor:
        w = torch.as_tensor(
            sample_windows(self.x, self.seq, self.batch_size, batch.rngs[0]), device=self.device
        )
        if self.regularised:
            out = regularised_window_loss(self.model, self.field, w, batch.epoch)
            if out is None:
                return torch.full((1,), float("nan"))
            loss, stats = out
            self.stats.add(0, stats)
            if torch.isfinite(loss):
                loss.backward()
            return loss.detach().reshape(1)
        try:
            pred = self.model._solve(self.field, w[:, 0], self.seq - 1).transpose(0, 1)
        except AssertionError:  # the solver failed on this batch (Gilpin skips too)
            return torch.full((1,), float("nan"))
        loss = torch.mean((pred - w[:, 1:]) ** 2)
        if jacobian.enabled(self.model.params):  # JAWS-style penalty (docs/methods.md)
            try:
                loss = loss + self._jacobian_penalty(w, pred, batch)
            except AssertionError:
                return torch.full((1,), float("nan"))
        if torch.isfinite(loss):  # no gradient from a diverged batch
            loss.backward()
        return loss.detach().reshape(1)

    def _jacobian_penalty(self, w: torch.Tensor, pred: torch.Tensor, batch: Batch) -> torch.Tensor:
        """``jacobian_weight`` x the weighted ``||J||_F^2`` of the one-step solver map at
        the windows' first points, weighted by their first step's squared error
        (:mod:`dsrbench.methods._jacobian_penalty`)."""
        params = self.model.params

        def one_step(z: torch.Tensor) -> torch.Tensor:
            return self.model._solve(self.field, z[0], 1)[0][None]

        residual = ((pred[:, 0] - w[:, 1]) ** 2).mean(dim=-1)[None]
        penalty = jacobian.jacobian_penalty(
            one_step, w[None, :, 0], residual, batch.rngs[:1], params
        )
        return float(params["jacobian_weight"]) * penalty[0]

    def after_step(self, moved: np.ndarray) -> None:
        self.done += int(moved[0])

    def end_epoch(self, epoch: int) -> list[dict[str, float]]:
        row: dict[str, float] = {"skipped": self.n_batches - self.done}
        if self.regularised:
            row.update(self.stats.rows()[0])
        return [row]

    def validate(self, k: int) -> float | None:
        if self.val is None:
            return None
        with torch.no_grad():
            return validation_stsp(
                lambda c, n: self.model._generate_std(c, n, self.field), self.val[:, :1000]
            )

    def weights(self, k: int) -> dict[str, torch.Tensor]:
        return {n: t.detach().clone() for n, t in self.field.state_dict().items()}


class NeuralODE(SavedNetwork, Method):
    """Neural ODE with a residual MLP vector field (Chen et al. 2018; Gilpin 2023)."""

    weights_file: ClassVar[str] = "field.pt"

    name = "node"
    label = "neural ODE"
    color = "#1f77b4"
    uses_torch = True
    fitted_arrays = ("mean", "std")
    hyperparameters: ClassVar[dict[str, Any]] = {
        "field": "residual_mlp",  # or "linear": dx/dt = A x + b
        "hidden_dim": 30,  # Gilpin 2023
        "n_blocks": 1,  # residual blocks (two SiLU layers each), Gilpin 2023
        "linear_skip": False,  # Gilpin 2023 has none
        "init_std": 0.1,  # Gilpin 2023
        "method": "dopri5",  # a torchdiffeq method, or "rk4" (fixed steps)
        "rtol": 1e-4,  # DSR papers (docs/methods.md)
        "atol": 1e-4,
        "substeps": 4,  # RK4 steps per data step ("rk4" and the Lyapunov step map)
        "seq_len": 15,  # window length (Gilpin 2023 tunes it in {2, 5, 15, 30, 60, 120})
        "batch_size": 128,  # Gilpin 2023
        "batches_per_epoch": 20,
        "epochs": 100,
        "optimizer": "adam",  # or "radam"
        "dtype": "float32",  # training precision (Gilpin 2023: float32); or "float64"
        "lr_start": 1e-2,  # Gilpin 2023 (constant there)
        "lr_end": 1e-4,
        "checkpoint_every": 10,
        "validate_every": 25,
        # the JAWS-style Jacobian penalty (methods/_jacobian_penalty.py): off at weight 0
        "jacobian_weight": 0.0,
        "jacobian_weighting": "adaptive",  # or "uniform"
        "jacobian_points": 32,
        "jacobian_probes": 1,
        # Pal et al. 2021 (ERNODE/SRNODE), off by default; on: trains through dopri5_solve
        "ernode_weight": 0.0,  # lambda_E at the first epoch (paper: 100 -> 10, 1000 -> 100)
        "ernode_weight_end": None,  # lambda_E at the last epoch (exp. anneal); None: constant
        "srnode_weight": 0.0,  # lambda_S (paper: 0.0285 MNIST, 0.285 PhysioNet)
        "solver_reg_reduction": "mean",  # over the accepted steps, as the released code
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {
        "method": "rk4",
        "substeps": 1,
        "epochs": 30,
        "batches_per_epoch": 10,
        "batch_size": 64,
        "seq_len": 10,
        "lr_end": 1e-3,
        "validate_every": 15,
    }
    #: the Gilpin 2023 grid (its benchmark code)
    grid: ClassVar[dict[str, list[Any]]] = {"seq_len": [2, 5, 15, 30, 60, 120]}
    citation = "Chen et al., Neural ordinary differential equations, NeurIPS 2018"

    # -- the model ----------------------------------------------------------------------------
    def _field(self, dim: int) -> VectorField:
        kind = self.params["field"]
        if kind not in FIELDS:
            raise ValueError(f"node: field must be one of {FIELDS}, got {kind!r}")
        linear_only = kind == "linear"
        return VectorField(
            dim,
            int(self.params["hidden_dim"]),
            blocks=int(self.params["n_blocks"]),
            linear_skip=bool(self.params["linear_skip"]) or linear_only,
            mlp=not linear_only,
        )

    def _solve(
        self,
        field: torch.nn.Module,
        x0: torch.Tensor,
        steps: int,
        max_steps: int | None = None,
    ) -> torch.Tensor:
        """States at 1..steps data steps after ``x0 (B, D)``, shape ``(steps, B, D)``.
        ``max_steps``: at most that many adaptive solver steps per data step."""
        method = str(self.params["method"])
        substeps = int(self.params["substeps"])
        if method == "rk4":
            return rk4_steps(field, x0, steps, substeps)
        from torchdiffeq import odeint

        t = torch.arange(steps + 1, dtype=x0.dtype, device=x0.device)
        if method in FIXED_GRID:
            options: dict[str, Any] = {"step_size": 1.0 / substeps}
        else:
            options = {} if max_steps is None else {"max_num_steps": max_steps}
        sol = odeint(
            field,
            x0,
            t,
            method=method,
            rtol=float(self.params["rtol"]),
            atol=float(self.params["atol"]),
            options=options,
        )
        return sol[1:]

    def _solver_regularisation(self) -> SolverRegularisation:
        """The ERNODE/SRNODE terms these settings ask for (inactive by default)."""
        end = self.params["ernode_weight_end"]
        return SolverRegularisation(
            error_weight=float(self.params["ernode_weight"]),
            error_weight_end=None if end is None else float(end),
            stiffness_weight=float(self.params["srnode_weight"]),
            reduction=self.params["solver_reg_reduction"],
        )

    def _solve_adaptive(
        self, field: Any, x0: torch.Tensor, steps: int, max_steps: int | None = None
    ) -> AdaptiveSolution:
        """:func:`dopri5_solve` over ``steps`` data steps from ``x0 (B, D)`` at this
        model's tolerances (torchdiffeq's ``dopri5`` steps, with the estimates)."""
        t = torch.arange(steps + 1, dtype=torch.float64)
        extra = {} if max_steps is None else {"max_num_steps": max_steps}
        return dopri5_solve(
            field,
            x0,
            t,
            rtol=float(self.params["rtol"]),
            atol=float(self.params["atol"]),
            **extra,
        )

    # -- training -----------------------------------------------------------------------------
    def _training_dtype(self) -> torch.dtype:
        name = self.params["dtype"]
        if name not in DTYPES:
            raise ValueError(f"node: dtype must be one of {sorted(DTYPES)}, got {name!r}")
        return DTYPES[name]

    def _check_settings(self) -> None:
        if self.params["optimizer"] not in ("adam", "radam"):
            raise ValueError("node: optimizer must be one of ['adam', 'radam']")
        self._training_dtype()
        jacobian.check_settings(self.params, self.name)
        if self._solver_regularisation().active and self.params["method"] != "dopri5":
            raise ValueError(
                "node: ernode_weight and srnode_weight regularise the adaptive solver's "
                f"estimates and need method='dopri5', got method={self.params['method']!r}"
            )

    def trains_together(self) -> bool:
        """Whether models with these settings train as a group (:meth:`fit_many`) with
        Adam: a fixed-step solver (``rk4`` or a fixed-grid torchdiffeq method; one
        vectorised solve), or the solver-heuristic regularisation (each model's own
        adaptive steps in the group's batch)."""
        method = self.params["method"]
        fixed = method == "rk4" or method in FIXED_GRID
        regularised = self._solver_regularisation().active
        return (fixed or regularised) and self.params["optimizer"] == "adam"

    def fit(
        self,
        train: xr.Dataset,
        val: xr.Dataset | None = None,
        ctx: FitContext = DEFAULT_CONTEXT,
    ) -> Self:
        self._check_settings()
        if self.trains_together():  # one model of the vectorised training
            task = FitTask(train, val, ctx.seed, dict(self.params), ctx.run, self.name)
            self._fit_together(
                [self], [task], device=ctx.device, budget=ctx.budget, raise_errors=True
            )
            return self
        return self._fit_alone(
            train, val, device=ctx.device, seed=ctx.seed, budget=ctx.budget, run=ctx.run
        )

    @classmethod
    def fit_many(
        cls,
        tasks: Sequence[FitTask],
        *,
        device: str = "auto",
        budget: float | None = None,
    ) -> list[FitOutcome]:
        """Fit one model per task. Models with a fixed-step solver and Adam that share their
        settings, dimension, window length and checkpoint epoch train together
        (:mod:`dsrbench.methods._node_many`: parameters with a leading model axis, one
        solve and one optimiser step a batch for all); the others one after another."""
        outcomes: list[FitOutcome] = [FitOutcome(None, "not fitted") for _ in tasks]
        together: dict[int, NeuralODE] = {}
        for i, task in enumerate(tasks):
            try:
                model = cls(**dict(task.hyperparameters))
                model._check_settings()
            except Exception as exc:
                outcomes[i] = FitOutcome.failed(exc)
                continue
            if model.trains_together():
                together[i] = model
            else:
                outcomes[i] = super().fit_many([task], device=device, budget=budget)[0]
        fitted = cls._fit_together(
            list(together.values()),
            [tasks[i] for i in together],
            device=device,
            budget=budget,
        )
        for i, outcome in zip(together, fitted, strict=True):
            outcomes[i] = outcome
        return outcomes

    @classmethod
    def _fit_together(
        cls,
        models: Sequence[NeuralODE],
        tasks: Sequence[FitTask],
        *,
        device: str,
        budget: float | None,
        raise_errors: bool = False,
    ) -> list[FitOutcome]:
        """Train ``models[i]`` on ``tasks[i]``, grouped as :meth:`fit_many` says;
        ``raise_errors`` re-raises the first error (``fit``)."""
        from dsrbench.methods._node_many import train_group

        dev = resolve_device(device)

        def key(member: Member) -> tuple:
            model = member.model
            params = tuple(sorted((k, repr(v)) for k, v in model.params.items()))
            return (params, model.train_x_.shape[2], model.seq_, member.start_epoch)

        def train(members: list[Member]) -> None:
            train_group(members, dev, members[0].model._training_dtype(), budget)

        return fit_in_groups(
            models,
            tasks,
            prepare=lambda model, task: model._prepare(task),
            key=key,
            train=train,
            cleanup=lambda model: model._drop_training_state(),
            raise_errors=raise_errors,
        )

    def _prepare(self, task: FitTask) -> Member:
        """A model of the vectorised training: its generator, standardised data (kept as
        ``train_x_``, ``val_x_`` while it trains), initial field and checkpoint."""
        dtype = self._training_dtype()
        rng = seed_everything(task.seed)  # as a lone run: torch seed, then the field
        x, v = self.fit_scale(task.train, task.val)
        field = self._field(x.shape[2])
        field.initialise(float(self.params["init_std"]))
        init = {n: t.detach().clone() for n, t in field.state_dict().items()}
        self.train_x_, self.val_x_ = x.astype(dtype_name(dtype)), v
        self.seq_ = min(int(self.params["seq_len"]), x.shape[1])
        member = Member(rng, task.run, task.name, self, init)
        member.read_checkpoint({n: tuple(t.shape) for n, t in init.items()})
        return member

    def _drop_training_state(self) -> None:
        for attr in ("train_x_", "val_x_", "seq_"):
            self.__dict__.pop(attr, None)

    def _fit_alone(
        self,
        train: xr.Dataset,
        val: xr.Dataset | None,
        *,
        device: str,
        seed: int,
        budget: float | None,
        run: RunFiles | None,
    ) -> Self:
        """One model with its own torch optimiser (adaptive solvers, RAdam): a
        :class:`NodeStep` in :func:`~dsrbench.methods.trainer.train_one`."""
        rng = seed_everything(seed)
        dev = resolve_device(device)
        x, v = self.fit_scale(train, val)
        step = NodeStep(self, x, v, dev)
        self.training_result_, weights = train_one(
            step,
            rng,
            run,
            budget=budget,
            **loop_settings(self.params, self.name),
        )
        self._set_field(weights)
        return self

    def _set_field(self, state: dict[str, torch.Tensor]) -> None:
        """The inference copy of the field: CPU, float64."""
        field = self._field(self.mean_.size)
        field.load_state_dict({k: v.detach().cpu() for k, v in state.items()})
        self.field_ = field.to(torch.float64).eval()

    # -- inference ----------------------------------------------------------------------------
    def _integrate(self, field: torch.nn.Module, x0: torch.Tensor, steps: int) -> np.ndarray:
        """``(B, steps, D)`` states after ``x0``; nan where (and after) the solver fails."""
        try:
            sol = self._solve(field, x0, steps, MAX_SOLVER_STEPS).transpose(0, 1)
            return sol.to("cpu", torch.float64).numpy()
        except (AssertionError, OverflowError):
            pass  # torchdiffeq asserts: dt underflow, non-finite state, max_num_steps
        if x0.shape[0] > 1:  # isolate the failing trajectories
            return np.concatenate(
                [self._integrate(field, x0[i : i + 1], steps) for i in range(x0.shape[0])]
            )
        out = np.full((1, steps, x0.shape[1]), np.nan)
        if steps > 1:  # bisect in time: keep the states before the failure
            half = steps // 2
            out[:, :half] = self._integrate(field, x0, half)
            last = out[:, half - 1]
            if np.all(np.isfinite(last)):
                x1 = torch.as_tensor(last, dtype=x0.dtype, device=x0.device)
                out[:, half:] = self._integrate(field, x1, steps - half)
        return out

    def _generate_std(
        self, ctx_std: np.ndarray, steps: int, field: torch.nn.Module | None = None
    ) -> np.ndarray:
        """Free runs ``(B, steps, D)`` from the last context points (standardised). The
        trained model with ``method = "rk4"`` runs in numpy (:meth:`_rk4_numpy`, the same
        map as :meth:`step`); a training-time ``field`` and the other solvers in torch."""
        if field is None and self.params["method"] == "rk4":
            self.forecast_nfe_ = 4 * int(self.params["substeps"]) * steps
            return self._rk4_numpy(np.asarray(ctx_std, dtype=np.float64)[:, -1], steps)
        field = self.field_ if field is None else field
        param = next(field.parameters())
        field = CountingField(field)
        x0 = torch.as_tensor(np.asarray(ctx_std)[:, -1], dtype=param.dtype, device=param.device)
        out = np.full((x0.shape[0], steps, x0.shape[1]), np.nan)
        alive = np.ones(x0.shape[0], dtype=bool)
        done = 0
        with torch.no_grad(), np.errstate(all="ignore"):
            while done < steps and alive.any():
                n = min(CHUNK, steps - done)
                idx = np.flatnonzero(alive)
                values = self._integrate(field, x0[idx], n)
                out[idx, done : done + n] = values
                alive[idx] = np.all(np.isfinite(values[:, -1]), axis=1)
                x0 = x0.clone()
                x0[idx] = torch.as_tensor(values[:, -1], dtype=x0.dtype, device=x0.device)
                done += n
        self.forecast_nfe_ = field.calls
        return out

    def forecast(self, context: np.ndarray, horizon: int) -> np.ndarray:
        ctx = self.to_model(check_context(context))
        with np.errstate(all="ignore"):
            return self.from_model(self._generate_std(ctx, horizon))

    # -- Lyapunov interface (state: the standardised x, the base class's initial_state) -----

    def _step_map(self, x: torch.Tensor) -> torch.Tensor:
        return rk4_steps(self.field_, x, 1, int(self.params["substeps"]))[0]

    def _rk4_numpy(self, x: np.ndarray, steps: int) -> np.ndarray:
        """``(B, steps, D)``: RK4 with ``substeps`` steps per data step in numpy float64
        (the torch map :func:`rk4_steps` up to rounding, several times faster for the small
        batches of inference); nan from a trajectory's first non-finite state on."""
        w = self._numpy_field()
        substeps = int(self.params["substeps"])
        h = 1.0 / substeps
        out = np.empty((x.shape[0], steps, x.shape[1]))
        with np.errstate(all="ignore"):
            for t in range(steps):
                for _ in range(substeps):
                    k1 = _field_tangent(w, x, None)[0]
                    k2 = _field_tangent(w, x + 0.5 * h * k1, None)[0]
                    k3 = _field_tangent(w, x + 0.5 * h * k2, None)[0]
                    k4 = _field_tangent(w, x + h * k3, None)[0]
                    x = x + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
                out[:, t] = x
        out[np.cumsum(~np.isfinite(out).all(axis=2), axis=1) > 0] = np.nan
        return out

    def step(self, state: np.ndarray) -> np.ndarray:
        """One data step of the RK4 map (``substeps`` steps), numpy float64."""
        return self._rk4_numpy(np.asarray(state, dtype=np.float64), 1)[:, 0]

    def jacobian(self, state: np.ndarray) -> np.ndarray:
        z = np.asarray(state, dtype=np.float64)
        eye = np.broadcast_to(np.eye(z.shape[1]), (z.shape[0], z.shape[1], z.shape[1]))
        return self.jvp(z, eye)

    def jvp(self, state: np.ndarray, tangents: np.ndarray) -> np.ndarray:
        """The RK4 step map's Jacobian at ``state (B, D)`` applied to ``tangents (B, D, k)``,
        in numpy float64 by forward-mode differentiation of each stage (the tangent of
        ``k_i = f(x_i)`` is ``J_f(x_i) dx_i``); equal to ``torch.func.jacrev`` of
        :meth:`step` up to rounding (tests/unit/test_methods_node.py) and about 50x faster in
        the QR Lyapunov exponent."""
        x = np.asarray(state, dtype=np.float64)
        dx = np.asarray(tangents, dtype=np.float64)
        w = self._numpy_field()
        substeps = int(self.params["substeps"])
        h = 1.0 / substeps
        for _ in range(substeps):
            k1, d1 = _field_tangent(w, x, dx)
            k2, d2 = _field_tangent(w, x + 0.5 * h * k1, dx + 0.5 * h * d1)
            k3, d3 = _field_tangent(w, x + 0.5 * h * k2, dx + 0.5 * h * d2)
            k4, d4 = _field_tangent(w, x + h * k3, dx + h * d3)
            x = x + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
            dx = dx + (h / 6) * (d1 + 2 * d2 + 2 * d3 + d4)
        return dx

    def _numpy_field(self) -> dict[str, np.ndarray]:
        """The inference field's weights as float64 arrays (cached per field)."""
        cache = getattr(self, "_numpy_cache", None)
        if cache is None or cache[0] is not self.field_:
            weights = {k: v.detach().cpu().numpy() for k, v in self.field_.state_dict().items()}
            weights["_blocks"] = len(self.field_.mlp) - 3 if self.field_.mlp is not None else 0
            self._numpy_cache = cache = (self.field_, weights)
        return cache[1]

    # -- persistence (SavedNetwork: the vector field's weights) -------------------------------
    def _network_state(self) -> dict[str, torch.Tensor]:
        return self.field_.state_dict()

    def _set_network_state(self, state: dict[str, torch.Tensor]) -> None:
        self._set_field(state)
