"""Koopman VAE: a variational autoencoder whose prior is trained to be linear in time.

Naiman, Erichson, Ren, Mahoney & Azencot 2024, "Generative Modeling of Regular and
Irregular Time Series Data via Koopman VAEs", ICLR 2024 (reference code
azencot-group/KoVAE, ``models/kovae.py``), on training windows of ``seq_len`` points in
standardised coordinates mapped to [0, 1] by the training minimum and maximum (the paper
min-max scales its data for the sigmoid output):

* encoder, regular data: a bidirectional GRU (``num_layers``, ``hidden_dim`` h) then a
  batch norm over its 2h features; irregular data (dropped points, NaN): a neural CDE
  (Kidger et al. 2020) driven by the path X(s) = (s, x(s)) through the kept points, then a
  one-layer bidirectional GRU and the batch norm. The CDE's vector field is an MLP with a
  tanh output reshaped to h x (D + 1), its initial state a linear map of X(0); one RK4
  step per grid interval. Posterior ``q(z_t | x) = N(mu_t, sigma_t^2)`` from two linear
  heads, z of ``z_dim`` units.
* decoder: a bidirectional GRU on z, a linear map to D and a sigmoid.
* prior: a GRU cell rolled from z = 0, h = 0; each step gives ``p(z_t | z_<t) = N(mu_t,
  sigma_t^2)`` and its sample is fed back (``sample_prior``).
* Koopman operator: A = argmin ||Z_past A - Z_future|| over the prior samples of the batch
  (least squares by QR, gradients through it); the loss
  ``w_rec sum ||x_hat - x||^2 / B + w_kl sum KL(q || p) / B + w_pred L_pred`` with
  ``L_pred = sum_{j<=num_steps} MSE(Z_{1:T-j} A^j, Z_{1+j:T}) / ||Z_{1:T-j} A^j||_F``
  (paper Eq. 5-7, ``KoVAE.loss``); the reconstruction sums over the kept points only.
* generation (:meth:`generate`): the prior rolled for the requested number of steps (its
  samples, seeded by the fit's seed) and decoded; the context is not read.
* forecast (ours; the paper generates only): the posterior means of the context's last
  ``seq_len`` points, then ``z_{t+1} = z_t A`` with A fitted by least squares on the
  posterior means of training windows after training, decoded together with the context
  latents.

Deviations from the reference code (docs/methods.md): the CDE path is linear between the
kept points (the code: natural cubic splines), time enters as the window's time stamps
scaled to [0, 1]; the weights with the best validation D_stsp of a free prior run are kept
(the code keeps the last); an epoch is ``batches_per_epoch`` random windows.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
import torch
import xarray as xr

from dsrbench.methods.base import DEFAULT_CONTEXT, FitContext, Method, check_context
from dsrbench.methods.trainer import (
    Batch,
    LossPartsStep,
    SavedNetwork,
    loop_settings,
    resolve_device,
    sample_windows,
    seed_everything,
    train_one,
    validation_stsp,
)

#: validation points of the D_stsp free run (the first of the validation trajectories)
VALIDATION_POINTS = 1000
#: training windows whose posterior means fit the forecast operator A after training
OPERATOR_WINDOWS = 512
ENCODERS = ("auto", "gru", "ncde")
PARTS = ("rec", "kl", "pred")


def fill_gaps(x: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """Windows ``x (B, T, D)`` with NaN rows filled linearly in time ``tau (T,)`` between
    the kept points around them (the nearest kept point before the first or after the last
    one; 0.5, the middle of the scaled range, in a window without any)."""
    b, t, _ = x.shape
    kept = ~torch.isnan(x).any(-1)  # (B, T)
    idx = torch.arange(t, device=x.device).expand(b, t)
    prev = torch.where(kept, idx, torch.full_like(idx, -1)).cummax(1).values
    nxt = torch.where(kept, idx, torch.full_like(idx, t)).flip(1).cummin(1).values.flip(1)
    has_prev, has_next = prev >= 0, nxt < t
    p, n = prev.clamp(0, t - 1), nxt.clamp(0, t - 1)
    p = torch.where(has_prev, p, n)
    n = torch.where(has_next, n, p)
    xp = torch.gather(x, 1, p[..., None].expand_as(x))
    xn = torch.gather(x, 1, n[..., None].expand_as(x))
    tp, tn, tt = tau[p], tau[n], tau[idx]
    w = torch.where(tn > tp, (tt - tp) / (tn - tp).clamp_min(1e-12), torch.zeros_like(tt))
    out = xp + w[..., None] * (xn - xp)
    return torch.nan_to_num(out, nan=0.5)


class KoVAENet(torch.nn.Module):
    """The KoVAE networks: encoder (GRU or neural CDE + GRU), posterior heads, decoder and
    the GRU prior (Naiman et al. 2024, ``models/kovae.py``)."""

    def __init__(
        self, dim: int, z_dim: int, hidden: int, layers: int, batch_norm: bool, ncde: bool
    ) -> None:
        super().__init__()
        self.dim, self.z_dim, self.hidden, self.ncde = dim, z_dim, hidden, ncde
        if ncde:
            self.cde_init = torch.nn.Linear(dim + 1, hidden)
            widths = [hidden] * max(1, layers) + [hidden * (dim + 1)]
            mods: list[torch.nn.Module] = []
            for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
                mods.append(torch.nn.Linear(a, b))
                mods.append(torch.nn.ReLU() if i < len(widths) - 2 else torch.nn.Tanh())
            self.cde_field = torch.nn.Sequential(*mods)
            self.enc_rnn = torch.nn.GRU(hidden, hidden, 1, batch_first=True, bidirectional=True)
        else:
            self.enc_rnn = torch.nn.GRU(dim, hidden, layers, batch_first=True, bidirectional=True)
        self.norm = torch.nn.BatchNorm1d(2 * hidden) if batch_norm else torch.nn.Identity()
        self.z_mean = torch.nn.Linear(2 * hidden, z_dim)
        self.z_logvar = torch.nn.Linear(2 * hidden, z_dim)
        self.dec_rnn = torch.nn.GRU(z_dim, hidden, layers, batch_first=True, bidirectional=True)
        self.dec_out = torch.nn.Linear(2 * hidden, dim)
        self.prior_cell = torch.nn.GRUCell(z_dim, hidden)
        self.prior_mean = torch.nn.Linear(hidden, z_dim)
        self.prior_logvar = torch.nn.Linear(hidden, z_dim)

    def _cde(self, path: torch.Tensor) -> torch.Tensor:
        """Hidden states ``(B, T, h)`` of the CDE ``dz = f(z) dX`` along the piecewise
        linear path ``path (B, T, D + 1)``, one RK4 step per interval."""
        b, t, c = path.shape
        z = self.cde_init(path[:, 0])
        out = [z]
        for k in range(t - 1):
            dx = path[:, k + 1] - path[:, k]

            def g(state: torch.Tensor, dx: torch.Tensor = dx) -> torch.Tensor:
                field = self.cde_field(state).view(b, self.hidden, c)
                return torch.einsum("bhc,bc->bh", field, dx)

            k1 = g(z)
            k2 = g(z + 0.5 * k1)
            k3 = g(z + 0.5 * k2)
            k4 = g(z + k3)
            z = z + (k1 + 2 * k2 + 2 * k3 + k4) / 6
            out.append(z)
        return torch.stack(out, 1)

    def encode(self, x: torch.Tensor, tau: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior means and log-variances ``(B, T, z)`` of windows ``x (B, T, D)`` (NaN:
        a dropped point) at window times ``tau (T,)`` in [0, 1]."""
        filled = fill_gaps(x, tau) if torch.isnan(x).any() else x
        if self.ncde:
            time = tau.to(x.dtype).expand(x.shape[0], -1)[..., None]
            h, _ = self.enc_rnn(self._cde(torch.cat([time, filled], -1)))
        else:
            h, _ = self.enc_rnn(filled)
        h = self.norm(h.transpose(1, 2)).transpose(1, 2)
        return self.z_mean(h), self.z_logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, T, D)`` in [0, 1] from latents ``(B, T, z)``."""
        h, _ = self.dec_rnn(z)
        return torch.sigmoid(self.dec_out(h))

    def sample_prior(
        self, n: int, steps: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``steps`` prior samples of n sequences, with their means and log-variances
        ``(n, steps, z)``: the GRU cell rolled from zeros on its own samples."""
        param = self.prior_mean.weight
        z = param.new_zeros((n, self.z_dim))
        h = param.new_zeros((n, self.hidden))
        zs, means, logvars = [], [], []
        for _ in range(steps):
            h = self.prior_cell(z, h)
            mean, logvar = self.prior_mean(h), self.prior_logvar(h)
            noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype).to(mean.device)
            z = mean + torch.exp(0.5 * logvar) * noise
            zs.append(z)
            means.append(mean)
            logvars.append(logvar)
        return torch.stack(zs, 1), torch.stack(means, 1), torch.stack(logvars, 1)


def koopman_operator(z: torch.Tensor) -> torch.Tensor:
    """The least-squares A ``(z, z)`` with ``z_{t+1} = z_t A`` over sequences ``(B, T, z)``
    (QR, as the reference ``compute_operator_and_pred``)."""
    past = z[:, :-1].reshape(-1, z.shape[-1])
    future = z[:, 1:].reshape(-1, z.shape[-1])
    q, r = torch.linalg.qr(past)
    return torch.linalg.solve_triangular(r, q.T @ future, upper=True)


def kovae_loss(
    net: KoVAENet,
    x: torch.Tensor,
    tau: torch.Tensor,
    *,
    w_rec: float,
    w_kl: float,
    w_pred: float,
    num_steps: int,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The KoVAE loss (Naiman et al. 2024, ``KoVAE.loss``) of windows ``x (B, T, D)``, NaN
    at dropped points, which the reconstruction leaves out."""
    b = x.shape[0]
    mean_q, logvar_q = net.encode(x, tau)
    z_post = mean_q + torch.exp(0.5 * logvar_q) * torch.randn_like(mean_q)
    x_hat = net.decode(z_post)
    kept = ~torch.isnan(x)
    rec = ((x_hat - torch.nan_to_num(x)) ** 2 * kept).sum() / b
    z_prior, mean_p, logvar_p = net.sample_prior(b, x.shape[1])
    kl = 0.5 * (
        logvar_p
        - logvar_q
        + (torch.exp(logvar_q) + (mean_q - mean_p) ** 2) / torch.exp(logvar_p)
        - 1
    )
    kl = kl.sum() / b
    pred = x.new_zeros(())
    if w_pred:
        a = koopman_operator(z_prior)
        zz = z_prior.reshape(-1, z_prior.shape[1], z_prior.shape[2])
        power = a
        for j in range(1, num_steps + 1):
            ahead = zz[:, :-j] @ power
            pred = pred + torch.mean((ahead - zz[:, j:]) ** 2) / torch.linalg.norm(ahead)
            power = power @ a
    total = w_rec * rec + w_kl * kl + w_pred * pred
    parts = {"rec": rec, "kl": kl, "pred": pred}
    return total, {k: float(v.detach()) for k, v in parts.items()}


class KoVAEStep(LossPartsStep):
    """The training step of :class:`KoVAE`: random windows of ``seq_len`` points, the loss
    of :func:`kovae_loss` (its parts logged as epoch means), Adam; a non-finite batch is
    skipped; validation scores a free prior run by D_stsp."""

    part_names = PARTS

    def __init__(
        self,
        model: KoVAE,
        net: KoVAENet,
        x: np.ndarray,
        v: np.ndarray | None,
        tau: torch.Tensor,
        device: torch.device,
    ) -> None:
        hp = model.params
        self.model, self.net, self.x, self.val, self.tau = model, net, x, v, tau
        self.device = device
        self.length, self.batch_size = int(hp["seq_len"]), int(hp["batch_size"])
        self.optimizer = torch.optim.Adam(
            net.parameters(), lr=float(hp["lr"]), weight_decay=float(hp["weight_decay"])
        )
        self.weights_of_loss = {
            "w_rec": float(hp["w_rec"]),
            "w_kl": float(hp["w_kl"]),
            "w_pred": float(hp["w_pred"]),
            "num_steps": int(hp["num_steps"]),
        }

    def state(self) -> dict[str, Any]:
        return {"model": self.net, "optimizer": self.optimizer}

    def begin_epoch(self, epoch: int) -> None:
        super().begin_epoch(epoch)
        self.net.train()

    def loss(self, batch: Batch) -> torch.Tensor:
        w = sample_windows(self.x, self.length, self.batch_size, batch.rngs[0])
        xt = torch.as_tensor(w, device=self.device, dtype=torch.float32)
        loss, self.parts = kovae_loss(self.net, xt, self.tau, **self.weights_of_loss)
        if torch.isfinite(loss):
            loss.backward()
        return loss.detach().reshape(1)

    def validate(self, k: int) -> float | None:
        if self.val is None:
            return None
        self.net.eval()
        try:
            with torch.no_grad():
                return validation_stsp(
                    lambda c, n: self.model._generate_std(c.shape[0], n, self.net),
                    self.val[:, :VALIDATION_POINTS],
                )
        finally:
            self.net.train()

    def weights(self, k: int) -> dict[str, torch.Tensor]:
        return {n: t.detach().clone() for n, t in self.net.state_dict().items()}


class KoVAE(SavedNetwork, Method):
    """Koopman VAE (Naiman et al. 2024): generation from a linear-consistent prior, on
    regularly or irregularly sampled training data."""

    weights_file: ClassVar[str] = "kovae.pt"

    name = "kovae"
    label = "KoVAE"
    color = "#b15928"
    uses_torch = True
    irregular_sampling = True
    fitted_arrays = ("mean", "std", "low", "high", "tau", "operator", "ncde", "seed")
    hyperparameters: ClassVar[dict[str, Any]] = {
        "seq_len": 24,  # paper (run_regular.py)
        "z_dim": 16,  # paper
        "hidden_dim": 20,  # paper
        "num_layers": 3,  # paper
        "batch_norm": True,  # paper
        "encoder": "auto",  # "gru" (regular data), "ncde" (dropped points), auto: by the data
        "w_rec": 1.0,  # paper
        "w_kl": 0.007,  # paper (sine); the irregular runs use 0.1
        "w_pred": 0.005,  # paper (sine); the irregular runs use 0.0005
        "num_steps": 1,  # paper: the horizon of L_pred
        "lr": 7e-4,  # paper
        "weight_decay": 0.0,  # paper
        "batch_size": 64,  # paper
        "batches_per_epoch": 50,
        "epochs": 600,  # paper
        "checkpoint_every": 10,
        "validate_every": 25,
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {
        "batches_per_epoch": 10,
        "epochs": 15,
        "lr": 3e-3,
        "validate_every": 15,
    }
    citation = (
        "Naiman, Erichson, Ren, Mahoney & Azencot, Generative Modeling of Regular and "
        "Irregular Time Series Data via Koopman VAEs, ICLR (2024)"
    )

    # -- the network ----------------------------------------------------------------------
    def _net(self, dim: int, ncde: bool) -> KoVAENet:
        hp = self.params
        return KoVAENet(
            dim,
            int(hp["z_dim"]),
            int(hp["hidden_dim"]),
            int(hp["num_layers"]),
            bool(hp["batch_norm"]),
            ncde,
        )

    def _tau(self) -> torch.Tensor:
        """The times of a window's points scaled to [0, 1]: its time stamps less the
        first, over its span (the training data's time coordinate)."""
        return torch.as_tensor(self.tau_, dtype=torch.float32)

    def _set_net(self, state: dict[str, torch.Tensor]) -> None:
        """The inference copy of the network: CPU, float64, eval mode."""
        net = self._net(self.mean_.size, bool(self.ncde_))
        net.load_state_dict({k: v.detach().cpu() for k, v in state.items()})
        self.net_ = net.to(torch.float64).eval()

    def _scale(self, z: np.ndarray) -> np.ndarray:
        return (z - self.low_) / (self.high_ - self.low_)

    def _unscale(self, u: np.ndarray) -> np.ndarray:
        return u * (self.high_ - self.low_) + self.low_

    # -- training ---------------------------------------------------------------------------
    def fit(
        self,
        train: xr.Dataset,
        val: xr.Dataset | None = None,
        ctx: FitContext = DEFAULT_CONTEXT,
    ) -> Self:
        hp = self.params
        if hp["encoder"] not in ENCODERS:
            raise ValueError(f"kovae: encoder must be one of {ENCODERS}, not {hp['encoder']!r}")
        rng = seed_everything(ctx.seed)
        dev = resolve_device(ctx.device)
        x, v = self.fit_scale(train, val)  # dropped points stay NaN
        length = int(hp["seq_len"])
        if length < 2 or length > x.shape[1]:
            raise ValueError(
                f"kovae: seq_len = {length} must lie in [2, {x.shape[1]}] (the trajectory length)"
            )
        stamps = (
            np.asarray(train["time"].values[:length], dtype=np.float64)
            if "time" in train.coords
            else np.arange(length, dtype=np.float64)
        )
        self.tau_ = (stamps - stamps[0]) / (stamps[-1] - stamps[0])
        kept = x[~np.isnan(x).any(-1)]
        self.low_, self.high_ = kept.min(axis=0), kept.max(axis=0)
        self.high_ = np.where(self.high_ > self.low_, self.high_, self.low_ + 1.0)
        dropped = bool(np.isnan(x).any())
        self.ncde_ = np.asarray(
            hp["encoder"] == "ncde" or (hp["encoder"] == "auto" and dropped), dtype=bool
        )
        self.seed_ = np.asarray(ctx.seed, dtype=np.int64)
        self.operator_ = np.eye(int(hp["z_dim"]))
        net = self._net(x.shape[2], bool(self.ncde_)).to(dev, torch.float32)
        xs = self._scale(x).astype(np.float32)
        vs = None if v is None else self._scale(v)
        step = KoVAEStep(self, net, xs, vs, self._tau().to(dev), dev)
        self.training_result_, weights = train_one(
            step, rng, ctx.run, budget=ctx.budget, **loop_settings(hp, self.name)
        )
        self.device_ = dev
        self._set_net(weights)
        self.operator_ = self._fit_operator(xs, rng)
        return self

    def _fit_operator(self, xs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A of ``z_{t+1} = z_t A`` (least squares) on the posterior means of training
        windows: the forecast's linear step."""
        w = sample_windows(xs, int(self.params["seq_len"]), OPERATOR_WINDOWS, rng)
        with torch.no_grad():
            mean, _ = self.net_.encode(torch.as_tensor(w, dtype=torch.float64), self._tau_64())
            return koopman_operator(mean).numpy()

    def _tau_64(self) -> torch.Tensor:
        return self._tau().to(torch.float64)

    # -- inference --------------------------------------------------------------------------
    def _generate_std(self, n: int, steps: int, net: KoVAENet | None = None) -> np.ndarray:
        """``n`` free prior runs ``(n, steps, D)`` in standardised coordinates, seeded by the
        fit's seed; ``net``: a network in training (validation), else the inference copy."""
        net = self.net_ if net is None else net
        gen = torch.Generator().manual_seed(int(getattr(self, "seed_", 0)))
        with torch.no_grad():
            z, _, _ = net.sample_prior(n, steps, gen)
            u = net.decode(z).to("cpu", torch.float64).numpy()
        return self._unscale(u)

    def generate(self, context: np.ndarray, steps: int) -> np.ndarray:
        """Free runs ``(B, steps, D)`` from the prior (the context sets only B)."""
        b = check_context(context).shape[0]
        if steps < 1:
            return np.zeros((b, 0, self.mean_.size))
        return self.from_model(self._generate_std(b, steps))

    def forecast(self, context: np.ndarray, horizon: int) -> np.ndarray:
        """The posterior means of the context's last ``seq_len`` points, ``horizon`` steps
        of ``z A``, decoded together with the context's latents."""
        ctx = self._scale(self.to_model(check_context(context)))
        ctx = ctx[:, -int(self.params["seq_len"]) :]
        tau = self._tau_64()[: ctx.shape[1]]
        a = torch.as_tensor(self.operator_)
        with torch.no_grad():
            mean, _ = self.net_.encode(torch.as_tensor(ctx), tau)
            z, ahead = mean[:, -1], []
            for _ in range(horizon):
                z = z @ a
                ahead.append(z)
            if not ahead:
                return np.zeros((ctx.shape[0], 0, ctx.shape[2]))
            u = self.net_.decode(torch.cat([mean, torch.stack(ahead, 1)], 1))
        out = u[:, ctx.shape[1] :].numpy()
        with np.errstate(all="ignore"):
            return self.from_model(self._unscale(out))
