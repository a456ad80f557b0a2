"""Many neural ODEs trained together (the vectorised ``fit_many`` of :mod:`.node`).

The models of a group share the architecture, the settings and the window length; their
parameters are stacked with a leading model axis K (:class:`StackedField`, batched
matrix products), and every batch integrates all K fields in one fixed-step solve
(:class:`NodeGroupStep`, trained by :class:`dsrbench.methods.trainer.GroupTrainer`). The
loss is the sum of each model's mean squared error, so each slice's gradient is its lone
run's; :class:`~dsrbench.methods.trainer.MaskedAdam` is Adam with a step counter per
model, so a model whose batch is skipped (non-finite loss or gradient; the lone run skips
such a batch too, without an optimiser step) leaves its weights, its moments and its bias
correction untouched while the others move.

Everything else stays per model: the random generator (windows), the torch seed of the
initial weights, validation and best weights, the epoch log, the checkpoint and
``training_result_``. Adaptive solvers do not vectorise exactly (torchdiffeq chooses one
step size for a whole batch, so K models solved together would take other steps than each
alone), and neither does RAdam here: those settings train one model after another
(:meth:`dsrbench.methods.node.NeuralODE._fit_alone`). The exception is the
solver-heuristic regularisation (Pal et al. 2021, ERNODE/SRNODE): its group solves each
model's windows with that model's own adaptive steps (:meth:`StackedField.member`, one
:func:`~dsrbench.methods._adaptive_solver.dopri5_solve` per model, as its lone run) inside
the group's batch, so the loop, the optimiser step and the checkpoints stay the group's.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from dsrbench.methods import _jacobian_penalty as jacobian
from dsrbench.methods.trainer import (
    Batch,
    GroupTrainer,
    MaskedAdam,
    Member,
    StackedParams,
    TrainingStep,
    loop_settings,
    sample_windows,
    validation_stsp,
)

if TYPE_CHECKING:
    from dsrbench.methods.node import NeuralODE, VectorField

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

    def member(self, k: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """Model k's field alone, ``f_k(t, x)`` for ``x (B, D)``, on views of the stacked
        parameters (its gradient lands in slice k)."""
        one = copy.copy(self)
        one.params = {n: p[k : k + 1] for n, p in self.params.items()}
        return lambda t, x: one(t, x.unsqueeze(0)).squeeze(0)


class NodeGroupStep(TrainingStep):
    """The training step of K neural ODEs of one architecture and window length: one
    fixed-step solve of the K stacked fields from each window's first point, the mean
    squared error of each model, Adam per model (:class:`MaskedAdam`) with the learning
    rate decaying exponentially per epoch; a model's non-finite batch is skipped for it
    (the ``skipped`` column of its log)."""

    stacked = True
    on_nonfinite = "skip"

    def __init__(self, members: list[Member], device: torch.device, dtype: torch.dtype) -> None:
        from dsrbench.methods.node import SolverStats

        self.members = members
        self.lead: NeuralODE = members[0].model
        self.regularised = self.lead._solver_regularisation().active
        self.stats = SolverStats(len(members))
        hp = self.lead.params
        epochs = int(hp["epochs"])
        lr0, lr1 = float(hp["lr_start"]), float(hp["lr_end"])
        self.batch_size, self.n_batches = int(hp["batch_size"]), int(hp["batches_per_epoch"])
        self.device, self.dtype = device, dtype
        self.dim = members[0].model.train_x_.shape[2]
        self.params = {
            n: torch.stack([m.init[n] for m in members]).to(device, dtype).requires_grad_()
            for n in members[0].init
        }
        self.field = StackedField(self.lead._field(self.dim), self.params)
        self.optimizer = MaskedAdam(list(self.params.values()), lr=lr0)
        # exponential decay per epoch: gamma^epochs = lr_end / lr_start
        self.scheduler = torch.optim.lr_scheduler.ExponentialLR(
            self.optimizer, (lr1 / lr0) ** (1.0 / max(1, epochs))
        )
        self.done = np.zeros(len(members), dtype=np.int64)

    def state(self) -> dict[str, Any]:
        return {
            "params": StackedParams(self.params),
            "optimizer": self.optimizer,
            "scheduler": self.scheduler,
        }

    def begin_epoch(self, epoch: int) -> None:
        from dsrbench.methods.node import SolverStats

        self.done[:] = 0
        self.stats = SolverStats(len(self.members))

    def loss(self, batch: Batch) -> torch.Tensor:
        seq = self.lead.seq_
        w = torch.as_tensor(
            np.stack(
                [
                    sample_windows(m.model.train_x_, seq, self.batch_size, rng)
                    for m, rng in zip(self.members, batch.rngs, strict=True)
                ]
            ),
            device=self.device,
        )  # (K, B, seq, D)
        if self.regularised:
            return self._regularised_loss(w, batch.epoch)
        pred = self.lead._solve(self.field, w[:, :, 0], seq - 1)  # (seq - 1, K, B, D)
        target = w[:, :, 1:].permute(2, 0, 1, 3)
        loss = torch.mean((pred - target) ** 2, dim=(0, 2, 3))  # (K,)
        hp = self.lead.params
        if jacobian.enabled(hp):  # JAWS-style penalty at the windows' first points

            def one_step(z: torch.Tensor) -> torch.Tensor:
                return self.lead._solve(self.field, z, 1)[0]

            residual = ((pred[0] - w[:, :, 1]) ** 2).mean(dim=-1)  # (K, B)
            penalty = jacobian.jacobian_penalty(one_step, w[:, :, 0], residual, batch.rngs, hp)
            loss = loss + float(hp["jacobian_weight"]) * penalty
        loss.sum().backward()
        return loss.detach()

    def _regularised_loss(self, w: torch.Tensor, epoch: int) -> torch.Tensor:
        """Each model's windows solved with its own adaptive steps, its loss with the
        ERNODE/SRNODE terms; a model whose solve fails or whose loss is not finite gets
        nan (skipped) and no gradient."""
        from dsrbench.methods.node import regularised_window_loss

        losses, total = [], None
        for k in range(len(self.members)):
            out = regularised_window_loss(self.lead, self.field.member(k), w[k], epoch)
            if out is None:
                losses.append(torch.tensor(float("nan"), dtype=self.dtype, device=self.device))
                continue
            loss, stats = out
            self.stats.add(k, stats)
            if torch.isfinite(loss):
                total = loss if total is None else total + loss
            losses.append(loss.detach())
        if total is not None:
            total.backward()
        return torch.stack(losses)

    def after_step(self, moved: np.ndarray) -> None:
        self.done += moved

    def end_epoch(self, epoch: int) -> list[dict[str, float]]:
        rows: list[dict[str, float]] = [{"skipped": int(self.n_batches - d)} for d in self.done]
        if not self.regularised:
            return rows
        return [{**row, **extra} for row, extra in zip(rows, self.stats.rows(), strict=True)]

    def validate(self, k: int) -> float | None:
        model = self.members[k].model
        if model.val_x_ is None:
            return None
        field_k = self.lead._field(self.dim).to(self.device, self.dtype)
        field_k.load_state_dict({n: t[k].detach() for n, t in self.params.items()})
        with torch.no_grad():
            return float(
                validation_stsp(
                    lambda c, n: model._generate_std(c, n, field_k), model.val_x_[:, :1000]
                )
            )

    def weights(self, k: int) -> dict[str, torch.Tensor]:
        return StackedParams(self.params).model(k)


def train_group(
    members: list[Member], device: torch.device, dtype: torch.dtype, budget: float | None
) -> None:
    """Train the members (same settings, dimension and window length) together; each
    member's model gets its field (the best validated, else the last) and
    ``training_result_``."""
    lead = members[0].model
    hp = lead.params
    trainer = GroupTrainer(
        NodeGroupStep(members, device, dtype),
        members,
        budget=budget,
        **loop_settings(hp, lead.name),
    )
    results = trainer.fit()
    for k, (m, result) in enumerate(zip(members, results, strict=True)):
        m.model._set_field(trainer.final_weights(k))
        m.model.training_result_ = result
