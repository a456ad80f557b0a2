"""Shared code of the latent piecewise-linear RNNs (``shplrnn_gtf``, ``alrnn``).

Both models (Hess et al. 2023; Brenner et al. 2024) have a latent state z of M units whose
first D units are the observations (identity observation model, in standardised
coordinates), and are trained by backpropagation through time with a form of teacher
forcing, through :class:`dsrbench.methods.trainer.Trainer`.

* Initial latent state: as in the authors' code (the ``Identity`` observation model of
  the DurstewitzLab repositories), ``z_0 = [x_0, L x_0]`` with a learned matrix L of shape
  ``(M - D, D)`` (uniform in +-1/sqrt(D) at initialisation); with M = D there is no L.
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

from abc import abstractmethod
from typing import Any, Self

import numpy as np
import torch
import xarray as xr

from dsrbench.methods.base import Method, RunFiles, check_context

DTYPES = {"float32": torch.float32, "float64": torch.float64}


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


class LatentRNN(Method):
    """Base of the latent RNN methods: data handling, training loop, inference, storage."""

    uses_torch = True
    has_jacobian = True

    # -- to implement ------------------------------------------------------------------
    @abstractmethod
    def _init_parameters(self, dim: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Initial parameter arrays (float64) of the latent map (``h``, the bias, included)
        for observations of dimension ``dim``; L is added by the base class."""

    @abstractmethod
    def _torch_step(self, p: dict[str, torch.Tensor], z: torch.Tensor) -> torch.Tensor:
        """One latent step in torch, ``z (B, M) -> (B, M)``."""

    @abstractmethod
    def _np_step(self, z: np.ndarray) -> np.ndarray:
        """One latent step in numpy float64 on the trained weights ``self.weights_``."""

    @abstractmethod
    def _np_jacobian(self, z: np.ndarray) -> np.ndarray:
        """Jacobians ``(B, M, M)`` of :meth:`_np_step`."""

    @abstractmethod
    def _epoch(self, epoch: int) -> dict[str, float]:
        """One training epoch; returns the logged values (loss, lr, alpha)."""

    # -- shapes -------------------------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return int(self.weights_["h"].shape[0])

    # -- setup and data -------------------------------------------------------------------
    def _setup(self, train: xr.Dataset, val: xr.Dataset | None, device: str, seed: int) -> None:
        from dsrbench.methods.trainer import resolve_device, seed_everything

        self.rng_ = seed_everything(seed)
        self.device_ = resolve_device(device)
        self.dtype_ = training_dtype(str(self.params.get("dtype", "auto")), self.device_)
        x, v = self.fit_scale(train, val)
        self.dim_ = x.shape[2]
        self.train_x_ = x
        self.val_x_ = v
        m = int(self.params["latent_dim"])
        if m < self.dim_:
            raise ValueError(f"{self.name}: latent_dim {m} < observation dimension {self.dim_}")
        init = self._init_parameters(self.dim_, self.rng_)
        if m > self.dim_:
            init["L"] = uniform_init((m - self.dim_, self.dim_), self.rng_)
        dtype = self.dtype_
        self.torch_params_ = torch.nn.ParameterDict(
            {k: torch.nn.Parameter(torch.as_tensor(v, dtype=dtype)) for k, v in init.items()}
        ).to(self.device_)
        self._sync_weights()

    def _sync_weights(self) -> None:
        """Copy the torch parameters into the float64 numpy weights used for inference."""
        self.weights_ = {
            k: v.detach().to("cpu", torch.float64).numpy().copy()
            for k, v in self.torch_params_.items()
        }

    def torch_weights(self, dtype: torch.dtype = torch.float64) -> dict[str, torch.Tensor]:
        """The trained weights as torch tensors on the CPU (for tests and analysis)."""
        return {k: torch.as_tensor(v, dtype=dtype) for k, v in self.weights_.items()}

    def _batch(self) -> torch.Tensor:
        """A training batch ``(batch_size, seq_len, D)`` of standardised windows, with the
        reference code's Gaussian noise when ``noise_level`` > 0."""
        from dsrbench.methods.trainer import sample_windows

        windows = sample_windows(
            self.train_x_, int(self.params["seq_len"]), int(self.params["batch_size"]), self.rng_
        )
        noise = float(self.params.get("noise_level", 0.0))
        if noise > 0:
            windows = windows + noise * self.rng_.standard_normal(windows.shape)
        return torch.as_tensor(windows, dtype=self.dtype_, device=self.device_)

    @staticmethod
    def initial_latent(p: dict[str, torch.Tensor], x0: torch.Tensor) -> torch.Tensor:
        """``z_0 = [x_0, L x_0]`` (just ``x_0`` when M = D)."""
        if "L" not in p:
            return x0
        return torch.cat([x0, x0 @ p["L"].T], dim=1)

    # -- training -----------------------------------------------------------------------
    def _train(self, run: RunFiles | None, budget: float | None) -> None:
        from dsrbench.methods.trainer import Trainer, validation_stsp

        epochs = int(self.params["epochs"])
        lr_start, lr_end = float(self.params["lr_start"]), float(self.params["lr_end"])
        self.optimizer_ = torch.optim.RAdam(self.torch_params_.parameters(), lr=lr_start)
        # exponential decay per epoch, as in the reference code: gamma^epochs = end / start
        gamma = (lr_end / lr_start) ** (1.0 / max(1, epochs))
        self.scheduler_ = torch.optim.lr_scheduler.ExponentialLR(self.optimizer_, gamma)
        module = torch.nn.Module()
        module.params = self.torch_params_
        validate = None
        if self.val_x_ is not None:

            def validate() -> float:
                self._sync_weights()
                return validation_stsp(self._generate_std, self.val_x_)

        trainer = Trainer(
            model=module,
            state={"model": module, "optimizer": self.optimizer_, "scheduler": self.scheduler_},
            epochs=epochs,
            rng=self.rng_,
            run=run,
            checkpoint_every=int(self.params["checkpoint_every"]),
            validate_every=int(self.params["validate_every"]),
            budget=budget,
            description=self.name,
            extra_state=self._extra_state,
            load_extra_state=self._load_extra_state,
        )
        self.training_result_ = trainer.fit(self._epoch, validate)
        self._sync_weights()

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def _optimise(self, loss: torch.Tensor) -> float:
        self.optimizer_.zero_grad()
        loss.backward()
        self.optimizer_.step()
        return float(loss.detach())

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
        self._setup(train, val, device, seed)
        try:
            self._train(run, budget)
            self._after_training()
        finally:  # training-only state is not part of the fitted model
            for attr in ("train_x_", "val_x_", "torch_params_", "optimizer_", "scheduler_"):
                self.__dict__.pop(attr, None)
        return self

    def _after_training(self) -> None:
        """Hook run with the training data still at hand (the AL-RNN's symbolic code)."""

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
