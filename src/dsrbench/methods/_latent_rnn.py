"""Shared code of the latent piecewise-linear RNNs (``shplrnn_gtf``, ``alrnn``).

Both models (Hess et al. 2023; Brenner et al. 2024) have a latent state z of M units whose
first D units are the observations (identity observation model, in standardised
coordinates), and are trained by backpropagation through time with a form of teacher
forcing, through :class:`dsrbench.methods.trainer.GroupTrainer` (:class:`LatentRNNStep`).

* Initial latent state: as in the authors' code (the ``Identity`` observation model of
  the DurstewitzLab repositories), ``z_0 = [x_0, L x_0]`` with a learned matrix L of shape
  ``(M - D, D)`` (uniform in +-1/sqrt(D) at initialisation); with M = D there is no L.
* Many models at once: :meth:`LatentRNN.fit_many` trains the models of a chunk job
  (systems x seeds) with the same hyperparameters together, every parameter with a
  leading model axis K and one optimiser step for all; the loss is the sum of each model's
  mean loss, so the elementwise RAdam moves every model exactly as a lone run would (up
  to floating-point rounding), and each model keeps its own random generator, data,
  teacher-forcing alpha, validation, best weights, log, checkpoint and
  ``training_result_``. ``fit`` is ``fit_many`` of one task. A model whose loss turns
  non-finite is frozen (``stopped_by = "diverged"``) while the others go on. Gradients
  come from batched torch autograd, or from hand-written kernels where
  :func:`gradient_backend` picks them.
* ``jacobian_weight`` > 0 adds a Jacobian penalty of the latent step at the states of
  the teacher-forced rollout, weighted by each step's error (after JAWS, Nie & Suzuki
  2026; :mod:`dsrbench.methods._jacobian_penalty`); it needs a double backward, so such
  models train on the torch path, never the kernels. 0, the default, is off.
* Training: torch, on the device of :func:`dsrbench.methods.trainer.resolve_device`; ``dtype``
  ``"auto"`` (default) trains in float64 on the CPU and float32 on CUDA. On one CPU core
  float64 cost about the same as float32 at the paper sizes (per-step overhead dominates;
  benchmarks/speed/train_speed.py: within +-7 % either way), and it makes the trained map the
  same map, to the last bit of its weights, that the float64 inference and validation run;
  the reference implementations use float32 (Julia ``Float32``, the AL-RNN torch
  tutorial), as we do on GPUs. A CPU rerun with the same seed is bit-identical in either
  dtype. ``noise_level``: Gaussian noise of that standard deviation (standardised units)
  added to every training batch, the ``gaussian_noise_level`` of the reference code.
* Inference: ``forecast``, ``generate``, ``step`` and ``jacobian`` run in numpy float64 on
  the trained weights (stored exactly, as float64 arrays), so predictions do not depend on
  the training device and the analytic Jacobian matches finite differences. A forecast
  reads the context with the observed units forced to the data at every step (pure
  teacher forcing, which also drives the unobserved units), then runs freely.
"""

from __future__ import annotations

import functools
from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, Self

import numpy as np
import torch
import xarray as xr

from dsrbench.methods import _jacobian_penalty as jacobian
from dsrbench.methods.base import (
    DEFAULT_CONTEXT,
    FitContext,
    FitOutcome,
    FitTask,
    Method,
    check_context,
)
from dsrbench.methods.trainer import (
    Batch,
    GroupTrainer,
    Member,
    StackedParams,
    TrainingStep,
    fit_in_groups,
    loop_settings,
    resolve_device,
    sample_windows,
    seed_everything,
    validation_stsp,
)

DTYPES = {"float32": torch.float32, "float64": torch.float64}
Params = dict[str, torch.Tensor]


def training_dtype(name: str, device: torch.device) -> torch.dtype:
    """``"float32"``, ``"float64"`` or ``"auto"`` (float64 on the CPU, float32 elsewhere)."""
    if name == "auto":
        return torch.float64 if device.type == "cpu" else torch.float32
    if name not in DTYPES:
        raise ValueError(f"dtype must be 'auto', 'float32' or 'float64', got {name!r}")
    return DTYPES[name]


def normalized_positive_definite(m: int, rng: np.random.Generator) -> np.ndarray:
    """``K / max|eig(K)|`` with ``K = R'R / M + I``, R standard normal: the initialisation
    of the PLRNN family (Talathi & Vartak 2016), whose diagonal initialises A."""
    r = rng.standard_normal((m, m))
    k = r.T @ r / m + np.eye(m)
    return k / np.max(np.abs(np.linalg.eigvalsh(k)))


def uniform_init(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Uniform in +-1/sqrt(n), n the last axis (the reference ``uniform_init``)."""
    r = 1.0 / np.sqrt(shape[-1])
    return rng.uniform(-r, r, shape)


# -- gradient backends ----------------------------------------------------------------------
@functools.cache
def rnn_kernels() -> Any | None:
    """The module of hand-written BPTT kernels (``dsrbench.methods._rnn_kernels``), or
    None when it is not installed."""
    try:
        from dsrbench.methods import _rnn_kernels  # type: ignore[attr-defined]
    except ImportError:
        return None
    return _rnn_kernels


def gradient_backend(device: torch.device, dtype: torch.dtype) -> str:
    """What computes the losses and gradients of a group: ``"numba"`` (the kernels of
    :func:`rnn_kernels`, numpy float64 on the CPU) where they apply and are installed,
    otherwise ``"torch"`` (batched einsum/bmm over the model axis, autograd)."""
    if device.type == "cpu" and dtype == torch.float64 and rnn_kernels() is not None:
        return "numba"
    return "torch"


def initial_latent_many(p: Params, x0: torch.Tensor) -> torch.Tensor:
    """``z_0 = [x_0, L x_0]`` for K models at once: ``x0 (K, B, D) -> (K, B, M)``."""
    if "L" not in p:
        return x0
    return torch.cat([x0, x0 @ p["L"].transpose(1, 2)], dim=2)


def _stack(arrays: Sequence[np.ndarray], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(np.stack(arrays), dtype=dtype).to(device)


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float64).numpy().copy()


class LatentRNN(Method):
    """Base of the latent RNN methods: data handling, training loop, inference, storage.

    Training runs many models at once (:meth:`fit_many`; ``fit`` is ``fit_many`` of one
    task): every parameter has a leading model axis K, the loss is the sum over the models
    of each one's mean loss, so that the elementwise optimiser (RAdam) steps every model as
    if it trained alone. Each model keeps its own random generator (initialisation, windows
    and noise are drawn in the order of a lone run), data, teacher-forcing alpha,
    validation, best weights, epoch log and checkpoint."""

    uses_torch = True

    # -- to implement ------------------------------------------------------------------
    @abstractmethod
    def _init_parameters(self, dim: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Initial parameter arrays (float64) of the latent map (``h``, the bias, included)
        for observations of dimension ``dim``; L is added by the base class."""

    @abstractmethod
    def _stepper(self, p: Params) -> Callable[[torch.Tensor], torch.Tensor]:
        """The latent step of K models in torch, ``z (K, B, M) -> (K, B, M)``, parameters
        with a leading model axis (what does not depend on z prepared once, for rollouts)."""

    @abstractmethod
    def _predict_many(self, p: Params, x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """The states ``(K, B, T - 1, M)`` before forcing along the batches ``x (K, B, T,
        D)`` under the method's teacher forcing (``alpha (K,)``: per-model strength)."""

    @abstractmethod
    def _loss_and_grad_numba(self, p: Params, x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """As :meth:`_loss_and_grad_torch` with the kernels of :func:`rnn_kernels`."""

    @abstractmethod
    def _np_step(self, z: np.ndarray) -> np.ndarray:
        """One latent step in numpy float64 on the trained weights ``self.weights_``."""

    @abstractmethod
    def _np_jacobian(self, z: np.ndarray) -> np.ndarray:
        """Jacobians ``(B, M, M)`` of :meth:`_np_step`."""

    def _initial_alpha(self) -> float:
        """The teacher-forcing strength a model starts with (logged as ``alpha``)."""
        return 1.0

    def _update_alpha(
        self, p: Params, x: torch.Tensor, alpha: np.ndarray, batches_seen: int
    ) -> np.ndarray:
        """The per-model alphas ``(K,)`` for the batch ``x`` (default: unchanged)."""
        return alpha

    # -- shapes -------------------------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return int(self.weights_["h"].shape[0])

    # -- losses and gradients ---------------------------------------------------------------
    def _loss_and_grad_torch(self, p: Params, x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """Each model's mean squared error of the predicted observations, ``(K,)``; the
        gradient of their sum (one model's gradient per slice) is left in ``.grad``."""
        for t in p.values():
            t.grad = None
        predicted = self._predict_many(p, x, alpha)
        d = x.shape[3]
        loss = ((predicted[..., :d] - x[:, :, 1:]) ** 2).mean(dim=(1, 2, 3))
        loss.sum().backward()
        return loss.detach()

    def _loss_and_grad(
        self,
        p: Params,
        x: torch.Tensor,
        alpha: torch.Tensor,
        rngs: Sequence[np.random.Generator] = (),
    ) -> torch.Tensor:
        """Dispatch to the backend chosen by :func:`gradient_backend`; with the Jacobian
        penalty on (``jacobian_weight`` > 0, which needs a double backward), always torch
        (:meth:`_penalised_loss_and_grad`, the models' generators ``rngs`` draw its states
        and probes)."""
        if jacobian.enabled(self.params):
            return self._penalised_loss_and_grad(p, x, alpha, rngs)
        if gradient_backend(x.device, x.dtype) == "numba":
            return self._loss_and_grad_numba(p, x, alpha)
        return self._loss_and_grad_torch(p, x, alpha)

    def _predict_with_inputs_many(
        self, p: Params, x: torch.Tensor, alpha: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`_predict_many` and the states each prediction stepped from (after the
        forcing), both ``(K, B, T - 1, M)``: the states of the Jacobian penalty."""
        raise NotImplementedError(f"{self.name}: no Jacobian penalty")

    def _penalised_loss_and_grad(
        self,
        p: Params,
        x: torch.Tensor,
        alpha: torch.Tensor,
        rngs: Sequence[np.random.Generator],
    ) -> torch.Tensor:
        """:meth:`_loss_and_grad_torch` plus ``jacobian_weight`` x the weighted
        ``||J||_F^2`` of the latent step at the states of the rollout, each weighted by
        the squared error of the step from it (:mod:`dsrbench.methods._jacobian_penalty`)."""
        for t in p.values():
            t.grad = None
        predicted, inputs = self._predict_with_inputs_many(p, x, alpha)
        d = x.shape[3]
        error = ((predicted[..., :d] - x[:, :, 1:]) ** 2).mean(dim=3)  # (K, B, T - 1)
        loss = error.mean(dim=(1, 2))
        k, m = inputs.shape[0], inputs.shape[3]
        penalty = jacobian.jacobian_penalty(
            self._stepper(p), inputs.reshape(k, -1, m), error.reshape(k, -1), rngs, self.params
        )
        loss = loss + float(self.params["jacobian_weight"]) * penalty
        loss.sum().backward()
        return loss.detach()

    @staticmethod
    def _numpy_params(p: Params, x: torch.Tensor) -> dict[str, np.ndarray]:
        """The parameters as numpy arrays for the kernels, L ``(K, 0, D)`` when M = D."""
        a = {k: v.detach().numpy() for k, v in p.items()}
        if "L" not in a:
            a["L"] = np.zeros((x.shape[0], 0, x.shape[3]))
        return a

    @staticmethod
    def _set_grads(p: Params, grads: dict[str, np.ndarray]) -> None:
        for k, t in p.items():
            t.grad = torch.as_tensor(np.ascontiguousarray(grads[k]), dtype=t.dtype)

    # -- fitting ----------------------------------------------------------------------------
    def fit(
        self,
        train: xr.Dataset,
        val: xr.Dataset | None = None,
        ctx: FitContext = DEFAULT_CONTEXT,
    ) -> Self:
        task = FitTask(train, val, ctx.seed, dict(self.params), ctx.run, self.name)
        self._fit_models([self], [task], device=ctx.device, budget=ctx.budget, raise_errors=True)
        return self

    @classmethod
    def fit_many(
        cls,
        tasks: Sequence[FitTask],
        *,
        device: str = "auto",
        budget: float | None = None,
    ) -> list[FitOutcome]:
        """Fit one model per task, models with the same hyperparameters, observation
        dimension and checkpoint epoch trained together (one optimiser step for all); a
        task whose set-up or training fails gets an outcome with the error. ``budget``:
        the wall-clock cap of each group (its models stop together, ``"budget"``)."""
        models: list[LatentRNN | None] = []
        errors: dict[int, FitOutcome] = {}
        for i, task in enumerate(tasks):
            try:
                models.append(cls(**dict(task.hyperparameters)))
            except Exception as exc:
                models.append(None)
                errors[i] = FitOutcome.failed(exc)
        outcomes = cls._fit_models(models, list(tasks), device=device, budget=budget)
        return [errors.get(i, o) for i, o in enumerate(outcomes)]

    @classmethod
    def _fit_models(
        cls,
        models: Sequence[LatentRNN | None],
        tasks: Sequence[FitTask],
        *,
        device: str,
        budget: float | None,
        raise_errors: bool = False,
    ) -> list[FitOutcome]:
        """Train ``models[i]`` on ``tasks[i]`` (None: skipped), grouped as :meth:`fit_many`
        says; ``raise_errors`` re-raises the first error (``fit``)."""
        return fit_in_groups(
            models,
            tasks,
            prepare=lambda model, task: model._prepare(task, device),
            key=lambda member: member.model._group_key(member),
            train=lambda members: _train_group(members, budget),
            finish=lambda member: member.model._after_training(),
            cleanup=lambda model: model._drop_training_state(),
            raise_errors=raise_errors,
        )

    def _group_key(self, member: Member) -> tuple:
        """Models train together when this agrees: hyperparameters, observation dimension,
        device, dtype and the epoch they resume from."""
        params = tuple(sorted((k, repr(v)) for k, v in self.params.items()))
        return (params, self.dim_, str(self.device_), str(self.dtype_), member.start_epoch)

    def _drop_training_state(self) -> None:
        for attr in ("train_x_", "val_x_"):
            self.__dict__.pop(attr, None)

    def latent_size(self, dim: int) -> int:
        """M for observations of dimension ``dim``: the ``latent_dim`` hyperparameter, an
        integer, or ``"dim"`` for M = D (over the whole database, where D runs from 3 to
        10, the shPLRNN's M = D = 3 of Lorenz-63 becomes M = D)."""
        value = self.params["latent_dim"]
        if value == "dim":
            return int(dim)
        if isinstance(value, str) or int(value) < 1:
            raise ValueError(f"{self.name}: latent_dim must be a positive integer or 'dim'")
        return int(value)

    def _prepare(self, task: FitTask, device: str) -> Member:
        """Standardise the data, draw the initial weights from the model's own generator
        (as a lone run does) and read its checkpoint, if any."""
        jacobian.check_settings(self.params, self.name)
        rng = seed_everything(task.seed)
        self.device_ = resolve_device(device)
        self.dtype_ = training_dtype(str(self.params.get("dtype", "auto")), self.device_)
        x, v = self.fit_scale(task.train, task.val)
        self.dim_ = x.shape[2]
        self.train_x_, self.val_x_ = x, v
        m, seq_len = self.latent_size(self.dim_), int(self.params["seq_len"])
        if m < self.dim_:
            raise ValueError(f"{self.name}: latent_dim {m} < observation dimension {self.dim_}")
        if seq_len > x.shape[1]:
            raise ValueError(
                f"{self.name}: seq_len {seq_len} exceeds the trajectory length {x.shape[1]}; "
                "lower seq_len or train on longer trajectories"
            )
        init = self._init_parameters(self.dim_, rng)
        if m > self.dim_:
            init["L"] = uniform_init((m - self.dim_, self.dim_), rng)
        self.weights_ = {k: np.array(v, dtype=np.float64) for k, v in init.items()}
        member = Member(rng, task.run, task.name, self, init)
        member.read_checkpoint({k: v.shape for k, v in init.items()})
        return member

    def _after_training(self) -> None:
        """Hook run with the training data still at hand (the AL-RNN's symbolic code)."""

    def _windows(self, rng: np.random.Generator) -> np.ndarray:
        """A training batch ``(batch_size, seq_len, D)`` of standardised windows from the
        model's own generator, with the reference code's Gaussian noise when
        ``noise_level`` > 0."""
        windows = sample_windows(
            self.train_x_, int(self.params["seq_len"]), int(self.params["batch_size"]), rng
        )
        noise = float(self.params.get("noise_level", 0.0))
        if noise > 0:
            windows = windows + noise * rng.standard_normal(windows.shape)
        return windows

    # -- inference (numpy float64) --------------------------------------------------------
    def _read_context(self, ctx_std: np.ndarray) -> np.ndarray:
        """Latent states after reading a standardised context ``(B, Tc, D)`` with pure
        teacher forcing: ``z_0 = [x_0, L x_0]``, then step and set the observed units to the
        data at every step."""
        d = ctx_std.shape[2]
        z = ctx_std[:, 0]
        if "L" in self.weights_:
            z = np.concatenate([z, z @ self.weights_["L"].T], axis=1)
        z = np.array(z, dtype=np.float64)
        with np.errstate(all="ignore"):
            for t in range(1, ctx_std.shape[1]):
                z = self._np_step(z)
                z[:, :d] = ctx_std[:, t]
        return z

    def _run_free(self, z: np.ndarray, steps: int) -> np.ndarray:
        """Latent free run ``(B, steps, M)`` after the state ``z``."""
        out = np.empty((z.shape[0], steps, z.shape[1]))
        with np.errstate(all="ignore"):
            for t in range(steps):
                z = self._np_step(z)
                out[:, t] = z
        return out

    def _generate_std(self, ctx_std: np.ndarray, steps: int) -> np.ndarray:
        """Free runs of the observed units after a standardised context (validation)."""
        return self.rollout(self._read_context(np.asarray(ctx_std, dtype=np.float64)), steps)

    def initial_state(self, context: np.ndarray) -> np.ndarray:
        """The latent state z (M units) after reading ``context``; forecasts then run the
        base class's rollout (the observed units are the first D)."""
        return self._read_context(self.to_model(check_context(context)))

    def step(self, state: np.ndarray) -> np.ndarray:
        return self._np_step(np.asarray(state, dtype=np.float64))

    def jacobian(self, state: np.ndarray) -> np.ndarray:
        return self._np_jacobian(np.asarray(state, dtype=np.float64))

    # -- storage: the scale and the weights (``w_<name>``) in arrays.npz ----------------------
    fitted_arrays = ("mean", "std")

    def fitted(self) -> dict[str, np.ndarray]:
        return {**super().fitted(), **{f"w_{k}": v for k, v in self.weights_.items()}}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        super().restore(arrays)
        self.weights_ = {k[2:]: v for k, v in arrays.items() if k.startswith("w_")}


class LatentRNNStep(TrainingStep):
    """The training step of a group of latent RNNs (same hyperparameters and shapes).

    Every parameter is stacked along a leading model axis; the loss is the sum of the
    per-model mean losses (each model's own windows, noise and alpha), so the elementwise
    RAdam moves every slice as a lone run would; the learning rate decays exponentially
    per epoch as in the reference code. A model whose loss or gradient turns non-finite is
    frozen (``on_nonfinite = "freeze"``): it keeps its best validated weights, else the
    last finite ones."""

    stacked = True
    on_nonfinite = "freeze"

    def __init__(self, members: list[Member]) -> None:
        self.members = members
        self.lead: LatentRNN = members[0].model
        hp = self.lead.params
        device, dtype = self.lead.device_, self.lead.dtype_
        epochs = int(hp["epochs"])
        lr_start, lr_end = float(hp["lr_start"]), float(hp["lr_end"])
        self.p = {
            k: _stack([m.init[k] for m in members], dtype, device).requires_grad_()
            for k in members[0].init
        }
        self.optimizer = torch.optim.RAdam(list(self.p.values()), lr=lr_start)
        # exponential decay per epoch, as in the reference code: gamma^epochs = end / start
        self.scheduler = torch.optim.lr_scheduler.ExponentialLR(
            self.optimizer, (lr_end / lr_start) ** (1.0 / max(1, epochs))
        )
        self.initial_alpha = self.lead._initial_alpha()

    def state(self) -> dict[str, Any]:
        return {
            "params": StackedParams(self.p),
            "optimizer": self.optimizer,
            "scheduler": self.scheduler,
        }

    def loss(self, batch: Batch) -> torch.Tensor:
        lead, dtype, device = self.lead, self.lead.dtype_, self.lead.device_
        x = _stack([m.model._windows(m.rng) for m in self.members], dtype, device)
        with np.errstate(all="ignore"):
            batch.alpha = lead._update_alpha(self.p, x, batch.alpha, batch.index)
        alpha_t = torch.as_tensor(batch.alpha, dtype=dtype, device=device)
        return lead._loss_and_grad(self.p, x, alpha_t, batch.rngs)

    def numpy_weights(self, k: int) -> dict[str, np.ndarray]:
        """Model k's weights as float64 arrays (the inference weights)."""
        return {n: _numpy(t[k]) for n, t in self.p.items()}

    def validate(self, k: int) -> float | None:
        model = self.members[k].model
        if model.val_x_ is None:
            return None
        model.weights_ = self.numpy_weights(k)
        return float(validation_stsp(model._generate_std, model.val_x_))

    def weights(self, k: int) -> dict[str, torch.Tensor]:
        return StackedParams(self.p).model(k)

    def snapshot(self, k: int) -> dict[str, np.ndarray]:
        return {f"w_{n}": v for n, v in self.numpy_weights(k).items()}


def _train_group(members: list[Member], budget: float | None) -> None:
    """Train the models of ``members`` together (:class:`LatentRNNStep` in the
    :class:`~dsrbench.methods.trainer.GroupTrainer`); each model gets its weights (the best
    validated, else the last) and ``training_result_``."""
    hp = members[0].model.params
    trainer = GroupTrainer(
        LatentRNNStep(members),
        members,
        budget=budget,
        **loop_settings(hp, members[0].model.name),
    )
    results = trainer.fit()
    for k, (m, result) in enumerate(zip(members, results, strict=True)):
        m.model.weights_ = {n: _numpy(t) for n, t in trainer.final_weights(k).items()}
        m.model.training_result_ = result
