"""PhyxMamba: delay-embedded patches, hierarchical Mamba layers, attractor-aware fine-tuning.

Liu et al. 2025, "PhyxMamba: integrating physical principles with state space models for
chaotic system forecasting", arXiv:2505.23863 (reference code: tsinghua-fib-lab/PhyxMamba;
docs/methods.md), on standardised coordinates:

* Input: the last ``lookback`` observations (30 in the paper). Delay embedding with
  ``embedding_dim`` m and ``delay`` tau (Lorenz-63: m = 3, tau = 7): the vector at t is
  ``[x_t, x_{t - tau}, ..., x_{t - (m-1) tau}]`` (C = m D channels), a lag before the
  window's first point taking that first point (:func:`delay_embed`; the window alone is
  embedded, in training as in forecasts, so a 30-point context is a complete input). The
  embedded window is cut into patches of ``token_size`` steps (Lorenz-63: 10, Roessler: 5),
  each a token.
* Network (:class:`PhyxMambaNet`): a linear map of each flattened patch to ``d_model``
  (256), plus a sinusoidal position embedding, dropout 0.1; ``hier_layers`` levels (4
  Lorenz-63, 1 Roessler) of a Mamba block each: a level reads the residual r of the tokens,
  ``h = Mamba(r)``, predicts its current part ``Wc h`` (what it explains of r, taken off:
  ``r <- r - Wc h``) and a future part ``Wf h`` (summed over the levels: the features of the
  next patch), N-BEATS-like; a layer norm and a linear head give the next patch (all C
  channels), and ``mtp_heads`` (3) extra heads the patches 2, 3 and 4 ahead (multi-token
  prediction). The observations are the lag-0 channels (:func:`delay_unembed`).
* Forecast: autoregressive patch by patch: the next patch is predicted from the window, its
  observations appended, the window slid by ``token_size`` and embedded again.
* Training (:class:`PhyxMambaStep` in :class:`dsrbench.methods.trainer.GroupTrainer`, one
  epoch = ``batches_per_epoch`` batches of ``batch_size`` windows; Adam, weight decay
  1e-5, ReduceLROnPlateau(0.5, patience 5) on the validation loss, batch 512):

  1. pre-training (``pretrain_epochs``, the paper's at most 800, lr 1e-3): next-patch MSE
     at every token position (teacher forcing) + ``mtp_weight`` (0.1) x the mean MSE of the
     extra heads;
  2. fine-tuning (lr 1e-4) from the best pre-trained weights: the next-patch head alone
     (linear probe, ``probe_epochs``, 50), then everything (``finetune_epochs``, up to
     1600); loss: the MSE of a ``rollout_steps`` (30) autoregressive rollout +
     ``mmd_weight`` (1) x the unconditional MMD between predicted and true states (pooled
     over the batch and the rollout, ``mmd_points`` of them drawn) + ``cond_mmd_weight``
     (1000) x the conditional MMD (between each window's predicted and true rollout points,
     averaged over the windows). MMD (:func:`mmd2`): the biased estimate with a sum of
     rational-quadratic kernels ``k(a, b) = (1 + |a - b|^2 / (2 alpha sigma^2))^-alpha``
     at sigma 0.2, 0.5, 0.9, 1.3 (alpha = ``mmd_alpha``, 1) on the standardised states.

  Every stage keeps its best weights by the validation loss (next-patch MSE in stage 1,
  rollout MSE in stage 2, on fixed validation windows); each stage starts with a fresh
  optimiser state and scheduler.
* Deviation: Mamba-1 blocks of ``mambapy`` (pure PyTorch, parallel scan) for the
  reference's Mamba2 of ``mamba_ssm`` (CUDA kernels only), so a model trained on a GPU
  predicts on a CPU; inference runs on the CPU in float64.
* ``"auto"`` settings (systems without the paper's values; ``configs/phyxmamba.yaml`` sets
  Lorenz-63's and Roessler's), from the standardised training data: m = 3; tau = the first
  lag where the autocorrelation (averaged over trajectories) falls to zero or below,
  smallest over the coordinates, at most ``(lookback - 1) // (m - 1)``; ``token_size`` = the
  divisor of ``lookback`` (at most ``lookback / 2``) nearest to half the dominant period
  (the peak of the power spectrum summed over coordinates). On Lorenz-63 at 30 points per
  Lyapunov time these give tau = 6 and a token of 10 (the paper: 7 and 10).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import torch
import xarray as xr

from dsrbench.methods.base import DEFAULT_CONTEXT, FitContext, Method, check_context
from dsrbench.methods.trainer import (
    Batch,
    TrainingStep,
    load_weights,
    resolve_device,
    sample_windows,
    save_weights,
    seed_everything,
    train_one,
)

DTYPES = {"float32": torch.float32, "float64": torch.float64}
SETTINGS_FILE = "phyxmamba.json"
#: validation windows scored every epoch (the plateau scheduler and the best weights)
VALIDATION_WINDOWS = 256
#: contexts forecast together in one batch at inference
INFERENCE_BATCH = 256
AUTO = "auto"


# -- delay embedding and patches --------------------------------------------------------------
def delay_embed(x: torch.Tensor, m: int, tau: int) -> torch.Tensor:
    """``(..., T, D) -> (..., T, m D)``: ``[x_t, x_{t-tau}, ..., x_{t-(m-1)tau}]``, a lag
    before the first point taking the first point."""
    t = x.shape[-2]
    parts = []
    for k in range(m):
        idx = (torch.arange(t, device=x.device) - k * tau).clamp(min=0)
        parts.append(x.index_select(-2, idx))
    return torch.cat(parts, -1)


def delay_unembed(e: torch.Tensor, dim: int) -> torch.Tensor:
    """The observations (the lag-0 channels) of an embedded sequence ``(..., T, m D)``."""
    return e[..., :dim]


def patchify(e: torch.Tensor, size: int) -> torch.Tensor:
    """``(..., T, C) -> (..., T / size, size C)``: consecutive patches, flattened."""
    t, c = e.shape[-2:]
    if t % size:
        raise ValueError(f"a sequence of {t} steps does not split into patches of {size}")
    return e.reshape(*e.shape[:-2], t // size, size * c)


def unpatchify(p: torch.Tensor, channels: int) -> torch.Tensor:
    """``(..., P, size C) -> (..., P size, C)``, the inverse of :func:`patchify`."""
    n, flat = p.shape[-2:]
    return p.reshape(*p.shape[:-2], n * (flat // channels), channels)


def sinusoidal_positions(n: int, d: int) -> torch.Tensor:
    """The sinusoidal position embedding ``(n, d)`` of Vaswani et al. 2017."""
    pos = torch.arange(n, dtype=torch.float64)[:, None]
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, d, 2, dtype=torch.float64) / d)
    out = torch.zeros(n, d, dtype=torch.float64)
    out[:, 0::2] = torch.sin(pos * freq)
    out[:, 1::2] = torch.cos(pos * freq)[:, : d // 2]
    return out.float()


# -- the attractor loss ---------------------------------------------------------------------
def rq_kernel(
    a: torch.Tensor, b: torch.Tensor, sigmas: tuple[float, ...], alpha: float
) -> torch.Tensor:
    """Sum over ``sigmas`` of rational-quadratic kernels
    ``(1 + |a - b|^2 / (2 alpha sigma^2))^-alpha`` between ``a (..., N, D)`` and
    ``b (..., M, D)``: ``(..., N, M)``."""
    d2 = ((a[..., :, None, :] - b[..., None, :, :]) ** 2).sum(-1)
    return sum((1 + d2 / (2 * alpha * s * s)) ** -alpha for s in sigmas)  # type: ignore[return-value]


def mmd2(
    x: torch.Tensor, y: torch.Tensor, sigmas: tuple[float, ...], alpha: float = 1.0
) -> torch.Tensor:
    """The biased squared MMD between samples ``x (..., N, D)`` and ``y (..., M, D)``
    (Gretton et al. 2012, Eq. 5): ``mean k(x, x') + mean k(y, y') - 2 mean k(x, y)``;
    zero for identical samples."""
    kxx = rq_kernel(x, x, sigmas, alpha).mean((-2, -1))
    kyy = rq_kernel(y, y, sigmas, alpha).mean((-2, -1))
    kxy = rq_kernel(x, y, sigmas, alpha).mean((-2, -1))
    return kxx + kyy - 2 * kxy


# -- automatic settings -------------------------------------------------------------------------
def first_zero_of_autocorrelation(x: np.ndarray) -> int:
    """The smallest lag (over the coordinates) at which the autocorrelation of ``x (N, T, D)``
    (averaged over the trajectories) is zero or below; T - 1 when it never is."""
    n, t, d = x.shape
    xc = x - x.mean(axis=1, keepdims=True)
    f = np.fft.rfft(xc, n=2 * t, axis=1)
    acf = np.fft.irfft(f * f.conj(), axis=1)[:, :t].mean(axis=0)  # (T, D)
    acf = acf / np.where(acf[0] > 0, acf[0], 1.0)
    lags = [int(np.argmax(acf[:, k] <= 0)) or t - 1 for k in range(d)]
    return max(1, min(lags))


def dominant_period(x: np.ndarray) -> float:
    """The period (in samples) of the peak of the power spectrum of ``x (N, T, D)`` summed
    over trajectories and coordinates (the zero frequency excluded)."""
    t = x.shape[1]
    power = (np.abs(np.fft.rfft(x - x.mean(axis=1, keepdims=True), axis=1)) ** 2).sum((0, 2))
    power[0] = 0.0
    k = int(np.argmax(power))
    return float(t) / k if k > 0 else float(t)


def nearest_divisor(n: int, target: float, largest: int) -> int:
    """The divisor of ``n`` at most ``largest`` nearest to ``target`` (the smaller on ties)."""
    divisors = [k for k in range(1, max(1, largest) + 1) if n % k == 0]
    return min(divisors, key=lambda k: (abs(k - target), k))


# -- the network -------------------------------------------------------------------------------
class PhyxMambaNet(torch.nn.Module):
    """Patch embedding, hierarchical Mamba levels with current/future parts, next-patch
    head and the extra multi-token heads."""

    def __init__(
        self,
        channels: int,
        token_size: int,
        n_tokens: int,
        *,
        d_model: int,
        hier_layers: int,
        mtp_heads: int,
        dropout: float,
        d_state: int,
        expand: int,
        d_conv: int,
    ) -> None:
        super().__init__()
        from mambapy.mamba import Mamba, MambaConfig

        patch = token_size * channels
        self.embed = torch.nn.Linear(patch, d_model)
        self.register_buffer("positions", sinusoidal_positions(n_tokens, d_model))
        self.dropout = torch.nn.Dropout(dropout)
        config = MambaConfig(
            d_model=d_model, n_layers=1, d_state=d_state, expand_factor=expand, d_conv=d_conv
        )
        self.levels = torch.nn.ModuleList(Mamba(config) for _ in range(hier_layers))
        self.current = torch.nn.ModuleList(
            torch.nn.Linear(d_model, d_model) for _ in range(hier_layers)
        )
        self.future = torch.nn.ModuleList(
            torch.nn.Linear(d_model, d_model) for _ in range(hier_layers)
        )
        self.norm = torch.nn.LayerNorm(d_model)
        self.head = torch.nn.Linear(d_model, patch)
        self.extra_heads = torch.nn.ModuleList(
            torch.nn.Linear(d_model, patch) for _ in range(mtp_heads)
        )

    def features(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, P, patch) -> (B, P, d_model)``: the summed future parts, normalised."""
        r = self.dropout(self.embed(tokens) + self.positions[: tokens.shape[1]].to(tokens))
        future = torch.zeros_like(r)
        for level, current, fut in zip(self.levels, self.current, self.future, strict=True):
            h = level(r)
            r = r - current(h)
            future = future + fut(h)
        return self.norm(future)

    def forward(self, tokens: torch.Tensor, extra: bool = False) -> list[torch.Tensor]:
        """The next patch at every token position ``(B, P, patch)``, and with ``extra`` the
        patches 2, 3, ... ahead from the extra heads."""
        f = self.features(tokens)
        return [self.head(f), *(h(f) for h in self.extra_heads if extra)]


class PhyxMambaStep(TrainingStep):
    """The training step of :class:`PhyxMamba`'s three stages (pre-training, the linear
    probe, fine-tuning), each with a fresh Adam state and ReduceLROnPlateau on the
    validation loss of every epoch; each stage keeps its best weights by that loss (its own
    ``track``, checkpointed with the model), and fine-tuning starts from the best
    pre-trained ones. A non-finite batch is skipped."""

    def __init__(
        self,
        model: PhyxMamba,
        net: PhyxMambaNet,
        x: np.ndarray,
        val_pre: torch.Tensor,
        val_fine: torch.Tensor,
        device: torch.device,
    ) -> None:
        p = model.params
        self.model, self.net, self.x, self.device = model, net, x, device
        self.val_pre, self.val_fine = val_pre, val_fine
        self.lookback, size = model.settings_["lookback"], model.settings_["token_size"]
        self.pre_len = self.lookback + (int(p["mtp_heads"]) + 1) * size
        self.fine_len = self.lookback + int(p["rollout_steps"])
        self.e1 = int(p["pretrain_epochs"])
        self.e2 = self.e1 + int(p["probe_epochs"])
        self.batch_size = int(p["batch_size"])
        self.lr_finetune = float(p["lr_finetune"])
        head = set(net.head.parameters())
        groups = [
            {"params": list(net.head.parameters())},
            {"params": [q for q in net.parameters() if q not in head]},
        ]
        self.optimizer = torch.optim.Adam(
            groups, lr=float(p["lr"]), weight_decay=float(p["weight_decay"])
        )
        # stepped on the validation loss in end_epoch, not by the loop
        self.plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, factor=float(p["plateau_factor"]), patience=int(p["plateau_patience"])
        )
        # what the stages keep (checkpointed with the model)
        self.track: dict[str, Any] = {"best": None, "best_loss": float("inf")}
        self.stage, self.probe = 1, False

    def state(self) -> dict[str, Any]:
        return {"model": self.net, "optimizer": self.optimizer, "scheduler": self.plateau}

    def extra_state(self, k: int) -> dict[str, Any]:
        return dict(self.track)

    def load_extra_state(self, k: int, state: dict[str, Any]) -> None:
        self.track.update(state)

    def _start_stage(self, lr_head: float, lr_body: float) -> None:
        optimizer = self.optimizer
        optimizer.state = defaultdict(dict)
        optimizer.param_groups[0]["lr"], optimizer.param_groups[1]["lr"] = lr_head, lr_body
        self.plateau._reset()
        self.plateau._last_lr = [lr_head, lr_body]

    def begin_epoch(self, epoch: int) -> None:
        e1, e2, track = self.e1, self.e2, self.track
        self.stage = 1 if epoch < e1 else 2
        if epoch == e1 and epoch > 0:  # fine-tuning starts from the best pre-trained weights
            if track["best"] is not None:
                self.net.load_state_dict(track["best"])
            track.update(best=None, best_loss=float("inf"))
        if epoch == e1:  # the linear probe: the next-patch head alone
            self._start_stage(self.lr_finetune, 0.0)
        if epoch == e2:  # then everything
            self._start_stage(self.lr_finetune, self.lr_finetune)
        self.probe = e1 <= epoch < e2

    def loss(self, batch: Batch) -> torch.Tensor:
        length = self.pre_len if self.stage == 1 else self.fine_len
        rng = batch.rngs[0]
        w = torch.as_tensor(
            sample_windows(self.x, length, self.batch_size, rng), device=self.device
        )
        if self.stage == 1:
            loss = self.model._pretrain_loss(self.net, w)
        else:
            loss = self.model._finetune_loss(self.net, w, rng)
        if torch.isfinite(loss):  # no gradient from a diverged batch
            loss.backward()
            if self.probe:  # Adam skips parameters without a gradient
                for q in self.optimizer.param_groups[1]["params"]:
                    q.grad = None
        return loss.detach().reshape(1)

    def _validation_loss(self) -> float:
        net = self.net
        net.eval()
        with torch.no_grad():
            if self.stage == 1:
                loss = self.model._pretrain_loss(net, self.val_pre)
            else:
                steps = int(self.model.params["rollout_steps"])
                pred = self.model._rollout(net, self.val_fine[:, : self.lookback], steps)
                loss = torch.mean((pred - self.val_fine[:, self.lookback :]) ** 2)
        net.train()
        return float(loss)

    def end_epoch(self, epoch: int) -> list[dict[str, float]]:
        score = self._validation_loss()
        self.plateau.step(score if math.isfinite(score) else float("inf"))
        if score < self.track["best_loss"]:
            self.track["best_loss"] = score
            self.track["best"] = {k: t.detach().clone() for k, t in self.net.state_dict().items()}
        return [{"stage": float(self.stage if not self.probe else 1.5), "val_loss": score}]

    def weights(self, k: int) -> dict[str, torch.Tensor]:
        return {n: t.detach().clone() for n, t in self.net.state_dict().items()}


class PhyxMamba(Method):
    """PhyxMamba with Mamba-1 blocks (Liu et al. 2025; mambapy)."""

    name = "phyxmamba"
    label = "PhyxMamba"
    color = "#c51b8a"
    uses_torch = True
    fitted_arrays = ("mean", "std")
    hyperparameters: ClassVar[dict[str, Any]] = {
        "lookback": 30,
        "embedding_dim": AUTO,  # m (Lorenz-63: 3)
        "delay": AUTO,  # tau in samples (Lorenz-63: 7)
        "token_size": AUTO,  # steps per patch (Lorenz-63: 10, Roessler: 5)
        "hier_layers": 4,  # Lorenz-63: 4, Roessler: 1
        "d_model": 256,
        "d_state": 16,  # Mamba state size (mambapy's default)
        "expand": 2,
        "d_conv": 4,
        "dropout": 0.1,
        "mtp_heads": 3,
        "mtp_weight": 0.1,
        "rollout_steps": 30,
        "mmd_weight": 1.0,
        "cond_mmd_weight": 1000.0,
        "mmd_sigmas": [0.2, 0.5, 0.9, 1.3],
        "mmd_alpha": 1.0,
        "mmd_points": 1024,
        "lr": 1e-3,
        "lr_finetune": 1e-4,
        "weight_decay": 1e-5,
        "plateau_factor": 0.5,
        "plateau_patience": 5,
        "batch_size": 512,
        "batches_per_epoch": 50,
        "pretrain_epochs": 800,
        "probe_epochs": 50,
        "finetune_epochs": 1600,
        "checkpoint_every": 10,
        "dtype": "float32",
    }
    #: 80 batches; on the contract test's Lorenz-63 PE(20) 25 to 32 (seeds 0, 1) against
    #: persistence's 100
    quick_hyperparameters: ClassVar[dict[str, Any]] = {
        "lookback": 20,
        "embedding_dim": 2,
        "delay": 3,
        "token_size": 5,
        "hier_layers": 1,
        "d_model": 16,
        "d_state": 4,
        "mtp_heads": 1,
        "rollout_steps": 10,
        "mmd_points": 64,
        "lr": 1e-2,
        "lr_finetune": 1e-3,
        "batch_size": 64,
        "batches_per_epoch": 5,
        "pretrain_epochs": 12,
        "probe_epochs": 1,
        "finetune_epochs": 3,
    }
    citation = (
        "Liu et al., PhyxMamba: integrating physical principles with state space models "
        "for chaotic system forecasting, arXiv:2505.23863 (2025)"
    )

    # -- settings -----------------------------------------------------------------------------
    def resolve_settings(self, x: np.ndarray) -> dict[str, int]:
        """m, tau, the token size and the lookback for standardised training data
        ``x (N, T, D)``, the ``"auto"`` ones by the rules of the module docstring."""
        lookback = int(self.params["lookback"])
        m = self.params["embedding_dim"]
        m = 3 if m == AUTO else int(m)
        tau = self.params["delay"]
        if tau == AUTO:
            cap = (lookback - 1) // (m - 1) if m > 1 else lookback
            tau = max(1, min(first_zero_of_autocorrelation(x), cap))
        size = self.params["token_size"]
        if size == AUTO:
            size = nearest_divisor(lookback, dominant_period(x) / 2, lookback // 2)
        size, tau = int(size), int(tau)
        if m < 1 or tau < 1 or size < 1 or lookback % size:
            raise ValueError(
                f"phyxmamba: needs embedding_dim, delay, token_size >= 1 and lookback "
                f"({lookback}) a multiple of token_size ({size})"
            )
        return {"embedding_dim": m, "delay": tau, "token_size": size, "lookback": lookback}

    def _net(self, dim: int) -> PhyxMambaNet:
        s = self.settings_
        p = self.params
        return PhyxMambaNet(
            s["embedding_dim"] * dim,
            s["token_size"],
            s["lookback"] // s["token_size"],
            d_model=int(p["d_model"]),
            hier_layers=int(p["hier_layers"]),
            mtp_heads=int(p["mtp_heads"]),
            dropout=float(p["dropout"]),
            d_state=int(p["d_state"]),
            expand=int(p["expand"]),
            d_conv=int(p["d_conv"]),
        )

    # -- the model's maps (torch, any device) ------------------------------------------------
    def _tokens(self, window: torch.Tensor) -> torch.Tensor:
        """Observations ``(B, T, D)`` -> delay-embedded patches ``(B, T / size, size m D)``."""
        s = self.settings_
        return patchify(delay_embed(window, s["embedding_dim"], s["delay"]), s["token_size"])

    def _rollout(self, net: PhyxMambaNet, window: torch.Tensor, steps: int) -> torch.Tensor:
        """``steps`` observations after each window ``(B, lookback, D)``, patch by patch."""
        d, size = window.shape[2], self.settings_["token_size"]
        channels = self.settings_["embedding_dim"] * d
        out = []
        for _ in range(math.ceil(steps / size)):
            patch = net(self._tokens(window))[0][:, -1]
            obs = delay_unembed(unpatchify(patch[:, None], channels), d)
            out.append(obs)
            window = torch.cat([window[:, size:], obs], 1)
        return torch.cat(out, 1)[:, :steps]

    def _pretrain_loss(self, net: PhyxMambaNet, w: torch.Tensor) -> torch.Tensor:
        """Next-patch MSE at every position + ``mtp_weight`` x the extra heads' mean MSE on
        windows of ``lookback + (extra + 1) size`` points."""
        s = self.settings_
        n = s["lookback"] // s["token_size"]
        tokens = self._tokens(w)  # the window embedded as a whole: causal lags
        preds = net(tokens[:, :n], extra=True)
        losses = [torch.mean((p - tokens[:, k + 1 : k + 1 + n]) ** 2) for k, p in enumerate(preds)]
        extra = torch.stack(losses[1:]).mean() if len(losses) > 1 else losses[0].new_zeros(())
        return losses[0] + float(self.params["mtp_weight"]) * extra

    def _finetune_loss(
        self, net: PhyxMambaNet, w: torch.Tensor, rng: np.random.Generator
    ) -> torch.Tensor:
        """Rollout MSE + the unconditional and conditional MMD terms."""
        lookback, steps = self.settings_["lookback"], int(self.params["rollout_steps"])
        pred = self._rollout(net, w[:, :lookback], steps)
        true = w[:, lookback : lookback + steps]
        loss = torch.mean((pred - true) ** 2)
        sigmas = tuple(float(s) for s in self.params["mmd_sigmas"])
        alpha = float(self.params["mmd_alpha"])
        if float(self.params["mmd_weight"]):
            flat_p, flat_t = pred.reshape(-1, pred.shape[2]), true.reshape(-1, true.shape[2])
            k = min(int(self.params["mmd_points"]), flat_p.shape[0])
            idx = torch.as_tensor(
                rng.choice(flat_p.shape[0], size=k, replace=False), device=w.device
            )
            loss = loss + float(self.params["mmd_weight"]) * mmd2(
                flat_p[idx], flat_t[idx], sigmas, alpha
            )
        if float(self.params["cond_mmd_weight"]):
            loss = (
                loss
                + float(self.params["cond_mmd_weight"]) * mmd2(pred, true, sigmas, alpha).mean()
            )
        return loss

    # -- training -----------------------------------------------------------------------------
    def fit(
        self,
        train: xr.Dataset,
        val: xr.Dataset | None = None,
        ctx: FitContext = DEFAULT_CONTEXT,
    ) -> Self:
        p = self.params
        if p["dtype"] not in DTYPES:
            raise ValueError(f"phyxmamba: dtype must be one of {sorted(DTYPES)}")
        dtype = DTYPES[p["dtype"]]
        rng = seed_everything(ctx.seed)
        dev = resolve_device(ctx.device)
        x, v = self.fit_scale(train, val)
        self.settings_ = self.resolve_settings(x)
        lookback, size = self.settings_["lookback"], self.settings_["token_size"]
        pre_len = lookback + (int(p["mtp_heads"]) + 1) * size
        fine_len = lookback + int(p["rollout_steps"])
        if max(pre_len, fine_len) > x.shape[1]:
            raise ValueError(
                f"phyxmamba: training windows of {max(pre_len, fine_len)} points exceed the "
                f"trajectory length {x.shape[1]}"
            )
        net = self._net(x.shape[2]).to(dev, dtype)
        np_dtype = np.float32 if dtype == torch.float32 else np.float64
        # fixed validation windows (the validation split, else the training data), drawn
        # from their own generator so that the training draws do not depend on them
        vrng = np.random.default_rng([ctx.seed, 1])
        source = v if v is not None and v.shape[1] >= max(pre_len, fine_len) else x
        val_pre = torch.as_tensor(
            sample_windows(source, pre_len, VALIDATION_WINDOWS, vrng).astype(np_dtype), device=dev
        )
        val_fine = torch.as_tensor(
            sample_windows(source, fine_len, VALIDATION_WINDOWS, vrng).astype(np_dtype), device=dev
        )
        step = PhyxMambaStep(self, net, x.astype(np_dtype), val_pre, val_fine, dev)
        epochs = step.e2 + int(p["finetune_epochs"])
        self.training_result_, _ = train_one(
            step,
            rng,
            ctx.run,
            epochs=epochs,
            batches_per_epoch=int(p["batches_per_epoch"]),
            checkpoint_every=int(p["checkpoint_every"]),
            validate_every=max(1, epochs),
            budget=ctx.budget,
            description=self.name,
        )
        track = step.track
        final = track["best"] if track["best"] is not None else net.state_dict()
        self.device_ = dev
        self._set_net(final)
        return self

    def _set_net(self, state: dict[str, torch.Tensor]) -> None:
        """The inference copy of the network: CPU, float64, eval mode."""
        net = self._net(self.mean_.size)
        net.load_state_dict({k: t.detach().cpu() for k, t in state.items()})
        self.net_ = net.to(torch.float64).eval()

    # -- inference ----------------------------------------------------------------------------
    def forecast(self, context: np.ndarray, horizon: int) -> np.ndarray:
        """Patch-by-patch forecasts from the last ``lookback`` context points (a shorter
        context is padded with its first point)."""
        ctx = self.to_model(check_context(context))
        lookback = self.settings_["lookback"]
        if ctx.shape[1] < lookback:
            pad = np.repeat(ctx[:, :1], lookback - ctx.shape[1], axis=1)
            ctx = np.concatenate([pad, ctx], axis=1)
        window = torch.as_tensor(ctx[:, -lookback:], dtype=torch.float64)
        out = []
        with torch.no_grad(), np.errstate(all="ignore"):
            for i in range(0, window.shape[0], INFERENCE_BATCH):
                chunk = window[i : i + INFERENCE_BATCH]
                out.append(self._rollout(self.net_, chunk, horizon).numpy())
            return self.from_model(np.concatenate(out, axis=0))

    # -- persistence ----------------------------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        super().save(directory)
        (Path(directory) / SETTINGS_FILE).write_text(json.dumps(self.settings_, sort_keys=True))
        save_weights(self.net_.state_dict(), Path(directory) / "phyxmamba.pt")

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        model = super().load(directory)
        model.settings_ = json.loads((Path(directory) / SETTINGS_FILE).read_text())
        state = load_weights(Path(directory) / "phyxmamba.pt")
        model._set_net(state)
        return model
