"""Many neural ODEs trained together (the vectorised ``fit_many`` of :mod:`.node`).

The models of a group share the architecture, the settings and the window length; their
parameters are stacked with a leading model axis K (:class:`StackedField`, batched
matrix products), and every batch integrates all K fields in one fixed-step solve. The
loss is the sum of each model's mean squared error, so each slice's gradient is its lone
run's; :class:`MaskedAdam` is Adam (Kingma & Ba 2015, with torch's update order) with a
step counter per model, so a model whose batch is skipped (non-finite loss or gradient;
the lone run skips such a batch too, without an optimiser step) leaves its weights, its
moments and its bias correction untouched while the others move.

Everything else stays per model: the random generator (windows), the torch seed of the
initial weights, validation and best weights, the epoch log, the checkpoint
(``CHECKPOINT_FORMAT``) and ``training_result_``. Adaptive solvers do not vectorise
exactly (torchdiffeq chooses one step size for a whole batch, so K models solved together
would take other steps than each alone), and neither does RAdam here: those settings train
one model after another (:meth:`dsrbench.methods.base.Method.fit_many`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from dsrbench.atomic import atomic_path
from dsrbench.methods.base import FitTask
from dsrbench.methods.trainer import (
    TrainingResult,
    checkpoint_file,
    sample_windows,
    validation_stsp,
    write_epoch_log,
)

if TYPE_CHECKING:
    from dsrbench.methods.node import NeuralODE, VectorField

#: the version of the per-model checkpoint of the vectorised node training
CHECKPOINT_FORMAT = "node/1"
Params = dict[str, torch.Tensor]


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """K linear layers at once: ``x (K, B, in)``, ``weight (K, out, in)``, ``bias (K, out)``."""
    return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))


class StackedField:
    """K vector fields of one :class:`~dsrbench.methods.node.VectorField` architecture,
    ``f_k(x_k)`` for states ``x (K, B, D)``; ``params`` are the fields' ``state_dict``
    entries stacked along a leading model axis."""

    def __init__(self, template: VectorField, params: Params) -> None:
        self.has_mlp = template.mlp is not None
        self.has_linear = template.linear is not None
        self.blocks = len(template.mlp) - 3 if template.mlp is not None else 0
        self.params = params

    def __call__(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        p, silu = self.params, torch.nn.functional.silu
        out = None
        if self.has_mlp:  # Linear -> tanh -> residual blocks -> Linear (VectorField.mlp)
            h = torch.tanh(_linear(x, p["mlp.0.weight"], p["mlp.0.bias"]))
            for i in range(self.blocks):
                pre = f"mlp.{2 + i}.net."
                u = silu(_linear(h, p[pre + "0.weight"], p[pre + "0.bias"]))
                h = h + silu(_linear(u, p[pre + "2.weight"], p[pre + "2.bias"]))
            last = f"mlp.{2 + self.blocks}."
            out = _linear(h, p[last + "weight"], p[last + "bias"])
        if self.has_linear:
            lin = _linear(x, p["linear.weight"], p["linear.bias"])
            out = lin if out is None else out + lin
        assert out is not None
        return out


class MaskedAdam:
    """Adam over stacked parameters with one step counter per model; ``step(lr, mask)``
    moves only the models where ``mask`` is true (torch's single-tensor update order)."""

    def __init__(
        self, params: Params, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ):
        self.params, self.betas, self.eps = params, betas, eps
        self.exp_avg = {n: torch.zeros_like(t) for n, t in params.items()}
        self.exp_avg_sq = {n: torch.zeros_like(t) for n, t in params.items()}
        n_models = next(iter(params.values())).shape[0]
        self.steps = np.zeros(n_models, dtype=np.int64)

    @torch.no_grad()
    def step(self, lr: float, mask: torch.Tensor) -> None:
        beta1, beta2 = self.betas
        self.steps += mask.cpu().numpy().astype(np.int64)
        count = np.maximum(self.steps, 1).astype(np.float64)
        any_param = next(iter(self.params.values()))
        step_size = torch.as_tensor(
            lr / (1.0 - beta1**count), dtype=any_param.dtype, device=any_param.device
        )
        bc2_sqrt = torch.as_tensor(
            np.sqrt(1.0 - beta2**count), dtype=any_param.dtype, device=any_param.device
        )
        for n, p in self.params.items():
            shape = (-1, *[1] * (p.dim() - 1))
            keep = mask.reshape(shape)
            grad = p.grad
            m = self.exp_avg[n].lerp(grad, 1 - beta1)
            v = self.exp_avg_sq[n].mul(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = (v.sqrt() / bc2_sqrt.reshape(shape)).add_(self.eps)
            moved = p - step_size.reshape(shape) * m / denom
            self.exp_avg[n] = torch.where(keep, m, self.exp_avg[n])
            self.exp_avg_sq[n] = torch.where(keep, v, self.exp_avg_sq[n])
            p.copy_(torch.where(keep, moved, p))

    def state(self, k: int) -> dict[str, Any]:
        return {
            "step": int(self.steps[k]),
            "exp_avg": {n: t[k].detach().cpu().clone() for n, t in self.exp_avg.items()},
            "exp_avg_sq": {n: t[k].detach().cpu().clone() for n, t in self.exp_avg_sq.items()},
        }

    def load(self, states: list[dict[str, Any]]) -> None:
        any_param = next(iter(self.params.values()))
        for key in ("exp_avg", "exp_avg_sq"):
            getattr(self, key).update(
                {
                    n: torch.stack([s[key][n] for s in states]).to(
                        any_param.device, any_param.dtype
                    )
                    for n in self.params
                }
            )
        self.steps = np.array([s["step"] for s in states], dtype=np.int64)


@dataclass
class Member:
    """One model of a vectorised group and its per-model training state."""

    model: NeuralODE
    task: FitTask
    rng: np.random.Generator
    init: dict[str, torch.Tensor]  # the initial field (its state_dict)
    train_x: np.ndarray  # standardised training data, in the training dtype
    val_x: np.ndarray | None
    seq: int
    payload: dict[str, Any] | None = None  # the checkpoint to resume from
    result: TrainingResult = field(default_factory=TrainingResult)
    best: dict[str, torch.Tensor] | None = None
    first_write: bool = True

    @property
    def checkpoint(self) -> Path | None:
        return checkpoint_file(self.task.run)

    @property
    def start_epoch(self) -> int:
        return 0 if self.payload is None else int(self.payload["epoch"])


def read_checkpoint(path: Path | None, name: str, init: dict[str, torch.Tensor]) -> dict | None:
    """The payload of a vectorised node checkpoint at ``path`` (None: none there)."""
    if path is None or not path.exists():
        return None
    payload = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path} is not a {name} checkpoint of this dsrbench version; "
            "delete it to train from scratch"
        )
    shapes = {k: tuple(v.shape) for k, v in payload["params"].items()}
    if shapes != {k: tuple(v.shape) for k, v in init.items()}:
        raise ValueError(
            f"{path} holds a field of shapes {shapes}, not that of these hyperparameters; "
            "delete it to train from scratch"
        )
    return payload


def train_group(
    members: list[Member], device: torch.device, dtype: torch.dtype, budget: float | None
) -> None:
    """Train the members (same settings, dimension and window length) together; each
    member's model gets its field and ``training_result_``."""
    lead = members[0].model
    hp = lead.params
    epochs, n_batches = int(hp["epochs"]), int(hp["batches_per_epoch"])
    batch, seq = int(hp["batch_size"]), members[0].seq
    lr0, lr1 = float(hp["lr_start"]), float(hp["lr_end"])
    gamma = (lr1 / lr0) ** (1.0 / max(1, epochs))  # exponential decay per epoch
    validate_every, checkpoint_every = int(hp["validate_every"]), int(hp["checkpoint_every"])
    template = lead._field(members[0].train_x.shape[2])
    params = {
        n: torch.stack([m.init[n] for m in members]).to(device, dtype).requires_grad_()
        for n in members[0].init
    }
    stacked = StackedField(template, params)
    adam = MaskedAdam(params)
    lr = lr0
    start_epoch = members[0].start_epoch
    if start_epoch > 0:  # every model from its own checkpoint
        payloads = [m.payload for m in members]
        assert all(q is not None for q in payloads)
        with torch.no_grad():
            for n, t in params.items():
                t.copy_(torch.stack([q["params"][n] for q in payloads]).to(device, dtype))
        adam.load([q["adam"] for q in payloads])
        lr = float(payloads[0]["lr"])
        for m, q in zip(members, payloads, strict=True):
            m.rng.bit_generator.state = q["rng"]
            m.best = q["best"]
            m.result.best_score, m.result.best_epoch = q["best_score"], q["best_epoch"]
            m.result.history = list(q["history"])
            m.result.seconds = float(q["seconds"])
            m.result.resumed_from = m.result.epochs_run = start_epoch
    clock = time.perf_counter() - max(m.result.seconds for m in members)

    def weights(k: int) -> dict[str, torch.Tensor]:
        return {n: t[k].detach().clone() for n, t in params.items()}

    def save(k: int, epoch: int) -> None:
        m = members[k]
        if m.checkpoint is None:
            return
        payload = {
            "format": CHECKPOINT_FORMAT,
            "epoch": epoch,
            "params": {n: t.cpu() for n, t in weights(k).items()},
            "adam": adam.state(k),
            "lr": lr,
            "rng": m.rng.bit_generator.state,
            "best": m.best,
            "best_score": m.result.best_score,
            "best_epoch": m.result.best_epoch,
            "history": m.result.history,
            "seconds": m.result.seconds,
        }
        m.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(m.checkpoint) as tmp:  # a kill mid-write leaves the previous one
            torch.save(payload, tmp)

    stopped_by = "epochs"
    n_models = len(members)
    for epoch in range(start_epoch, epochs):
        t0 = time.perf_counter()
        total = np.zeros(n_models)
        done = np.zeros(n_models, dtype=np.int64)
        for _ in range(n_batches):
            w = torch.as_tensor(
                np.stack([sample_windows(m.train_x, seq, batch, m.rng) for m in members]),
                device=device,
            )  # (K, B, seq, D)
            pred = lead._solve(stacked, w[:, :, 0], seq - 1)  # (seq - 1, K, B, D)
            target = w[:, :, 1:].permute(2, 0, 1, 3)
            loss = torch.mean((pred - target) ** 2, dim=(0, 2, 3))  # (K,)
            for t in params.values():
                t.grad = None
            loss.sum().backward()
            with torch.no_grad():
                ok = torch.isfinite(loss)
                for t in params.values():
                    ok &= torch.isfinite(t.grad).reshape(n_models, -1).all(dim=1)
                    t.grad = torch.nan_to_num(t.grad, nan=0.0, posinf=0.0, neginf=0.0)
            adam.step(lr, ok)  # a skipped model does not move (as its lone run skips)
            ok_np = ok.cpu().numpy()
            total += np.where(ok_np, loss.detach().cpu().numpy(), 0.0)
            done += ok_np
        rows = []
        last = epoch + 1 == epochs
        for k, m in enumerate(members):
            mean = total[k] / done[k] if done[k] else float("nan")
            row = {"epoch": epoch + 1, "loss": mean, "lr": lr, "alpha": float("nan")}
            row["skipped"] = int(n_batches - done[k])
            score = float("nan")
            if m.val_x is not None and ((epoch + 1) % validate_every == 0 or last):
                field_k = lead._field(m.train_x.shape[2]).to(device, dtype)
                field_k.load_state_dict(weights(k))
                with torch.no_grad():
                    score = float(
                        validation_stsp(
                            lambda c, n, f=field_k, mod=m.model: mod._generate_std(c, n, f),
                            m.val_x[:, :1000],
                        )
                    )
                if score < m.result.best_score:
                    m.result.best_score, m.result.best_epoch = score, epoch + 1
                    m.best = {n: t.cpu() for n, t in weights(k).items()}
            row["val_stsp"] = score
            rows.append(row)
        lr *= gamma  # torch's ExponentialLR, chained
        seconds = time.perf_counter() - t0
        elapsed = time.perf_counter() - clock
        for m, row in zip(members, rows, strict=True):
            row["seconds"] = seconds
            m.result.history.append(row)
            m.result.seconds = elapsed
            m.result.epochs_run = epoch + 1
            write_epoch_log(
                m.task.run.epoch_log if m.task.run else None, m.result.history, m.first_write
            )
            m.first_write = False
        # a run whose last epoch ends past the budget is complete, not stopped
        over_budget = budget is not None and elapsed > budget and not last
        if (epoch + 1) % checkpoint_every == 0 or over_budget:
            for k in range(n_models):
                save(k, epoch + 1)
        if over_budget:
            stopped_by = "budget"
            break
    for k, m in enumerate(members):
        m.result.stopped_by = stopped_by
        m.result.stopped_by_budget = stopped_by == "budget"
        if m.result.epochs_run == 0:
            m.result.epochs_run = start_epoch
        m.model._set_field(m.best if m.best is not None else weights(k))
        m.model.training_result_ = m.result
