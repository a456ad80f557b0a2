"""Shared code of the latent piecewise-linear RNNs (shPLRNN, AL-RNN).

Both models have a latent state z (M units) of which the first D are the observations
(identity observation model, standardised coordinates), are trained with a form of
teacher forcing by :class:`dsrbench.training.Trainer`, and predict by reading the context
with the observed units forced to the data (pure teacher forcing), then running freely.
Training runs in torch (float32, on the resolved device); inference, ``step`` and
``jacobian`` run in numpy float64 on the trained weights, so predictions are deterministic
and the Jacobian matches finite differences.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import torch
import xarray as xr

from dsrbench.methods.base import Method, RunFiles, check_context, training_arrays


class LatentRNN(Method):
    """Base of the latent RNN methods: data handling, training loop, inference."""

    uses_torch = True
    has_jacobian = True
    #: names of the torch parameters, in save order
    parameter_names: ClassVar[tuple[str, ...]] = ()

    # -- to implement ------------------------------------------------------------------
    @abstractmethod
    def _init_parameters(self, dim: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Initial parameter arrays (float64) for observations of dimension ``dim``."""

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

    # -- data ---------------------------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return int(self.weights_["h"].shape[0]) if "h" in self.weights_ else 0

    def _setup(
        self,
        train: xr.Dataset,
        val: xr.Dataset | None,
        device: str,
        seed: int,
    ) -> None:
        from dsrbench.training import resolve_device, seed_everything

        self.rng_ = seed_everything(seed)
        self.device_ = resolve_device(device)
        x, v, self.mean_, self.std_ = training_arrays(train, val)
        self.dim_ = x.shape[2]
        self.train_x_ = x.astype(np.float32)
        self.val_x_ = v
        init = self._init_parameters(self.dim_, self.rng_)
        self.torch_params_ = torch.nn.ParameterDict(
            {
                k: torch.nn.Parameter(torch.as_tensor(v, dtype=torch.float32))
                for k, v in init.items()
            }
        ).to(self.device_)
        self._sync_weights()

    def _sync_weights(self) -> None:
        """Copy the torch parameters into the float64 numpy weights used for inference."""
        self.weights_ = {
            k: v.detach().to("cpu", torch.float64).numpy().copy()
            for k, v in self.torch_params_.items()
        }

    def _batch(self, length: int, batch_size: int) -> torch.Tensor:
        from dsrbench.training import sample_windows

        windows = sample_windows(self.train_x_, length, batch_size, self.rng_)
        return torch.as_tensor(windows, device=self.device_)

    def _initial_latent(self, x0: torch.Tensor, m: int) -> torch.Tensor:
        """Latent state from a first observation: observed units = data, the rest 0."""
        z = torch.zeros(x0.shape[0], m, dtype=x0.dtype, device=x0.device)
        z[:, : x0.shape[1]] = x0
        return z

    # -- training -----------------------------------------------------------------------
    def _train(self, epochs: int, lr_start: float, lr_end: float, run, budget) -> None:
        from dsrbench.training import Trainer, validation_stsp

        self.optimizer_ = torch.optim.RAdam(self.torch_params_.parameters(), lr=lr_start)
        gamma = (lr_end / lr_start) ** (1.0 / max(1, epochs))  # exponential decay per epoch
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
        # large training-only attributes are not part of the fitted model
        for attr in ("optimizer_", "scheduler_"):
            delattr(self, attr)

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    # -- inference (numpy float64) --------------------------------------------------------
    def _read_context(self, ctx_std: np.ndarray) -> np.ndarray:
        """Latent states after reading a standardised context with pure teacher forcing."""
        m = self.latent_dim
        d = ctx_std.shape[2]
        z = np.zeros((ctx_std.shape[0], m))
        z[:, :d] = ctx_std[:, 0]
        for t in range(1, ctx_std.shape[1]):
            z = self._np_step(z)
            z[:, :d] = ctx_std[:, t]
        return z

    def _generate_std(self, ctx_std: np.ndarray, steps: int) -> np.ndarray:
        z = self._read_context(np.asarray(ctx_std, dtype=np.float64))
        d = ctx_std.shape[2]
        out = np.empty((z.shape[0], steps, d))
        with np.errstate(all="ignore"):
            for t in range(steps):
                z = self._np_step(z)
                out[:, t] = z[:, :d]
        return out

    def forecast(self, context: np.ndarray, horizon: int) -> np.ndarray:
        ctx = (check_context(context) - self.mean_) / self.std_
        return self._generate_std(ctx, horizon) * self.std_ + self.mean_

    def initial_state(self, context: np.ndarray) -> np.ndarray:
        return self._read_context((check_context(context) - self.mean_) / self.std_)

    def step(self, state: np.ndarray) -> np.ndarray:
        return self._np_step(np.asarray(state, dtype=np.float64))

    def jacobian(self, state: np.ndarray) -> np.ndarray:
        return self._np_jacobian(np.asarray(state, dtype=np.float64))

    # -- persistence --------------------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        from dsrbench.methods.base import save_arrays

        super().save(directory)
        save_arrays(
            directory,
            mean=self.mean_,
            std=self.std_,
            **{f"w_{k}": v for k, v in self.weights_.items()},
        )

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        from dsrbench.methods.base import load_arrays

        model = super().load(directory)
        arrays = load_arrays(directory)
        model.mean_, model.std_ = arrays["mean"], arrays["std"]
        model.weights_ = {k[2:]: v for k, v in arrays.items() if k.startswith("w_")}
        return model

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
        self._train(
            int(self.params["epochs"]),
            float(self.params["lr_start"]),
            float(self.params["lr_end"]),
            run,
            budget,
        )
        del self.train_x_, self.val_x_, self.torch_params_
        return self
