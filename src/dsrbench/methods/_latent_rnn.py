"""Shared code of the latent piecewise-linear RNNs (``shplrnn_gtf``, ``alrnn``).

Both models (Hess et al. 2023; Brenner et al. 2024) have a latent state z of M units whose
first D units are the observations (identity observation model, in standardised
coordinates), and are trained by backpropagation through time with a form of teacher
forcing, through :class:`dsrbench.methods.trainer.Trainer`.

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
* Training: torch, on the device of :func:`dsrbench.methods.trainer.resolve_device`; ``dtype``
  ``"auto"`` (default) trains in float64 on the CPU and float32 on CUDA. On one CPU core
  float64 cost about the same as float32 at the paper sizes (per-step overhead dominates;
  benchmarks/train_speed.py: within +-7 % either way), and it makes the trained map the
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
import time
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np
import torch
import xarray as xr

from dsrbench.atomic import atomic_path
from dsrbench.faults import injected_failure
from dsrbench.layout import snapshot_file
from dsrbench.methods.base import FitOutcome, FitTask, Method, RunFiles, check_context
from dsrbench.methods.trainer import (
    TrainingResult,
    checkpoint_file,
    resolve_device,
    sample_windows,
    seed_everything,
    validation_stsp,
    write_epoch_log,
)

DTYPES = {"float32": torch.float32, "float64": torch.float64}
#: the version of the per-model checkpoint written by :meth:`LatentRNN.fit_many`
CHECKPOINT_FORMAT = "latent_rnn/1"
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


@dataclass
class _Member:
    """One model of a group trained together: its instance, task, random generator,
    initial (or resumed) state and what its training did."""

    model: LatentRNN
    task: FitTask
    rng: np.random.Generator
    init: dict[str, np.ndarray]
    payload: dict[str, Any] | None
    result: TrainingResult = field(default_factory=TrainingResult)
    best: dict[str, np.ndarray] | None = None
    diverged_at: int | None = None
    first_write: bool = True

    @property
    def checkpoint(self) -> Path | None:
        return checkpoint_file(self.task.run)

    @property
    def start_epoch(self) -> int:
        return 0 if self.payload is None else int(self.payload["epoch"])


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

    def _step_many(self, p: Params, z: torch.Tensor) -> torch.Tensor:
        """One latent step of K models, ``z (K, B, M) -> (K, B, M)``."""
        return self._stepper(p)(z)

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

    # -- single-model torch helpers (tests, analysis) -------------------------------------
    def _torch_step(self, p: Params, z: torch.Tensor) -> torch.Tensor:
        """One latent step of one model in torch, ``z (B, M) -> (B, M)``."""
        return self._step_many({k: v[None] for k, v in p.items()}, z[None])[0]

    def torch_weights(self, dtype: torch.dtype = torch.float64) -> dict[str, torch.Tensor]:
        """The trained weights as torch tensors on the CPU (for tests and analysis)."""
        return {k: torch.as_tensor(v, dtype=dtype) for k, v in self.weights_.items()}

    @staticmethod
    def initial_latent(p: Params, x0: torch.Tensor) -> torch.Tensor:
        """``z_0 = [x_0, L x_0]`` (just ``x_0`` when M = D) for one model, ``x0 (B, D)``."""
        return initial_latent_many({k: v[None] for k, v in p.items()}, x0[None])[0]

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

    def _loss_and_grad(self, p: Params, x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """Dispatch to the backend chosen by :func:`gradient_backend`."""
        if gradient_backend(x.device, x.dtype) == "numba":
            return self._loss_and_grad_numba(p, x, alpha)
        return self._loss_and_grad_torch(p, x, alpha)

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
        *,
        device: str = "auto",
        seed: int = 0,
        budget: float | None = None,
        run: RunFiles | None = None,
    ) -> Self:
        task = FitTask(train, val, seed, dict(self.params), run, self.name)
        self._fit_models([self], [task], device=device, budget=budget, raise_errors=True)
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
        outcomes = [FitOutcome(None, "not fitted") for _ in tasks]
        members: dict[int, _Member] = {}
        groups: dict[tuple, list[int]] = {}
        try:
            for i, (model, task) in enumerate(zip(models, tasks, strict=True)):
                if model is None:
                    continue
                try:
                    members[i] = model._prepare(task, device)
                except Exception as exc:
                    if raise_errors:
                        raise
                    outcomes[i] = FitOutcome.failed(exc)
                    model._drop_training_state()
                    continue
                groups.setdefault(model._group_key(members[i]), []).append(i)
            for index in groups.values():
                try:
                    _train_group([members[i] for i in index], budget)
                except Exception as exc:
                    if raise_errors:
                        raise
                    for i in index:
                        outcomes[i] = FitOutcome.failed(exc)
                    continue
                for i in index:
                    try:
                        members[i].model._after_training()
                        outcomes[i] = FitOutcome(members[i].model)
                    except Exception as exc:
                        if raise_errors:
                            raise
                        outcomes[i] = FitOutcome.failed(exc)
        finally:  # training-only state is not part of the fitted model
            for m in members.values():
                m.model._drop_training_state()
        return outcomes

    def _group_key(self, member: _Member) -> tuple:
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

    def _prepare(self, task: FitTask, device: str) -> _Member:
        """Standardise the data, draw the initial weights from the model's own generator
        (as a lone run does) and read its checkpoint, if any."""
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
        member = _Member(self, task, rng, init, None)
        path = member.checkpoint
        if path is not None and path.exists():
            payload = torch.load(path, map_location="cpu", weights_only=False)
            if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
                raise ValueError(
                    f"{path} is not a {self.name} checkpoint of this dsrbench version; "
                    "delete it to train from scratch"
                )
            shapes = {k: tuple(v.shape) for k, v in payload["params"].items()}
            if shapes != {k: v.shape for k, v in init.items()}:
                raise ValueError(
                    f"{path} holds weights of shapes {shapes}, not those of the "
                    f"hyperparameters {self.params}; delete it to train from scratch"
                )
            member.payload = payload
        return member

    def _after_training(self) -> None:
        """Hook run with the training data still at hand (the AL-RNN's symbolic code)."""

    def _windows(self, member: _Member) -> np.ndarray:
        """A training batch ``(batch_size, seq_len, D)`` of standardised windows from the
        model's own generator, with the reference code's Gaussian noise when
        ``noise_level`` > 0."""
        windows = sample_windows(
            self.train_x_, int(self.params["seq_len"]), int(self.params["batch_size"]), member.rng
        )
        noise = float(self.params.get("noise_level", 0.0))
        if noise > 0:
            windows = windows + noise * member.rng.standard_normal(windows.shape)
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


def _train_group(members: list[_Member], budget: float | None) -> None:
    """Train the models of ``members`` (same hyperparameters and shapes) together.

    One RAdam step a batch for all (the loss is the sum of the per-model mean losses, the
    optimiser elementwise, so every slice moves as in a lone run); the learning rate decays
    exponentially per epoch as in the reference code. A model whose loss or gradient turns
    non-finite is masked: its gradient is zeroed and its parameters are set back after
    every step, it stops logging and validating (``stopped_by = "diverged"``) and keeps its
    best validated weights, else the last finite ones. Checkpoints are per model
    (parameters, optimiser moments, alpha, random generator, best weights, history)."""
    lead = members[0].model
    hp = lead.params
    device, dtype = lead.device_, lead.dtype_
    epochs, n_batches = int(hp["epochs"]), int(hp["batches_per_epoch"])
    lr_start, lr_end = float(hp["lr_start"]), float(hp["lr_end"])
    validate_every, checkpoint_every = int(hp["validate_every"]), int(hp["checkpoint_every"])
    n_models = len(members)
    p = {
        k: _stack([m.init[k] for m in members], dtype, device).requires_grad_()
        for k in members[0].init
    }
    optimizer = torch.optim.RAdam(list(p.values()), lr=lr_start)
    # exponential decay per epoch, as in the reference code: gamma^epochs = end / start
    scheduler = torch.optim.lr_scheduler.ExponentialLR(
        optimizer, (lr_end / lr_start) ** (1.0 / max(1, epochs))
    )
    alpha = np.full(n_models, lead._initial_alpha())
    batches_seen = 0
    start_epoch = members[0].start_epoch
    if start_epoch > 0:  # resume every model from its own checkpoint
        payloads = [m.payload for m in members]
        assert all(q is not None for q in payloads)
        with torch.no_grad():
            for k, t in p.items():
                t.copy_(_stack([q["params"][k].numpy() for q in payloads], dtype, device))
                if payloads[0]["optimizer"] is not None:
                    optimizer.state[t] = {
                        "step": payloads[0]["optimizer"]["step"].clone(),
                        **{
                            s: _stack(
                                [q["optimizer"][s][k].numpy() for q in payloads], dtype, device
                            )
                            for s in ("exp_avg", "exp_avg_sq")
                        },
                    }
        scheduler.load_state_dict(payloads[0]["scheduler"])
        optimizer.param_groups[0]["lr"] = payloads[0]["lr"]
        alpha = np.array([q["alpha"] for q in payloads], dtype=np.float64)
        batches_seen = int(payloads[0]["batches_seen"])
        for m, q in zip(members, payloads, strict=True):
            m.rng.bit_generator.state = q["rng"]
            m.best = q["best"]
            m.diverged_at = q["diverged_at"]
            m.result.best_score, m.result.best_epoch = q["best_score"], q["best_epoch"]
            m.result.history = list(q["history"])
            m.result.seconds = float(q["seconds"])
            m.result.resumed_from = start_epoch
            m.result.epochs_run = start_epoch if q["diverged_at"] is None else q["diverged_at"]
    alive = torch.tensor([m.diverged_at is None for m in members], device=device)
    alive_np = alive.cpu().numpy().copy()
    stopped_by = "epochs"
    clock = time.perf_counter() - max(m.result.seconds for m in members)

    def save(k: int, epoch: int) -> None:
        m = members[k]
        path = m.checkpoint
        if path is None:
            return
        state = [optimizer.state.get(t, {}) for t in p.values()]
        payload = {
            "format": CHECKPOINT_FORMAT,
            "epoch": epoch,
            "params": {n: t[k].detach().cpu().clone() for n, t in p.items()},
            "optimizer": None
            if not state[0]
            else {
                "step": state[0]["step"].detach().cpu().clone(),
                **{
                    s: {n: st[s][k].detach().cpu().clone() for n, st in zip(p, state, strict=True)}
                    for s in ("exp_avg", "exp_avg_sq")
                },
            },
            "lr": optimizer.param_groups[0]["lr"],
            "scheduler": scheduler.state_dict(),
            "alpha": float(alpha[k]),
            "batches_seen": batches_seen,
            "rng": m.rng.bit_generator.state,
            "best": m.best,
            "best_score": m.result.best_score,
            "best_epoch": m.result.best_epoch,
            "history": m.result.history,
            "seconds": m.result.seconds,
            "diverged_at": m.diverged_at,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:  # a kill mid-write leaves the previous checkpoint
            torch.save(payload, tmp)

    def weights(k: int) -> dict[str, np.ndarray]:
        return {n: _numpy(t[k]) for n, t in p.items()}

    def snapshot(step: int) -> None:
        """Each model's weights after optimiser step ``step`` (frozen ones as they stand)."""
        for k, m in enumerate(members):
            run = m.task.run
            if run is None or run.snapshot_dir is None or step not in run.snapshot_steps:
                continue
            path = snapshot_file(run.snapshot_dir, step)
            path.parent.mkdir(parents=True, exist_ok=True)
            arrays = {f"w_{n}": v for n, v in weights(k).items()}
            with atomic_path(path) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, **arrays, diverged=np.array(not bool(alive[k])))

    snapshot_steps = set().union(*(m.task.run.snapshot_steps for m in members if m.task.run))

    for epoch in range(start_epoch, epochs):
        if not alive_np.any():
            break
        t0 = time.perf_counter()
        total = torch.zeros(n_models, dtype=dtype, device=device)
        for _ in range(n_batches):
            x = _stack([m.model._windows(m) for m in members], dtype, device)
            batches_seen += 1
            with np.errstate(all="ignore"):
                alpha = lead._update_alpha(p, x, alpha, batches_seen)
            alpha_t = torch.as_tensor(alpha, dtype=dtype, device=device)
            loss = lead._loss_and_grad(p, x, alpha_t)
            with torch.no_grad():
                ok = torch.isfinite(loss)
                for t in p.values():
                    ok &= torch.isfinite(t.grad).reshape(n_models, -1).all(dim=1)
                alive &= ok
                before = {}
                for n, t in p.items():
                    mask = alive.reshape(-1, *[1] * (t.dim() - 1))
                    t.grad = torch.where(mask, t.grad, torch.zeros_like(t.grad))
                    before[n] = t.detach().clone()
                optimizer.step()
                for n, t in p.items():  # a masked model does not move (RAdam's momentum)
                    t.copy_(torch.where(alive.reshape(-1, *[1] * (t.dim() - 1)), t, before[n]))
            total += loss
            if batches_seen in snapshot_steps:
                snapshot(batches_seen)
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step()
        losses = (total / n_batches).cpu().numpy()
        now_alive = alive.cpu().numpy().copy()
        rows: dict[int, dict[str, float]] = {}
        for k, m in enumerate(members):
            if not alive_np[k]:
                continue  # diverged in an earlier epoch
            rows[k] = {"epoch": epoch + 1, "loss": float(losses[k]), "lr": lr}
            rows[k]["alpha"] = float(alpha[k])
            score = float("nan")
            last = epoch + 1 == epochs
            if (
                now_alive[k]
                and m.model.val_x_ is not None
                and ((epoch + 1) % validate_every == 0 or last)
            ):
                m.model.weights_ = weights(k)
                score = float(validation_stsp(m.model._generate_std, m.model.val_x_))
                if score < m.result.best_score:
                    m.result.best_score, m.result.best_epoch = score, epoch + 1
                    m.best = m.model.weights_
            rows[k]["val_stsp"] = score
            if not now_alive[k]:
                m.diverged_at = epoch + 1
        seconds = time.perf_counter() - t0
        elapsed = time.perf_counter() - clock
        for k, row in rows.items():
            m = members[k]
            row["seconds"] = seconds
            m.result.history.append(row)
            m.result.seconds = elapsed
            m.result.epochs_run = epoch + 1
            log = m.task.run.epoch_log if m.task.run else None
            write_epoch_log(log, m.result.history, m.first_write)
            m.first_write = False
        # a run whose last epoch ends past the budget is complete, not stopped
        over_budget = budget is not None and elapsed > budget and epoch + 1 < epochs
        for k in rows:
            newly_diverged = not now_alive[k]
            if (epoch + 1) % checkpoint_every == 0 or over_budget or newly_diverged:
                save(k, epoch + 1)
        injected_failure([m.task.name for m in members], epoch + 1)  # tests only (FAIL_ENV)
        alive_np = now_alive
        if over_budget and alive_np.any():
            stopped_by = "budget"
            break
    for k, m in enumerate(members):
        r = m.result
        r.stopped_by = "diverged" if m.diverged_at is not None else stopped_by
        r.stopped_by_budget = r.stopped_by == "budget"
        m.model.weights_ = m.best if m.best is not None else weights(k)
        m.model.training_result_ = r
