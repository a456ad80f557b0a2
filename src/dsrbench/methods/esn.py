"""Echo state network (reservoir computer) with a ridge readout.

Jaeger 2001 (GMD Report 148); leaky-integrator form of Jaeger et al. 2007:

    r_{t+1} = (1 - a) r_t + a tanh(W r_t + W_in x_t + b),     x_{t+1} = x_t + W_out [1, r_{t+1}]

with a sparse random W scaled to spectral radius rho, and W_out by ridge regression on
teacher-forced reservoir states after a washout. Closed loop for forecasts: the context
drives the reservoir, then each prediction is fed back as the next input. Settings of
Gilpin 2023 (shared/SPEC.md section 4): 500 units, rho = 0.99, connectivity 0.1, ridge
1e-4, leak rate tuned in 0.1..1.1 (default here 0.5). The readout predicts the increment of
the standardised state (our choice: it makes the fit far better conditioned on finely
sampled flows).
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
import xarray as xr

from dsrbench.methods.base import (
    Method,
    RunFiles,
    check_context,
    load_arrays,
    save_arrays,
    training_arrays,
)


class EchoStateNetwork(Method):
    """Leaky-tanh echo state network, closed-loop forecasts (Jaeger 2001)."""

    name = "esn"
    hyperparameters: ClassVar[dict[str, Any]] = {
        "units": 500,
        "spectral_radius": 0.99,
        "connectivity": 0.1,
        "input_scaling": 0.5,
        "bias_scaling": 0.1,
        "leak_rate": 0.5,
        "ridge": 1e-4,
        "washout": 100,
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {"units": 200}
    has_jacobian = True

    def _init_weights(self, dim: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        n = int(self.params["units"])
        w = rng.uniform(-1, 1, (n, n)) * (rng.random((n, n)) < float(self.params["connectivity"]))
        radius = np.max(np.abs(np.linalg.eigvals(w)))
        self.w_ = w * (float(self.params["spectral_radius"]) / radius) if radius > 0 else w
        self.w_in_ = rng.uniform(-1, 1, (n, dim)) * float(self.params["input_scaling"])
        self.b_ = rng.uniform(-1, 1, n) * float(self.params["bias_scaling"])

    def _update(self, r: np.ndarray, x: np.ndarray) -> np.ndarray:
        a = float(self.params["leak_rate"])
        return (1 - a) * r + a * np.tanh(r @ self.w_.T + x @ self.w_in_.T + self.b_)

    def _drive(self, x: np.ndarray) -> np.ndarray:
        """Reservoir states ``(B, T, N)`` after each input of ``x (B, T, D)``, from r = 0."""
        b, t, _ = x.shape
        r = np.zeros((b, self.w_.shape[0]))
        states = np.empty((b, t, r.shape[1]))
        for k in range(t):
            r = self._update(r, x[:, k])
            states[:, k] = r
        return states

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
        x, _, self.mean_, self.std_ = training_arrays(train, val)
        washout = int(self.params["washout"])
        if x.shape[1] <= washout + 1:
            raise ValueError(f"esn: trajectories of {x.shape[1]} points <= washout {washout}")
        self._init_weights(x.shape[2], seed)
        states = self._drive(x[:, :-1])[:, washout:]  # r_{t+1} after input x_t
        target = (x[:, washout + 1 :] - x[:, washout:-1]).reshape(-1, x.shape[2])
        feats = self._features(states.reshape(-1, states.shape[2]))
        penalty = float(self.params["ridge"]) * np.eye(feats.shape[1])
        penalty[0, 0] = 0.0
        self.w_out_ = np.ascontiguousarray(
            np.linalg.solve(feats.T @ feats + penalty, feats.T @ target).T
        )
        return self

    @staticmethod
    def _features(r: np.ndarray) -> np.ndarray:
        return np.hstack([np.ones((r.shape[0], 1)), r])

    # -- closed loop: internal state [r, x] ----------------------------------------------
    def initial_state(self, context: np.ndarray) -> np.ndarray:
        ctx = (check_context(context) - self.mean_) / self.std_
        r = self._drive(ctx)[:, -1]
        return np.concatenate([r, ctx[:, -1]], axis=1)

    def step(self, state: np.ndarray) -> np.ndarray:
        """Closed-loop map on ``[r_t, x_t]``: x_{t+1} = x_t + W_out [1, r_t] is read from the
        state, then r_{t+1} = f(r_t, x_{t+1})."""
        state = np.asarray(state, dtype=np.float64)
        n = self.w_.shape[0]
        r, x = state[:, :n], state[:, n:]
        x_next = x + self._features(r) @ self.w_out_.T
        return np.concatenate([self._update(r, x_next), x_next], axis=1)

    def jacobian(self, state: np.ndarray) -> np.ndarray:
        state = np.asarray(state, dtype=np.float64)
        n = self.w_.shape[0]
        d = state.shape[1] - n
        r, x = state[:, :n], state[:, n:]
        a = float(self.params["leak_rate"])
        wr = self.w_out_[:, 1:]  # dx_next / dr
        x_next = x + self._features(r) @ self.w_out_.T
        pre = r @ self.w_.T + x_next @ self.w_in_.T + self.b_
        sech2 = 1 - np.tanh(pre) ** 2  # (B, N)
        b = state.shape[0]
        jac = np.zeros((b, n + d, n + d))
        # dr'/dr = (1-a) I + a diag(sech2) (W + W_in W_r);  dr'/dx = a diag(sech2) W_in
        jac[:, :n, :n] = (1 - a) * np.eye(n) + a * sech2[:, :, None] * (self.w_ + self.w_in_ @ wr)
        jac[:, :n, n:] = a * sech2[:, :, None] * self.w_in_
        jac[:, n:, :n] = wr
        jac[:, n:, n:] = np.eye(d)
        return jac

    def forecast(self, context: np.ndarray, horizon: int) -> np.ndarray:
        ctx = (check_context(context) - self.mean_) / self.std_
        n = self.w_.shape[0]
        # the context drives the reservoir (teacher forcing), then the loop closes
        state = np.concatenate([self._drive(ctx)[:, -1], ctx[:, -1]], axis=1)
        out = np.empty((ctx.shape[0], horizon, ctx.shape[2]))
        with np.errstate(all="ignore"):
            for k in range(horizon):
                state = self.step(state)
                out[:, k] = state[:, n:]
        return out * self.std_ + self.mean_

    def save(self, directory: Any) -> None:
        super().save(directory)
        save_arrays(
            directory,
            w=self.w_,
            w_in=self.w_in_,
            b=self.b_,
            w_out=self.w_out_,
            mean=self.mean_,
            std=self.std_,
        )

    @classmethod
    def load(cls, directory: Any) -> Self:
        model = super().load(directory)
        a = load_arrays(directory)
        model.w_, model.w_in_, model.b_ = a["w"], a["w_in"], a["b"]
        model.w_out_, model.mean_, model.std_ = a["w_out"], a["mean"], a["std"]
        return model
