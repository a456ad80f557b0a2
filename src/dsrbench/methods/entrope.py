"""EntroPE: entropy-guided dynamic patches and a patch-encoder transformer forecaster.

Abeywickrama, Eldele, Wu, Li & Yuen 2025, "EntroPE: Entropy-Guided Dynamic Patch Encoder
for Time Series Forecasting", arXiv:2509.26157 (reference code Sachithx/EntroPE at its
paper-era commit a2eea43, built on the Byte Latent Transformer; docs/methods.md), on
standardised coordinates, each coordinate a channel of its own (channel independence, one
network shared by the channels):

* Input: the last ``lookback`` L (96) points of a channel, instance-normalised (RevIN: the
  window's mean and standard deviation), then tokenised (:func:`tokenize`, Chronos'
  ``MeanScaleUniformBins``): divided by the window's mean absolute value and bucketed into
  ``vocab_size - 5`` uniform bins on ``[-quant_range, quant_range]`` (4 special ids).
* Entropy model (:class:`EntropyGPT`, the entropy-based dynamic patcher): a small causal
  GPT-2 (2 layers, 4 heads, 32 dims) trained first on next-token prediction of the training
  tokens, then frozen. ``H_t = -sum_v p(v | x_<t) log p(v | x_<t)`` (nats).
* Boundary rule (:func:`patch_starts`, ``patching_rule``): ``"relative"`` (the paper's
  scripts): a patch starts at t when ``H_t - H_{t-1} > patching_threshold`` (0.25);
  ``"global"``: when ``H_t > patching_threshold``; ``"global_and_relative"``: both
  ``H_t > patching_threshold`` and ``H_t - H_{t-1} > patching_threshold_add`` and t - 1 is
  no start. t = 0 always starts one; a patch longer than ``max_patch_length`` (48) is cut
  into pieces of that length. ``"static"``: fixed patches of ``max_patch_length``.
* Adaptive patch encoder (:class:`EntroPENet`): token embeddings through ``enc_layers``
  causal transformer layers (RoPE, SwiGLU); each patch's embedding starts as the max-pool
  of its tokens' states after the first layer and takes, after every layer, a
  cross-attention (query: the patch; keys and values: its own tokens) as a residual.
* Global transformer: ``global_layers`` causal layers over the patch sequence.
* Fusion decoder: every token state adds a cross-attention to its own patch's global state,
  then ``dec_layers`` causal layers; an RMS norm, and the flatten head maps the L token
  states (L x ``dim``) to the next ``horizon`` H (96) values, which RevIN maps back.
* Training (:class:`EntroPEStep` in :class:`dsrbench.methods.trainer.GroupTrainer`): first
  ``entropy_epochs`` (50) of the entropy model (AdamW lr 1e-3, weight decay 0.05, betas
  (0.9, 0.95), gradient norm clipped at 1, batches of ``entropy_batch_size`` 128), then
  ``epochs`` (50) of the forecaster (Adam, one-cycle learning rate to ``lr`` 1e-3 with
  ``pct_start`` 0.5, batches of ``batch_size`` 256 windows of L + H points), MSE of the
  H-step forecast. An epoch is ``batches_per_epoch`` batches (``"auto"``: one pass over the
  training windows at ``batch_size``); the forecaster weights with the lowest validation MSE
  are kept.
* Forecast: H steps at a time; each block is appended and the window slid by H.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Self

import numpy as np
import torch
import torch.nn.functional as F
import xarray as xr

from dsrbench.methods.base import DEFAULT_CONTEXT, FitContext, Method, check_context
from dsrbench.methods.trainer import (
    Batch,
    SavedNetwork,
    TrainingStep,
    resolve_device,
    sample_windows,
    seed_everything,
    train_one,
)

#: special token ids before the bins (Chronos: pad, eos and two unused)
SPECIAL_TOKENS = 4
RULES = ("relative", "global", "global_and_relative", "static")
#: validation windows scored every epoch of the forecaster
VALIDATION_WINDOWS = 128
#: sequences (windows x channels) per forward pass at inference
INFERENCE_BATCH = 1024
AUTO = "auto"
WEIGHTS_FILE = "entrope.pt"


# -- tokens, entropy and the boundary rule ----------------------------------------------------
def bin_centers(quant_range: float, vocab_size: int) -> torch.Tensor:
    """The ``vocab_size - 5`` uniform bin centres on ``[-quant_range, quant_range]``
    (Chronos' ``MeanScaleUniformBins``, 4 special tokens)."""
    return torch.linspace(-quant_range, quant_range, vocab_size - SPECIAL_TOKENS - 1)


def tokenize(x: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """Token ids ``(..., L)`` of sequences ``x (..., L)``: divided by their mean absolute
    value (1 where that is 0), the nearest bin centre, offset by the special ids."""
    scale = x.abs().mean(-1, keepdim=True)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    edges = ((centers[1:] + centers[:-1]) / 2).to(x)
    ids = torch.bucketize((x / scale).contiguous(), edges, right=True) + SPECIAL_TOKENS + 1
    return ids.clamp(0, SPECIAL_TOKENS + centers.numel())


def token_entropy(logits: torch.Tensor) -> torch.Tensor:
    """``-sum_v p(v) log p(v)`` in nats over the last axis of ``logits``."""
    logp = F.log_softmax(logits.float(), -1)
    return -(logp.exp() * logp).sum(-1)


def patch_starts(
    entropy: torch.Tensor,
    *,
    rule: str = "relative",
    threshold: float = 0.25,
    threshold_add: float = 0.15,
    max_patch_length: int = 48,
) -> torch.Tensor:
    """Which tokens start a patch ``(B, L)`` (bool), from ``entropy (B, L)``: ``entropy[:,
    t]`` is H_t, the entropy of the model's prediction of token t from the tokens before it
    (``entropy[:, 0]`` is not read). Token 0 always starts a patch; for t >= 1:

    * ``"relative"``: ``H_t - H_{t-1} > threshold`` (t >= 2);
    * ``"global"``: ``H_t > threshold``;
    * ``"global_and_relative"``: ``H_t > threshold`` and ``H_t - H_{t-1} > threshold_add``
      and t - 1 is no start (t >= 2);
    * ``"static"``: every ``max_patch_length``-th token.

    A patch longer than ``max_patch_length`` is then cut into pieces of that length
    (EntroPE's ``split_large_numbers``)."""
    b, length = entropy.shape
    mask = torch.zeros(b, length, dtype=torch.bool, device=entropy.device)
    if rule not in RULES:
        raise ValueError(f"entrope: patching_rule must be one of {RULES}, got {rule!r}")
    if rule == "global":
        mask[:, 1:] = entropy[:, 1:] > threshold
    elif rule in ("relative", "global_and_relative") and length > 2:
        rise = entropy[:, 2:] - entropy[:, 1:-1]
        if rule == "relative":
            mask[:, 2:] = rise > threshold
        else:
            cond = (rise > threshold_add) & (entropy[:, 2:] > threshold)
            for t in range(2, length):  # "previous is no start" runs along the sequence
                mask[:, t] = cond[:, t - 2] & ~mask[:, t - 1]
    mask[:, 0] = True
    # cut patches longer than max_patch_length
    run = torch.zeros(b, dtype=torch.long, device=entropy.device)
    for t in range(length):
        start = mask[:, t] | (run >= max_patch_length)
        mask[:, t] = start
        run = torch.where(start, torch.ones_like(run), run + 1)
    return mask


# -- the entropy model: a small GPT-2 ---------------------------------------------------------
class _GPTBlock(torch.nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.ln1 = torch.nn.LayerNorm(dim, bias=False)
        self.qkv = torch.nn.Linear(dim, 3 * dim, bias=False)
        self.proj = torch.nn.Linear(dim, dim, bias=False)
        self.ln2 = torch.nn.LayerNorm(dim, bias=False)
        self.fc = torch.nn.Linear(dim, 4 * dim, bias=False)
        self.out = torch.nn.Linear(4 * dim, dim, bias=False)
        self.drop = torch.nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, -1)
        q, k, v = (z.view(b, t, self.heads, -1).transpose(1, 2) for z in (q, k, v))
        p = self.dropout if self.training else 0.0
        a = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        x = x + self.drop(self.proj(a.transpose(1, 2).reshape(b, t, d)))
        return x + self.drop(self.out(F.gelu(self.fc(self.ln2(x)))))


class EntropyGPT(torch.nn.Module):
    """nanoGPT's GPT-2 (no biases, tied input and output embeddings): next-token logits."""

    def __init__(self, vocab: int, block: int, dim: int, layers: int, heads: int, dropout: float):
        super().__init__()
        self.tok = torch.nn.Embedding(vocab, dim)
        self.pos = torch.nn.Embedding(block, dim)
        self.drop = torch.nn.Dropout(dropout)
        self.blocks = torch.nn.ModuleList(_GPTBlock(dim, heads, dropout) for _ in range(layers))
        self.ln = torch.nn.LayerNorm(dim, bias=False)
        self.head = torch.nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.tok.weight
        for name, w in self.named_parameters():  # nanoGPT's initialisation
            if w.dim() > 1:
                std = (
                    0.02 / math.sqrt(2 * layers)
                    if name.endswith(("proj.weight", "out.weight"))
                    else 0.02
                )
                torch.nn.init.normal_(w, 0.0, std)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(ids.shape[1], device=ids.device)
        x = self.drop(self.tok(ids) + self.pos(pos))
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln(x))

    def entropies(self, ids: torch.Tensor) -> torch.Tensor:
        """H_t ``(B, L)``: the entropy of the prediction of token t from tokens < t
        (t >= 1; column 0 repeats column 1)."""
        h = token_entropy(self(ids[:, :-1]))
        return torch.cat([h[:, :1], h], 1)


# -- the forecaster ---------------------------------------------------------------------------
def _rope(x: torch.Tensor) -> torch.Tensor:
    """Rotary position embedding (Su et al. 2021, base 10000) of ``x (B, heads, T, d)``."""
    t, d = x.shape[-2], x.shape[-1]
    freq = 10000.0 ** (-torch.arange(0, d - d % 2, 2, device=x.device, dtype=x.dtype) / d)
    ang = torch.arange(t, device=x.device, dtype=x.dtype)[:, None] * freq
    cos, sin = ang.cos(), ang.sin()
    x1, x2 = x[..., 0 : d - d % 2 : 2], x[..., 1 : d - d % 2 : 2]
    rot = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], -1).flatten(-2)
    return torch.cat([rot, x[..., d - d % 2 :]], -1)


class _Block(torch.nn.Module):
    """A pre-norm causal transformer layer of the Byte Latent Transformer: RMS norms, RoPE
    attention, SwiGLU feed-forward of width ``multiple_of * ceil(8 dim / 3 / multiple_of)``."""

    def __init__(self, dim: int, heads: int, multiple_of: int) -> None:
        super().__init__()
        self.heads = heads
        self.n1, self.n2 = torch.nn.RMSNorm(dim), torch.nn.RMSNorm(dim)
        self.qkv = torch.nn.Linear(dim, 3 * dim, bias=False)
        self.o = torch.nn.Linear(dim, dim, bias=False)
        hidden = multiple_of * math.ceil(int(8 * dim / 3) / multiple_of)
        self.w1 = torch.nn.Linear(dim, hidden, bias=False)
        self.w3 = torch.nn.Linear(dim, hidden, bias=False)
        self.w2 = torch.nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.n1(x)).split(d, -1)
        q, k, v = (z.view(b, t, self.heads, -1).transpose(1, 2) for z in (q, k, v))
        a = F.scaled_dot_product_attention(_rope(q), _rope(k), v, is_causal=True)
        x = x + self.o(a.transpose(1, 2).reshape(b, t, d))
        h = self.n2(x)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))


class _PatchCrossAttention(torch.nn.Module):
    """Cross-attention from each patch (query) to the tokens of that patch alone (BLT's
    ``cross_attn_k = 1`` with a patch mask), normed queries and keys."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.nq, self.nkv = torch.nn.RMSNorm(dim), torch.nn.RMSNorm(dim)
        self.q = torch.nn.Linear(dim, dim, bias=False)
        self.kv = torch.nn.Linear(dim, 2 * dim, bias=False)
        self.o = torch.nn.Linear(dim, dim, bias=False)

    def forward(
        self, patches: torch.Tensor, tokens: torch.Tensor, own: torch.Tensor
    ) -> torch.Tensor:
        """``patches (B, P, d)``, ``tokens (B, L, d)``, ``own (B, P, L)``: token l lies in
        patch p (a patch without tokens reads token 0; the caller zeroes it)."""
        b, p, d = patches.shape
        q = self.q(self.nq(patches)).view(b, p, self.heads, -1).transpose(1, 2)
        k, v = self.kv(self.nkv(tokens)).split(d, -1)
        k, v = (z.view(b, -1, self.heads, d // self.heads).transpose(1, 2) for z in (k, v))
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=own[:, None])
        return self.o(a.transpose(1, 2).reshape(b, p, d))


class EntroPENet(torch.nn.Module):
    """The adaptive patch encoder, the global transformer over patches and the fusion
    decoder, with the flatten head: token ids ``(B, L)`` and their patches -> ``(B, H)``."""

    def __init__(
        self,
        vocab: int,
        lookback: int,
        horizon: int,
        *,
        dim: int,
        heads: int,
        cross_heads: int,
        enc_layers: int,
        global_layers: int,
        dec_layers: int,
        multiple_of: int,
        dropout: float,
        head_dropout: float,
    ) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, dim)
        self.encoder = torch.nn.ModuleList(
            _Block(dim, heads, multiple_of) for _ in range(enc_layers)
        )
        self.enc_cross = torch.nn.ModuleList(
            _PatchCrossAttention(dim, cross_heads) for _ in range(enc_layers)
        )
        self.global_layers = torch.nn.ModuleList(
            _Block(dim, heads, multiple_of) for _ in range(global_layers)
        )
        self.dec_norm = torch.nn.ModuleList(torch.nn.RMSNorm(dim) for _ in range(dec_layers))
        self.dec_cross = torch.nn.ModuleList(
            torch.nn.Linear(dim, dim, bias=False) for _ in range(dec_layers)
        )
        self.dec_out = torch.nn.ModuleList(
            torch.nn.Linear(dim, dim, bias=False) for _ in range(dec_layers)
        )
        self.decoder = torch.nn.ModuleList(
            _Block(dim, heads, multiple_of) for _ in range(dec_layers)
        )
        self.norm = torch.nn.RMSNorm(dim)
        self.drop = torch.nn.Dropout(dropout)
        self.head_drop = torch.nn.Dropout(head_dropout)
        self.head = torch.nn.Linear(lookback * dim, horizon)

    def forward(self, ids: torch.Tensor, starts: torch.Tensor) -> torch.Tensor:
        b, length = ids.shape
        patch_id = starts.long().cumsum(1) - 1  # (B, L)
        n_patches = int(starts.sum(1).max())
        own = patch_id[:, None, :] == torch.arange(n_patches, device=ids.device)[None, :, None]
        filled = own.any(-1, keepdim=True)  # (B, P, 1): the patch has tokens
        own = own | (~filled & (torch.arange(length, device=ids.device) == 0))
        h = self.drop(self.embed(ids))
        patches = None
        for layer, cross in zip(self.encoder, self.enc_cross, strict=True):
            h = layer(h)
            if patches is None:  # initialised by max-pooling the tokens of each patch
                index = patch_id[..., None].expand_as(h)
                patches = h.new_zeros(b, n_patches, h.shape[-1]).scatter_reduce(
                    1, index, h, "amax", include_self=False
                )
            patches = patches + cross(patches, h, own) * filled
        assert patches is not None
        g = patches
        for layer in self.global_layers:  # causal: real patches never read the padding
            g = layer(g)
        # each token reads its own patch's global state: a cross-attention with one key,
        # whose weight is 1 (the values' and the output projections)
        own_state = g.gather(1, patch_id[..., None].expand(b, length, g.shape[-1]))
        for norm, wv, wo, layer in zip(
            self.dec_norm, self.dec_cross, self.dec_out, self.decoder, strict=True
        ):
            h = h + wo(wv(norm(own_state)))
            h = layer(h)
        h = self.drop(self.norm(h))
        return self.head(self.head_drop(h.flatten(1)))


# -- training ---------------------------------------------------------------------------------
def one_cycle_lr(step: int, total: int, max_lr: float, pct_start: float) -> float:
    """torch's ``OneCycleLR`` (cosine, ``div_factor`` 25, ``final_div_factor`` 1e4) at
    optimiser step ``step`` (0-based) of ``total``."""
    initial, final = max_lr / 25.0, max_lr / 25.0 / 1e4
    up = float(pct_start * total) - 1
    if step <= up:
        frac, lo, hi = (step / up if up > 0 else 1.0), initial, max_lr
    else:
        frac, lo, hi = (step - up) / max(total - 1 - up, 1e-12), max_lr, final
    frac = min(max(frac, 0.0), 1.0)
    return hi + (lo - hi) / 2.0 * (math.cos(math.pi * frac) + 1)


class EntroPEStep(TrainingStep):
    """The two stages of :class:`EntroPE` in one loop: the entropy model's epochs, then the
    forecaster's with the entropy model frozen. One AdamW holds both networks in two
    parameter groups (the forecaster's: weight decay 0, i.e. Adam); a network without a
    gradient does not move. The loop keeps the weights with the best validation MSE."""

    def __init__(self, model: EntroPE, x: np.ndarray, val: np.ndarray, device: torch.device):
        p = model.params
        self.model, self.x, self.device = model, x, device
        self.val = torch.as_tensor(val, device=device)
        self.entropy_net, self.net = model.entropy_net_, model.net_
        self.e1 = int(p["entropy_epochs"])
        self.epochs = self.e1 + int(p["epochs"])
        self.bpe = int(model.batches_per_epoch_)
        self.optimizer = torch.optim.AdamW(
            [
                {
                    "params": list(self.entropy_net.parameters()),
                    "lr": float(p["entropy_lr"]),
                    "weight_decay": float(p["entropy_weight_decay"]),
                    "betas": (0.9, 0.95),
                },
                {"params": list(self.net.parameters()), "lr": float(p["lr"]), "weight_decay": 0.0},
            ]
        )
        self.stage = 1

    def state(self) -> dict[str, Any]:
        return {"entropy": self.entropy_net, "forecaster": self.net, "optimizer": self.optimizer}

    def begin_epoch(self, epoch: int) -> None:
        self.stage = 1 if epoch < self.e1 else 2
        self.entropy_net.train(self.stage == 1)
        self.net.train(self.stage == 2)

    def loss(self, batch: Batch) -> torch.Tensor:
        p, rng, m = self.model.params, batch.rngs[0], self.model
        if self.stage == 1:
            w = sample_windows(self.x, m.lookback_, int(p["entropy_batch_size"]), rng)
            ids = m._ids(torch.as_tensor(w, device=self.device))
            logits = self.entropy_net(ids[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
            if torch.isfinite(loss):
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.entropy_net.parameters(), 1.0)
            return loss.detach().reshape(1)
        step = batch.index - 1 - self.e1 * self.bpe
        total = (self.epochs - self.e1) * self.bpe
        self.optimizer.param_groups[1]["lr"] = one_cycle_lr(
            step, total, float(p["lr"]), float(p["pct_start"])
        )
        w = sample_windows(self.x, m.lookback_ + m.horizon_, int(p["batch_size"]), rng)
        loss = m._window_loss(torch.as_tensor(w, device=self.device))
        if torch.isfinite(loss):
            loss.backward()
        return loss.detach().reshape(1)

    def end_epoch(self, epoch: int) -> list[dict[str, float]]:
        """The stage and the forecaster's learning rate (the loop's ``lr`` column is the
        entropy model's) beside the loss; ``val_stsp`` holds the validation MSE."""
        return [{"stage": float(self.stage), "lr_forecaster": self.optimizer.param_groups[1]["lr"]}]

    def validate(self, k: int) -> float | None:
        if self.stage == 1:
            return None
        self.net.eval()
        with torch.no_grad():
            loss = float(self.model._window_loss(self.val))
        self.net.train()
        return loss if math.isfinite(loss) else float("inf")

    def weights(self, k: int) -> dict[str, torch.Tensor]:
        out = {"entropy." + n: t.detach().clone() for n, t in self.entropy_net.state_dict().items()}
        out.update(
            {"forecaster." + n: t.detach().clone() for n, t in self.net.state_dict().items()}
        )
        return out


class EntroPE(SavedNetwork, Method):
    """EntroPE (Abeywickrama et al. 2025): entropy-guided patches, patch encoder, global
    transformer and fusion decoder, channel-independent."""

    weights_file: ClassVar[str] = WEIGHTS_FILE

    name = "entrope"
    label = "EntroPE"
    color = "#1b9e77"
    uses_torch = True
    fitted_arrays = ("mean", "std")
    hyperparameters: ClassVar[dict[str, Any]] = {
        "lookback": 96,  # L, seq_len of the paper
        "horizon": 96,  # H, pred_len: the values predicted at once
        "vocab_size": 256,
        "quant_range": 3.0,  # ETTh1, pred_len 96
        # the entropy model (params.json of the paper-era checkpoints)
        "entropy_dim": 32,
        "entropy_layers": 2,
        "entropy_heads": 4,
        "entropy_dropout": 0.1,
        "entropy_epochs": 50,
        "entropy_batch_size": 128,
        "entropy_lr": 1e-3,
        "entropy_weight_decay": 0.05,
        # the boundary rule (ETTh1, pred_len 96: monotonicity 1, threshold 0.25, max 48)
        "patching_rule": "relative",
        "patching_threshold": 0.25,
        "patching_threshold_add": 0.15,
        "max_patch_length": 48,
        # the forecaster (ETTh1, pred_len 96)
        "dim": 8,
        "heads": 1,
        "cross_heads": 4,
        "enc_layers": 1,
        "global_layers": 1,
        "dec_layers": 1,
        "multiple_of": 256,
        "dropout": 0.1,
        "head_dropout": 0.0,
        "revin_affine": True,
        "batch_size": 256,
        "batches_per_epoch": AUTO,  # one pass over the training windows
        "epochs": 50,
        "lr": 1e-3,
        "pct_start": 0.5,
        "checkpoint_every": 10,
    }
    #: 30 + 30 batches; on the contract test's Lorenz-63 PE(20) well under persistence's
    quick_hyperparameters: ClassVar[dict[str, Any]] = {
        "lookback": 32,
        "horizon": 10,
        "entropy_dim": 16,
        "entropy_epochs": 2,
        "entropy_batch_size": 32,
        "max_patch_length": 16,
        "dim": 8,
        "multiple_of": 16,
        "batch_size": 32,
        "batches_per_epoch": 8,
        "epochs": 4,
        "lr": 1e-2,
        "pct_start": 0.3,
    }
    citation = (
        "Abeywickrama et al., EntroPE: Entropy-Guided Dynamic Patch Encoder for Time "
        "Series Forecasting, arXiv:2509.26157 (2025)"
    )

    # -- the networks -------------------------------------------------------------------------
    def _build(self, dim: int) -> None:
        p = self.params
        self.lookback_, self.horizon_ = int(p["lookback"]), int(p["horizon"])
        if p["patching_rule"] not in RULES:
            raise ValueError(f"entrope: patching_rule must be one of {RULES}")
        if self.lookback_ < 3 or self.horizon_ < 1 or int(p["max_patch_length"]) < 1:
            raise ValueError("entrope: needs lookback >= 3, horizon >= 1, max_patch_length >= 1")
        vocab = int(p["vocab_size"])
        self.centers_ = bin_centers(float(p["quant_range"]), vocab)
        self.entropy_net_ = EntropyGPT(
            vocab,
            self.lookback_,
            int(p["entropy_dim"]),
            int(p["entropy_layers"]),
            int(p["entropy_heads"]),
            float(p["entropy_dropout"]),
        )
        self.net_ = EntroPENet(
            vocab,
            self.lookback_,
            self.horizon_,
            dim=int(p["dim"]),
            heads=int(p["heads"]),
            cross_heads=int(p["cross_heads"]),
            enc_layers=int(p["enc_layers"]),
            global_layers=int(p["global_layers"]),
            dec_layers=int(p["dec_layers"]),
            multiple_of=int(p["multiple_of"]),
            dropout=float(p["dropout"]),
            head_dropout=float(p["head_dropout"]),
        )
        # RevIN's affine map per channel (Kim et al. 2022), on the output side
        self.net_.register_parameter("revin_weight", torch.nn.Parameter(torch.ones(dim)))
        self.net_.register_parameter("revin_bias", torch.nn.Parameter(torch.zeros(dim)))
        if not p["revin_affine"]:
            self.net_.revin_weight.requires_grad_(False)
            self.net_.revin_bias.requires_grad_(False)

    @staticmethod
    def _instance_norm(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """RevIN's normalisation of sequences ``(N, L)``: ``(x - mean) / std`` per sequence."""
        mean = x.mean(-1, keepdim=True)
        std = torch.sqrt(x.var(-1, keepdim=True, unbiased=False) + 1e-5)
        return (x - mean) / std, mean, std

    def _ids(self, w: torch.Tensor) -> torch.Tensor:
        """Token ids ``(B D, L)`` of windows ``(B, L, D)`` (each channel alone)."""
        seq = w.transpose(1, 2).reshape(-1, w.shape[1])
        return tokenize(self._instance_norm(seq)[0], self.centers_.to(w.device))

    def starts(self, ids: torch.Tensor) -> torch.Tensor:
        """The patch starts ``(N, L)`` of token sequences ``ids (N, L)`` by the frozen
        entropy model and the boundary rule."""
        p = self.params
        if p["patching_rule"] == "static":
            h = torch.zeros(ids.shape, device=ids.device)
        else:
            with torch.no_grad():
                was = self.entropy_net_.training
                self.entropy_net_.eval()
                h = self.entropy_net_.entropies(ids)
                self.entropy_net_.train(was)
        return patch_starts(
            h,
            rule=str(p["patching_rule"]),
            threshold=float(p["patching_threshold"]),
            threshold_add=float(p["patching_threshold_add"]),
            max_patch_length=int(p["max_patch_length"]),
        )

    def _predict(self, window: torch.Tensor) -> torch.Tensor:
        """The next ``horizon`` points ``(B, H, D)`` after windows ``(B, L, D)``."""
        b, length, d = window.shape
        seq = window.transpose(1, 2).reshape(-1, length)
        z, mean, std = self._instance_norm(seq)
        ids = tokenize(z, self.centers_.to(window.device))
        y = self.net_(ids, self.starts(ids)).view(b, d, -1)
        net = self.net_
        y = (y - net.revin_bias[:, None]) / (net.revin_weight[:, None] + 1e-10)
        y = y * std.view(b, d, 1) + mean.view(b, d, 1)
        return y.transpose(1, 2)

    def _window_loss(self, w: torch.Tensor) -> torch.Tensor:
        """The MSE of the H-step forecast on windows ``(B, L + H, D)``."""
        pred = self._predict(w[:, : self.lookback_])
        return torch.mean((pred - w[:, self.lookback_ :]) ** 2)

    # -- training -----------------------------------------------------------------------------
    def fit(
        self,
        train: xr.Dataset,
        val: xr.Dataset | None = None,
        ctx: FitContext = DEFAULT_CONTEXT,
    ) -> Self:
        p = self.params
        rng = seed_everything(ctx.seed)
        dev = resolve_device(ctx.device)
        x, v = self.fit_scale(train, val)
        self._build(x.shape[2])
        window = self.lookback_ + self.horizon_
        if window > x.shape[1]:
            raise ValueError(
                f"entrope: training windows of lookback + horizon = {window} points exceed "
                f"the trajectory length {x.shape[1]}"
            )
        n_windows = x.shape[0] * (x.shape[1] - window + 1)
        bpe = p["batches_per_epoch"]
        bpe = max(1, math.ceil(n_windows / int(p["batch_size"]))) if bpe == AUTO else int(bpe)
        self.batches_per_epoch_ = bpe
        self.entropy_net_.to(dev)
        self.net_.to(dev)
        self.centers_ = self.centers_.to(dev)
        # fixed validation windows (the validation split when long enough, else training
        # windows) from their own generator
        source = v if v is not None and v.shape[1] >= window else x
        vrng = np.random.default_rng([ctx.seed, 1])
        val_w = sample_windows(source, window, VALIDATION_WINDOWS, vrng).astype(np.float32)
        step = EntroPEStep(self, x.astype(np.float32), val_w, dev)
        self.training_result_, weights = train_one(
            step,
            rng,
            ctx.run,
            epochs=step.epochs,
            batches_per_epoch=bpe,
            checkpoint_every=int(p["checkpoint_every"]),
            validate_every=1,
            budget=ctx.budget,
            description=self.name,
        )
        self._load_weights(weights)
        return self

    def _load_weights(self, weights: dict[str, torch.Tensor]) -> None:
        """The inference copy: CPU, float64, eval mode."""
        ent = {
            n.removeprefix("entropy."): t for n, t in weights.items() if n.startswith("entropy.")
        }
        fc = {
            n.removeprefix("forecaster."): t
            for n, t in weights.items()
            if n.startswith("forecaster.")
        }
        self.entropy_net_.load_state_dict({n: t.detach().cpu() for n, t in ent.items()})
        self.net_.load_state_dict({n: t.detach().cpu() for n, t in fc.items()})
        self.entropy_net_ = self.entropy_net_.cpu().to(torch.float64).eval()
        self.net_ = self.net_.cpu().to(torch.float64).eval()
        self.centers_ = self.centers_.cpu()

    # -- inference ----------------------------------------------------------------------------
    def forecast(self, context: np.ndarray, horizon: int) -> np.ndarray:
        """Blocks of ``horizon`` (H) values from the last ``lookback`` context points (a
        shorter context is padded with its first point), the window slid by H each time."""
        ctx = self.to_model(check_context(context))
        lookback = self.lookback_
        if ctx.shape[1] < lookback:
            pad = np.repeat(ctx[:, :1], lookback - ctx.shape[1], axis=1)
            ctx = np.concatenate([pad, ctx], axis=1)
        per = max(1, INFERENCE_BATCH // ctx.shape[2])
        out = []
        with torch.no_grad(), np.errstate(all="ignore"):
            for i in range(0, ctx.shape[0], per):
                window = torch.as_tensor(ctx[i : i + per, -lookback:], dtype=torch.float64)
                blocks, done = [], 0
                while done < horizon:
                    y = self._predict(window)
                    blocks.append(y)
                    done += y.shape[1]
                    window = torch.cat([window, y], 1)[:, -lookback:]
                out.append(torch.cat(blocks, 1)[:, :horizon].numpy())
        return self.from_model(np.concatenate(out, axis=0))

    # -- persistence ----------------------------------------------------------------------------
    def _network_state(self) -> dict[str, torch.Tensor]:
        """Both networks' weights in one file (SavedNetwork), by prefix."""
        state = {"entropy." + n: t for n, t in self.entropy_net_.state_dict().items()}
        state.update({"forecaster." + n: t for n, t in self.net_.state_dict().items()})
        return state

    def _set_network_state(self, state: dict[str, torch.Tensor]) -> None:
        self._build(self.mean_.size)
        self._load_weights(state)
