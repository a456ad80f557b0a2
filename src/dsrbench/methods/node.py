"""Neural ODE: dx/dt = f_theta(x), trained through an ODE solver (torchdiffeq).

Chen, Rubanova, Bettencourt & Duvenaud 2018, "Neural ordinary differential equations",
NeurIPS. Settings (shared/SPEC.md section 4): Gilpin 2023 used a 30-unit residual MLP; the
DSR papers integrate with dopri5 / Tsit5 at tolerance 1e-4. Here

    f(x) = L x + MLP(x),   MLP = Linear(D, H) -> tanh -> Linear(H, H) -> tanh -> Linear(H, D)

(the linear skip L is the "residual" part), on standardised coordinates, with time measured
in data steps (one step = one unit; the spacing of the data does not enter the network).
Training: windows of ``seq_len`` points, the solution from each window's first point
compared with the window (MSE), Adam with an exponentially decaying learning rate.
Predictions integrate from the last context point; ``method = "rk4"`` with
``substeps`` fixed steps per data step is the fast option, ``dopri5`` the adaptive one.
The step map of the Lyapunov computation is the fixed-step RK4 flow over one data step
(``substeps`` steps), and its Jacobian comes from autograd, in float64.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import torch
import xarray as xr

from dsrbench.methods.base import Method, RunFiles, check_context, training_arrays


class VectorField(torch.nn.Module):
    """``f(x) = L x + MLP(x)``."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(dim, dim)
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(dim, hidden),
            torch.nn.Tanh(),
            torch.nn.Linear(hidden, hidden),
            torch.nn.Tanh(),
            torch.nn.Linear(hidden, dim),
        )

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) + self.mlp(x)


class NeuralODE(Method):
    """Neural ODE with a residual MLP vector field (Chen et al. 2018; Gilpin 2023)."""

    name = "node"
    uses_torch = True
    has_jacobian = True
    hyperparameters: ClassVar[dict[str, Any]] = {
        "hidden_dim": 30,
        "method": "dopri5",
        "rtol": 1e-4,
        "atol": 1e-4,
        "substeps": 4,
        "seq_len": 20,
        "batch_size": 32,
        "batches_per_epoch": 20,
        "epochs": 200,
        "lr_start": 1e-2,
        "lr_end": 1e-4,
        "checkpoint_every": 20,
        "validate_every": 50,
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {
        "method": "rk4",
        "substeps": 2,
        "epochs": 30,
        "batches_per_epoch": 10,
        "seq_len": 10,
        "validate_every": 15,
    }

    def _field(self, dim: int) -> VectorField:
        return VectorField(dim, int(self.params["hidden_dim"]))

    def _odeint(self, field: VectorField, x0: torch.Tensor, steps: int) -> torch.Tensor:
        """States at 0..steps data steps, ``(steps + 1, B, D)``."""
        from torchdiffeq import odeint

        t = torch.arange(steps + 1, dtype=x0.dtype, device=x0.device)
        if self.params["method"] == "rk4":
            opts = {"step_size": 1.0 / int(self.params["substeps"])}
            return odeint(field, x0, t, method="rk4", options=opts)
        return odeint(
            field,
            x0,
            t,
            method=str(self.params["method"]),
            rtol=float(self.params["rtol"]),
            atol=float(self.params["atol"]),
        )

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
        from dsrbench.training import (
            Trainer,
            resolve_device,
            sample_windows,
            seed_everything,
            validation_stsp,
        )

        rng = seed_everything(seed)
        self.device_ = resolve_device(device)
        x, v, self.mean_, self.std_ = training_arrays(train, val)
        self.dim_ = x.shape[2]
        field = self._field(self.dim_).to(self.device_)
        epochs = int(self.params["epochs"])
        lr0, lr1 = float(self.params["lr_start"]), float(self.params["lr_end"])
        optimizer = torch.optim.Adam(field.parameters(), lr=lr0)
        scheduler = torch.optim.lr_scheduler.ExponentialLR(
            optimizer, (lr1 / lr0) ** (1.0 / max(1, epochs))
        )
        seq, batch = int(self.params["seq_len"]), int(self.params["batch_size"])
        x32 = x.astype(np.float32)

        def epoch_fn(epoch: int) -> dict[str, float]:
            total = 0.0
            n = int(self.params["batches_per_epoch"])
            for _ in range(n):
                w = torch.as_tensor(sample_windows(x32, seq, batch, rng), device=self.device_)
                pred = self._odeint(field, w[:, 0], seq - 1).transpose(0, 1)
                loss = torch.mean((pred - w) ** 2)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach())
            lr = optimizer.param_groups[0]["lr"]
            scheduler.step()
            return {"loss": total / n, "lr": lr, "alpha": float("nan")}

        validate = None
        if v is not None:

            def validate() -> float:
                self.field_ = field
                return validation_stsp(self._generate_std, v[:, :1000])

        trainer = Trainer(
            model=field,
            state={"model": field, "optimizer": optimizer, "scheduler": scheduler},
            epochs=epochs,
            rng=rng,
            run=run,
            checkpoint_every=int(self.params["checkpoint_every"]),
            validate_every=int(self.params["validate_every"]),
            budget=budget,
            description=self.name,
        )
        self.training_result_ = trainer.fit(epoch_fn, validate)
        self._set_field(field.state_dict())
        return self

    def _set_field(self, state: dict[str, torch.Tensor]) -> None:
        """Inference copy of the field: CPU, float64."""
        field = self._field(self.mean_.size)
        field.load_state_dict({k: v.detach().cpu() for k, v in state.items()})
        self.field_ = field.to(torch.float64).eval()

    # -- inference --------------------------------------------------------------------------
    def _generate_std(self, ctx_std: np.ndarray, steps: int, chunk: int = 2000) -> np.ndarray:
        field = self.field_
        dtype = next(field.parameters()).dtype
        device = next(field.parameters()).device
        x0 = torch.as_tensor(np.asarray(ctx_std)[:, -1], dtype=dtype, device=device)
        out = np.full((x0.shape[0], steps, x0.shape[1]), np.nan)
        done = 0
        with torch.no_grad():
            while done < steps:
                n = min(chunk, steps - done)
                try:
                    sol = self._odeint(field, x0, n)[1:].transpose(0, 1)
                except (AssertionError, RuntimeError, OverflowError):  # underflow / blow-up
                    break
                values = sol.to("cpu", torch.float64).numpy()
                out[:, done : done + n] = values
                done += n
                if not np.all(np.isfinite(values[:, -1])):
                    break
                x0 = sol[:, -1]
        return out

    def forecast(self, context: np.ndarray, horizon: int) -> np.ndarray:
        ctx = (check_context(context) - self.mean_) / self.std_
        with np.errstate(all="ignore"):
            return self._generate_std(ctx, horizon) * self.std_ + self.mean_

    def initial_state(self, context: np.ndarray) -> np.ndarray:
        return (check_context(context)[:, -1] - self.mean_) / self.std_

    def _rk4_map(self, x: torch.Tensor) -> torch.Tensor:
        h = 1.0 / int(self.params["substeps"])
        f = self.field_
        t = torch.zeros((), dtype=x.dtype)
        for _ in range(int(self.params["substeps"])):
            k1 = f(t, x)
            k2 = f(t, x + 0.5 * h * k1)
            k3 = f(t, x + 0.5 * h * k2)
            k4 = f(t, x + h * k3)
            x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        return x

    def step(self, state: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            x = torch.as_tensor(np.asarray(state, dtype=np.float64))
            return self._rk4_map(x).numpy()

    def jacobian(self, state: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(np.asarray(state, dtype=np.float64))
        jac = torch.func.vmap(torch.func.jacrev(lambda v: self._rk4_map(v[None])[0]))(x)
        return jac.detach().numpy()

    # -- persistence ------------------------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        from dsrbench.methods.base import save_arrays

        super().save(directory)
        save_arrays(directory, mean=self.mean_, std=self.std_)
        torch.save(self.field_.state_dict(), Path(directory) / "field.pt")

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        from dsrbench.methods.base import load_arrays

        model = super().load(directory)
        arrays = load_arrays(directory)
        model.mean_, model.std_ = arrays["mean"], arrays["std"]
        state = torch.load(Path(directory) / "field.pt", map_location="cpu", weights_only=True)
        model._set_field(state)
        return model
