"""The one training loop of the torch methods (a helper of the methods, not a method).

:class:`GroupTrainer` trains K models at once, K = 1 included. A method supplies a
:class:`TrainingStep`: the models' parameters (one module's, or tensors with a leading
model axis K for a group), an optimiser, and the loss of a batch of K models with its
gradients; the loop does the rest, the same way for every method:

* epochs of ``batches_per_epoch`` batches: ``zero_grad``, the step's loss and gradients,
  then the optimiser's step (the package's only one). A model whose loss or gradient is not
  finite takes no step: the batch is skipped for it (``on_nonfinite = "skip"``) or the
  model is frozen for good and ends ``"diverged"`` (``"freeze"``, the latent RNNs); the
  other models of the group move as if they trained alone;
* each model's own random generator, teacher-forcing ``alpha`` (GTF), validation score
  every ``validate_every`` epochs and best weights, epoch log and progress bar;
* one checkpoint per model (:data:`CHECKPOINT_FORMAT`) every ``checkpoint_every`` epochs
  that a rerun resumes from (weights, optimiser and scheduler state, random generators,
  alpha, best weights, history), so a resumed run equals an uninterrupted one; a
  checkpoint of an older format is refused (:func:`read_checkpoint`);
* the wall-clock ``budget``, a safety cap (``stopped_by = "budget"``; a rerun under the
  budget that stopped it keeps the stopped model), and ``stopped_by``.

:class:`Trainer` is the K = 1 case for code that writes its own epochs (``epoch_fn``);
:func:`fit_in_groups` is the many-model ``fit_many`` of a method built on the loop. Also:

* :func:`resolve_device`: ``"auto"`` is CUDA when present, else the CPU (never an error);
* :func:`seed_everything`: seeds torch, numpy and Python and makes CPU reruns bit-identical;
* :func:`sample_windows`: random training windows (batches of sequences);
* :func:`validation_stsp`: the validation score of the DSR papers, D_stsp between a free run
  of the model and a validation trajectory (the AL-RNN code keeps the model with the best).

docs/api.md ("Methods") describes the contract a method implements, with an example.
"""

from __future__ import annotations

import csv
import os
import random
import time
import warnings
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from tqdm import tqdm  # not tqdm.auto: report notebooks import this module too

from dsrbench.atomic import atomic_path
from dsrbench.faults import injected_failure
from dsrbench.layout import snapshot_file
from dsrbench.methods.base import FitOutcome, FitTask, RunFiles

__all__ = [
    "load_weights",
    "save_weights",
    "CHECKPOINT_FORMAT",
    "Batch",
    "GroupTrainer",
    "MaskedAdam",
    "Member",
    "StackedParams",
    "Trainer",
    "TrainingStep",
    "TrainingResult",
    "checkpoint_file",
    "fit_in_groups",
    "loop_settings",
    "read_checkpoint",
    "resolve_device",
    "sample_windows",
    "seed_everything",
    "validation_stsp",
    "write_epoch_log",
]

CHECKPOINT_NAME = "checkpoint.pt"
#: the version of the checkpoints that :class:`GroupTrainer` writes (one file per model)
CHECKPOINT_FORMAT = "dsrbench.trainer/1"
#: the formats written before the one training loop, and the commit that still reads them
OLD_FORMATS = ("latent_rnn/1", "node/1", "trainer (unversioned)")
OLD_FORMATS_COMMIT = "4901663"


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"``: CUDA when available, else CPU. An unavailable CUDA request falls back to
    the CPU with a warning rather than failing a run on a machine without a GPU."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        warnings.warn(
            f"device {device!r} requested but CUDA is unavailable; using the CPU", stacklevel=2
        )
        return torch.device("cpu")
    return torch.device(device)


def seed_everything(seed: int) -> np.random.Generator:
    """Seed torch, numpy and ``random``; deterministic kernels (CPU reruns are bit-identical).

    Returns a numpy Generator for the method's own sampling (batches, initial weights).
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (third-party code may draw from it)
    torch.manual_seed(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    return np.random.default_rng(seed)


def sample_windows(
    x: np.ndarray, length: int, batch_size: int, rng: np.random.Generator
) -> np.ndarray:
    """``batch_size`` windows of ``length`` consecutive points drawn uniformly from the
    trajectories ``x (N, T, D)``; shape ``(batch_size, length, D)``."""
    n, t, _ = x.shape
    if length > t:
        raise ValueError(f"sequence length {length} exceeds the trajectory length {t}")
    traj = rng.integers(0, n, size=batch_size)
    start = rng.integers(0, t - length + 1, size=batch_size)
    idx = start[:, None] + np.arange(length)[None]
    return x[traj[:, None], idx]


def validation_stsp(
    generate: Callable[[np.ndarray, int], np.ndarray],
    val: np.ndarray,
    *,
    context_length: int = 1,
    n_bins: int = 30,
) -> float:
    """D_stsp between a free run of the model and the first validation trajectory
    (Brenner et al. 2024 keep the checkpoint with the best such score). A run that leaves
    the data range scores ``inf``. ``generate(context (1, Tc, D), steps) -> (1, steps, D)``.
    """
    from dsrbench.metrics import state_space_divergence

    truth = val[0]
    steps = truth.shape[0] - context_length
    with np.errstate(all="ignore"):
        gen = np.asarray(generate(truth[None, :context_length], steps))[0]
    if not np.all(np.isfinite(gen)) or np.abs(gen).max() > 1e3 * (np.abs(truth).max() + 1):
        return float("inf")
    value = state_space_divergence(truth[context_length:], gen, n_bins=n_bins)
    return float(getattr(value, "value", value))


def save_weights(state: Mapping[str, torch.Tensor], path: Path) -> None:
    """A trained model's state dict, as :func:`load_weights` reads it back."""
    torch.save(dict(state), path)


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """A state dict saved by :func:`save_weights`, on the CPU, read without unpickling
    code (``weights_only``: a shipped weights file cannot run anything)."""
    return torch.load(path, map_location="cpu", weights_only=True)


class SavedNetwork:
    """``save``/``load`` of a torch method whose trained network is one weights file
    (:data:`weights_file` in the model directory, by :func:`save_weights`) beside what
    :class:`dsrbench.methods.base.Method` saves. A method lists it before ``Method`` and
    says which state dict is saved (:meth:`_network_state`, default ``self.net_``) and how
    a loaded model takes it back (:meth:`_set_network_state`, default ``self._set_net``)."""

    weights_file: ClassVar[str]

    def _network_state(self) -> Mapping[str, torch.Tensor]:
        return self.net_.state_dict()

    def _set_network_state(self, state: dict[str, torch.Tensor]) -> None:
        self._set_net(state)

    def save(self, directory: str | Path) -> None:
        super().save(directory)
        save_weights(self._network_state(), Path(directory) / self.weights_file)

    @classmethod
    def load(cls, directory: str | Path) -> Any:
        model = super().load(directory)
        model._set_network_state(load_weights(Path(directory) / cls.weights_file))
        return model


def checkpoint_file(run: RunFiles | None) -> Path | None:
    """The checkpoint of a training run's files (None: it keeps none)."""
    if run is None or run.checkpoint_dir is None:
        return None
    return Path(run.checkpoint_dir) / CHECKPOINT_NAME


def write_epoch_log(path: Path | None, history: list[dict[str, float]], first: bool) -> None:
    """Append the newest row of ``history`` to the CSV epoch log at ``path`` (None: no log);
    ``first`` (the first write of a possibly resumed process) rewrites the whole history
    from the checkpoint, so the log never holds epochs the model lost."""
    if path is None or not history:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = history if first else history[-1:]
    with path.open("w" if first else "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[-1]), extrasaction="ignore")
        if first:
            writer.writeheader()
        writer.writerows(rows)


@dataclass
class TrainingResult:
    """What the training of one model did."""

    epochs_run: int = 0
    resumed_from: int = 0
    best_score: float = float("inf")
    best_epoch: int = -1
    stopped_by_budget: bool = False
    #: what ended training: "epochs" (the epoch budget, as the papers count it), "budget"
    #: (the wall-clock cap) or "diverged" (the loss turned non-finite)
    stopped_by: str = "epochs"
    seconds: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)


# -- checkpoints --------------------------------------------------------------------------------
def read_checkpoint(
    path: Path | None, shapes: dict[str, tuple[int, ...]] | None = None
) -> dict[str, Any] | None:
    """The checkpoint at ``path`` (None: there is none). A file of another format is
    refused with the fix: one of :data:`OLD_FORMATS` is resumed with dsrbench at commit
    :data:`OLD_FORMATS_COMMIT`, anything else deleted. ``shapes``: a model's parameter
    shapes (without the model axis) that the checkpoint of a stacked group must hold."""
    if path is None or not path.exists():
        return None
    payload = torch.load(path, map_location="cpu", weights_only=False)
    fmt = payload.get("format") if isinstance(payload, dict) else None
    if fmt != CHECKPOINT_FORMAT:
        if isinstance(payload, dict) and fmt is None and {"state", "epoch"} <= set(payload):
            fmt = OLD_FORMATS[-1]  # the Trainer's checkpoints carried no format
        if fmt in OLD_FORMATS:
            raise ValueError(
                f"{path} is a checkpoint in the old format {fmt!r}, which this dsrbench no "
                f"longer reads (it reads {CHECKPOINT_FORMAT!r}); resume it with dsrbench at "
                f"commit {OLD_FORMATS_COMMIT} (git checkout {OLD_FORMATS_COMMIT}), or delete "
                f"{path.parent} to train from scratch"
            )
        raise ValueError(
            f"{path} is not a {CHECKPOINT_FORMAT!r} training checkpoint; delete {path.parent} "
            "to train from scratch"
        )
    if shapes is not None:
        params = payload["state"].get("params") if payload.get("stacked") else None
        if params is None:
            raise ValueError(
                f"{path} holds the state of another training (of one model alone), not "
                f"that of these settings; delete {path.parent} to train from scratch"
            )
        held = {n: tuple(t.shape[1:]) for n, t in params.items()}
        if held != {n: tuple(s) for n, s in shapes.items()}:
            raise ValueError(
                f"{path} holds weights of shapes {held}, not those of these hyperparameters "
                f"({shapes}); delete {path.parent} to train from scratch"
            )
    return payload


def _model_slice(tree: Any, k: int) -> Any:
    """Model k's part of a stacked group's state: every tensor of at least one dimension
    cut to ``k:k+1`` (the model axis kept, length 1), the rest as it is."""
    if isinstance(tree, torch.Tensor):
        part = tree[k : k + 1] if tree.dim() >= 1 else tree
        return part.detach().cpu().clone()
    if isinstance(tree, dict):
        return {key: _model_slice(v, k) for key, v in tree.items()}
    if isinstance(tree, list | tuple):
        return type(tree)(_model_slice(v, k) for v in tree)
    return tree


def _model_join(trees: Sequence[Any]) -> Any:
    """The inverse of :func:`_model_slice` over the models of a group, in order: the
    model-axis tensors concatenated, the shared values from the first model."""
    first = trees[0]
    if isinstance(first, torch.Tensor):
        return torch.cat(list(trees)) if first.dim() >= 1 else first
    if isinstance(first, dict):
        return {key: _model_join([t[key] for t in trees]) for key in first}
    if isinstance(first, list | tuple):
        return type(first)(_model_join([t[i] for t in trees]) for i in range(len(first)))
    return first


# -- what a method supplies ---------------------------------------------------------------------
class StackedParams:
    """Named tensors with a leading model axis K (one slice per model) that checkpoint like
    a module (``state_dict``/``load_state_dict``)."""

    def __init__(self, params: dict[str, torch.Tensor]) -> None:
        self.params = params

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {n: t.detach() for n, t in self.params.items()}

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for n, t in self.params.items():
            t.copy_(state[n].to(t.device, t.dtype))

    def model(self, k: int) -> dict[str, torch.Tensor]:
        """Model k's weights, detached copies on the CPU."""
        return {n: t[k].detach().cpu().clone() for n, t in self.params.items()}


@dataclass
class Batch:
    """One optimiser step of a group as :meth:`TrainingStep.loss` sees it."""

    #: optimiser steps of the run so far, this one included (1-based)
    index: int
    epoch: int
    #: each model's random generator (windows, noise), in member order
    rngs: list[np.random.Generator]
    #: each model's teacher-forcing alpha ``(K,)``; a step that adapts it assigns a new array
    alpha: np.ndarray


class TrainingStep:
    """What a method supplies to :class:`GroupTrainer` for K models (the extension point).

    Set ``optimizer`` (and optionally ``scheduler``, stepped once after each epoch's
    batches) and implement :meth:`loss`; override the others as needed. Parameters are
    either one model's modules (``stacked = False``, K = 1) or tensors with a leading model
    axis K (``stacked = True``; :class:`StackedParams`), in which case every tensor of the
    optimiser's and scheduler's state with a dimension carries that axis too, and the loss
    of K models is the sum of their own losses so that each slice's gradient is its lone
    run's (an elementwise optimiser then moves each model as if it trained alone).
    """

    #: parameters with a leading model axis (a group), or one model's modules (K = 1)
    stacked: bool = False
    #: a model whose loss or gradient is not finite: "skip" the batch for it (no optimiser
    #: step) or "freeze" it for good (``stopped_by = "diverged"``; it keeps its best weights)
    on_nonfinite: str = "skip"
    #: each model's teacher-forcing alpha at the start (nan: the method has none)
    initial_alpha: float = float("nan")
    optimizer: torch.optim.Optimizer
    scheduler: Any = None
    #: an epoch written whole (:class:`Trainer`): ``epoch -> row``, no batches of the loop
    whole_epoch: Callable[[int], dict[str, float]] | None = None

    def state(self) -> dict[str, Any]:
        """The objects whose ``state_dict`` a checkpoint holds (weights, optimiser,
        scheduler)."""
        raise NotImplementedError

    def loss(self, batch: Batch) -> torch.Tensor:
        """The loss of each model on a batch ``(K,)``, its gradients left in ``.grad`` (the
        loop zeroed them); draw the batch from ``batch.rngs`` only."""
        raise NotImplementedError

    def after_step(self, moved: np.ndarray) -> None:
        """Called after each batch with the models that took the optimiser step ``(K,)``."""

    def begin_epoch(self, epoch: int) -> None:
        """Called before an epoch's first batch (0-based epoch)."""

    def end_epoch(self, epoch: int) -> list[dict[str, float]] | None:
        """Each model's extra columns of the epoch log (None: none), after the batches and
        the scheduler's step."""
        return None

    def validate(self, k: int) -> float | None:
        """Model k's validation score, lower is better (None: it has no validation data);
        the weights with the best score are kept."""
        return None

    def weights(self, k: int) -> dict[str, torch.Tensor]:
        """Model k's weights as they stand (its best, its checkpoint, its result)."""
        raise NotImplementedError

    def snapshot(self, k: int) -> dict[str, np.ndarray] | None:
        """Arrays of model k written at the optimiser steps a run asks for
        (``RunFiles.snapshot_steps``; None: the method writes none)."""
        return None

    def extra_state(self, k: int) -> dict[str, Any]:
        """Model k's own counters to checkpoint beyond :meth:`state`."""
        return {}

    def load_extra_state(self, k: int, state: dict[str, Any]) -> None:
        """Restore what :meth:`extra_state` returned."""


class LossPartsStep(TrainingStep):
    """A one-model step (K = 1) whose loss has named parts: :meth:`loss` sets ``self.parts``
    (name -> float); the epoch log gets each part's mean over the batches that took the
    optimiser step. Set ``part_names`` in ``__init__``."""

    part_names: tuple[str, ...] = ()

    def begin_epoch(self, epoch: int) -> None:
        self.parts: dict[str, float] = {}
        self.parts_sum, self.done = dict.fromkeys(self.part_names, 0.0), 0

    def after_step(self, moved: np.ndarray) -> None:
        if moved[0]:
            self.done += 1
            self.parts_sum = {k: self.parts_sum[k] + self.parts[k] for k in self.parts_sum}

    def end_epoch(self, epoch: int) -> list[dict[str, float]]:
        done = self.done
        return [{k: s / done if done else float("nan") for k, s in self.parts_sum.items()}]


class MaskedAdam(torch.optim.Optimizer):
    """Adam (Kingma & Ba 2015, torch's single-tensor update order) over tensors with a
    leading model axis, with a step counter per model: only the models of
    ``model_mask`` (set by :class:`GroupTrainer` before each step; None: all) move, the
    others keep their weights, moments and bias correction, as a lone run that skips a
    batch."""

    def __init__(
        self,
        params: Sequence[torch.Tensor],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        super().__init__(list(params), {"lr": lr, "betas": betas, "eps": eps})
        self.model_mask: torch.Tensor | None = None

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                n_models = p.shape[0]
                if not state:
                    state["step"] = torch.zeros(n_models, dtype=torch.int64)
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                mask = self.model_mask
                if mask is None:
                    mask = torch.ones(n_models, dtype=torch.bool, device=p.device)
                state["step"] += mask.cpu().to(torch.int64)
                count = np.maximum(state["step"].numpy(), 1).astype(np.float64)
                step_size = torch.as_tensor(
                    lr / (1.0 - beta1**count), dtype=p.dtype, device=p.device
                )
                bc2_sqrt = torch.as_tensor(
                    np.sqrt(1.0 - beta2**count), dtype=p.dtype, device=p.device
                )
                shape = (-1, *[1] * (p.dim() - 1))
                keep = mask.reshape(shape)
                grad = p.grad
                m = state["exp_avg"].lerp(grad, 1 - beta1)
                v = state["exp_avg_sq"].mul(beta2).addcmul_(grad, grad, value=1 - beta2)
                denom = (v.sqrt() / bc2_sqrt.reshape(shape)).add_(eps)
                moved = p - step_size.reshape(shape) * m / denom
                state["exp_avg"] = torch.where(keep, m, state["exp_avg"])
                state["exp_avg_sq"] = torch.where(keep, v, state["exp_avg_sq"])
                p.copy_(torch.where(keep, moved, p))


# -- the models of a group ----------------------------------------------------------------------
@dataclass
class Member:
    """One model of a group: its random generator, files, checkpoint to resume from and
    what its training did. ``model`` and ``init`` are the method's (its instance, its
    initial weights)."""

    rng: np.random.Generator
    run: RunFiles | None = None
    name: str = ""
    model: Any = None
    init: dict[str, Any] = field(default_factory=dict)
    payload: dict[str, Any] | None = None
    result: TrainingResult = field(default_factory=TrainingResult)
    best: dict[str, Any] | None = None
    diverged_at: int | None = None
    first_write: bool = True

    @property
    def checkpoint(self) -> Path | None:
        return checkpoint_file(self.run)

    @property
    def start_epoch(self) -> int:
        return 0 if self.payload is None else int(self.payload["epoch"])

    def read_checkpoint(self, shapes: dict[str, tuple[int, ...]] | None = None) -> None:
        """Read this model's checkpoint, if it has one (:func:`read_checkpoint`)."""
        self.payload = read_checkpoint(self.checkpoint, shapes)


@dataclass
class GroupTrainer:
    """The epoch loop of K models (see the module docstring); :meth:`fit` trains them and
    leaves each member's ``result``, ``best`` (the best validated weights, None when none
    was validated) and ``diverged_at``; :meth:`final_weights` is what a model keeps."""

    step: TrainingStep
    members: list[Member]
    epochs: int
    batches_per_epoch: int = 1
    checkpoint_every: int = 50
    validate_every: int = 25
    budget: float | None = None
    description: str = "training"
    #: optimiser steps so far (checkpointed) and each model's alpha, kept by :meth:`fit`
    batches_seen: int = field(default=0, init=False)
    alpha: np.ndarray = field(default_factory=lambda: np.zeros(0), init=False)

    @property
    def n_models(self) -> int:
        return len(self.members)

    def final_weights(self, k: int) -> dict[str, Any]:
        """Model k's best validated weights, else its last ones."""
        best = self.members[k].best
        return best if best is not None else self.step.weights(k)

    # -- checkpoints ------------------------------------------------------------------------
    def _save(self, k: int, epoch: int) -> None:
        m = self.members[k]
        path = m.checkpoint
        if path is None:
            return
        objects = {name: obj.state_dict() for name, obj in self.step.state().items()}
        payload = {
            "format": CHECKPOINT_FORMAT,
            "epoch": epoch,
            "stacked": self.step.stacked,
            "state": _model_slice(objects, k) if self.step.stacked else objects,
            "extra": self.step.extra_state(k),
            "rng": m.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "alpha": float(self.alpha[k]),
            "batches_seen": self.batches_seen,
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

    def _resume(self) -> int:
        """Load every model's checkpoint; the epoch they resume from (0: none)."""
        starts = {m.start_epoch for m in self.members}
        if len(starts) != 1:
            raise ValueError(f"the models of a group resume from different epochs {starts}")
        start = starts.pop()
        if start == 0:
            return 0
        payloads = [m.payload for m in self.members]
        assert all(q is not None for q in payloads)
        objects = self.step.state()
        for m, q in zip(self.members, payloads, strict=True):
            assert q is not None and m.checkpoint is not None
            if q["stacked"] != self.step.stacked or set(q["state"]) != set(objects):
                raise ValueError(
                    f"{m.checkpoint} holds the state of another training "
                    f"({sorted(q['state'])}, not {sorted(objects)}); delete "
                    f"{m.checkpoint.parent} to train from scratch"
                )
        for name, obj in objects.items():
            parts = [q["state"][name] for q in payloads]  # type: ignore[index]
            obj.load_state_dict(_model_join(parts) if self.step.stacked else parts[0])
        torch.set_rng_state(payloads[0]["torch_rng"])  # type: ignore[index]
        self.batches_seen = int(payloads[0]["batches_seen"])  # type: ignore[index]
        for k, (m, q) in enumerate(zip(self.members, payloads, strict=True)):
            assert q is not None
            self.step.load_extra_state(k, q["extra"])
            m.rng.bit_generator.state = q["rng"]
            self.alpha[k] = q["alpha"]
            m.best, m.diverged_at = q["best"], q["diverged_at"]
            m.result.best_score, m.result.best_epoch = q["best_score"], q["best_epoch"]
            m.result.history = list(q["history"])
            m.result.seconds = float(q["seconds"])
            m.result.resumed_from = start
            m.result.epochs_run = start if m.diverged_at is None else m.diverged_at
        return start

    def _snapshots(self, alive: np.ndarray) -> None:
        """Each model's snapshot after optimiser step ``batches_seen`` where its run asks."""
        for k, m in enumerate(self.members):
            run = m.run
            if run is None or run.snapshot_dir is None:
                continue
            if self.batches_seen not in run.snapshot_steps:
                continue
            arrays = self.step.snapshot(k)
            if arrays is None:
                continue
            path = snapshot_file(run.snapshot_dir, self.batches_seen)
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, **arrays, diverged=np.array(not bool(alive[k])))

    # -- one epoch of batches -----------------------------------------------------------------
    def _optimizer_step(self, moving: np.ndarray) -> None:
        """The optimiser step of the models in ``moving``: the others' gradients are
        zeroed and their weights set back (an optimiser with a ``model_mask`` is told)."""
        if not moving.any():
            return
        optimizer = self.step.optimizer
        params = [p for g in optimizer.param_groups for p in g["params"]]
        keep, before = None, []
        if not moving.all():  # only a stacked group holds models that stay
            keep = torch.as_tensor(moving, device=params[0].device)
            for t in params:
                mask = keep.reshape(-1, *[1] * (t.dim() - 1))
                if t.grad is not None:
                    t.grad = torch.where(mask, t.grad, torch.zeros_like(t.grad))
                before.append(t.detach().clone())
        if hasattr(optimizer, "model_mask"):
            optimizer.model_mask = keep
        optimizer.step()
        if keep is not None:  # a masked model does not move (momentum)
            for t, b in zip(params, before, strict=True):
                t.copy_(torch.where(keep.reshape(-1, *[1] * (t.dim() - 1)), t, b))

    def _run_batches(self, epoch: int, alive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """An epoch's batches: each model's mean loss ``(K,)`` and which models are alive
        after it (under "freeze" a non-finite model is not, and its loss is nan)."""
        n = self.n_models
        optimizer = self.step.optimizer
        params = [p for g in optimizer.param_groups for p in g["params"]]
        freeze = self.step.on_nonfinite == "freeze"
        alive = alive.copy()
        total, done = np.zeros(n), np.zeros(n, dtype=np.int64)
        total_frozen: torch.Tensor | None = None  # "freeze" sums in the loss's dtype
        rngs = [m.rng for m in self.members]
        for _ in range(self.batches_per_epoch):
            self.batches_seen += 1
            batch = Batch(self.batches_seen, epoch, rngs, self.alpha)
            optimizer.zero_grad()
            loss = self.step.loss(batch)
            self.alpha = np.asarray(batch.alpha, dtype=np.float64)
            with torch.no_grad():
                ok = torch.isfinite(loss.detach()).reshape(n)
                for t in params:
                    if t.grad is not None:
                        ok &= torch.isfinite(t.grad).reshape(n, -1).all(dim=1)
                ok_np = ok.cpu().numpy()
                if freeze:
                    alive &= ok_np
                    moving = alive.copy()
                else:
                    moving = alive & ok_np
                self._optimizer_step(moving)
            if freeze:
                total_frozen = loss.detach() if total_frozen is None else total_frozen + loss
            else:
                losses = loss.detach().reshape(n).cpu().numpy().astype(np.float64)
                total += np.where(moving, losses, 0.0)
            done += moving
            self.step.after_step(moving)
            self._snapshots(alive)
        if total_frozen is not None:  # a model that diverged this epoch logs nan
            return (total_frozen / self.batches_per_epoch).reshape(n).cpu().numpy(), alive
        with np.errstate(all="ignore"):
            return np.where(done > 0, total / np.maximum(done, 1), np.nan), alive

    # -- the loop ---------------------------------------------------------------------------
    def fit(self) -> list[TrainingResult]:
        n, step = self.n_models, self.step
        self.alpha = np.full(n, step.initial_alpha, dtype=np.float64)
        start = self._resume()
        alive = np.array([m.diverged_at is None for m in self.members])
        stopped_by = "epochs"
        seconds = max(m.result.seconds for m in self.members)
        if self.budget is not None and seconds > self.budget and start < self.epochs:
            # the checkpoint of a run the budget stopped: resume to that model, no more epochs
            return self._finish("budget")
        clock = time.perf_counter() - seconds
        names = [m.name for m in self.members]
        bar = tqdm(
            range(start, self.epochs),
            initial=start,
            total=self.epochs,
            desc=self.description,
            mininterval=2.0,
            disable=None,  # no bar when not on a terminal (logs stay readable)
        )
        for epoch in bar:
            if not alive.any():
                break
            t0 = time.perf_counter()
            step.begin_epoch(epoch)
            if step.whole_epoch is not None:
                contents, now_alive = [step.whole_epoch(epoch)], alive
            else:
                losses, now_alive = self._run_batches(epoch, alive)
                lr = step.optimizer.param_groups[0]["lr"]
                if step.scheduler is not None:
                    step.scheduler.step()
                extra = step.end_epoch(epoch) or [{} for _ in range(n)]
                contents = [
                    {"loss": float(losses[k]), "lr": lr, "alpha": float(self.alpha[k]), **extra[k]}
                    for k in range(n)
                ]
            last = epoch + 1 == self.epochs
            rows: dict[int, dict[str, float]] = {}
            for k, m in enumerate(self.members):
                if not alive[k]:
                    continue  # diverged in an earlier epoch
                rows[k] = {"epoch": epoch + 1, **contents[k]}
                score = float("nan")
                if now_alive[k] and ((epoch + 1) % self.validate_every == 0 or last):
                    value = step.validate(k)
                    if value is not None:
                        score = float(value)
                        if score < m.result.best_score:
                            m.result.best_score, m.result.best_epoch = score, epoch + 1
                            m.best = step.weights(k)
                rows[k]["val_stsp"] = score
                if not now_alive[k]:
                    m.diverged_at = epoch + 1
            epoch_seconds = time.perf_counter() - t0
            elapsed = time.perf_counter() - clock
            for k, row in rows.items():
                m = self.members[k]
                row["seconds"] = epoch_seconds
                m.result.history.append(row)
                m.result.seconds = elapsed
                m.result.epochs_run = epoch + 1
                write_epoch_log(m.run.epoch_log if m.run else None, m.result.history, m.first_write)
                m.first_write = False
            if rows:
                bar.set_postfix(loss=f"{next(iter(rows.values()))['loss']:.4g}", refresh=False)
            # a run whose last epoch ends past the budget is complete, not stopped
            over_budget = self.budget is not None and elapsed > self.budget and not last
            for k in rows:
                if (epoch + 1) % self.checkpoint_every == 0 or over_budget or not now_alive[k]:
                    self._save(k, epoch + 1)
            injected_failure(names, epoch + 1)  # tests only (dsrbench.faults.FAIL_ENV)
            alive = now_alive
            if over_budget and alive.any():
                stopped_by = "budget"
                break
        bar.close()
        return self._finish(stopped_by)

    def _finish(self, stopped_by: str) -> list[TrainingResult]:
        for m in self.members:
            r = m.result
            r.stopped_by = "diverged" if m.diverged_at is not None else stopped_by
            r.stopped_by_budget = r.stopped_by == "budget"
        return [m.result for m in self.members]


def loop_settings(params: Mapping[str, Any], description: str) -> dict[str, Any]:
    """The loop's settings from a method's hyperparameters (``epochs``,
    ``batches_per_epoch``, ``checkpoint_every``, ``validate_every``) and its name, as
    keyword arguments of :class:`GroupTrainer` and :func:`train_one`."""
    return {
        "epochs": int(params["epochs"]),
        "batches_per_epoch": int(params["batches_per_epoch"]),
        "checkpoint_every": int(params["checkpoint_every"]),
        "validate_every": int(params["validate_every"]),
        "description": description,
    }


def train_one(
    step: TrainingStep,
    rng: np.random.Generator,
    run: RunFiles | None,
    *,
    epochs: int,
    batches_per_epoch: int = 1,
    checkpoint_every: int = 50,
    validate_every: int = 25,
    budget: float | None = None,
    description: str = "training",
) -> tuple[TrainingResult, dict[str, Any]]:
    """Train one model (K = 1) from its checkpoint, if any: its result and the weights it
    keeps (the best validated, else the last)."""
    member = Member(rng, run)
    member.read_checkpoint()
    trainer = GroupTrainer(
        step,
        [member],
        epochs,
        batches_per_epoch,
        checkpoint_every,
        validate_every,
        budget,
        description,
    )
    (result,) = trainer.fit()
    return result, trainer.final_weights(0)


# -- K = 1 with epochs written by the caller -------------------------------------------------------
class _EpochFunction(TrainingStep):
    """:class:`Trainer`'s step: the caller's whole epochs on one module."""

    def __init__(
        self,
        trainer: Trainer,
        epoch_fn: Callable[[int], dict[str, float]],
        validate_fn: Callable[[], float] | None,
    ) -> None:
        self.trainer, self.whole_epoch, self.validate_fn = trainer, epoch_fn, validate_fn

    def state(self) -> dict[str, Any]:
        return self.trainer.state

    def validate(self, k: int) -> float | None:
        if self.validate_fn is None:
            return None
        model = self.trainer.model
        model.eval()
        with torch.no_grad():
            score = float(self.validate_fn())
        model.train()
        return score

    def weights(self, k: int) -> dict[str, torch.Tensor]:
        return {n: v.detach().clone() for n, v in self.trainer.model.state_dict().items()}

    def extra_state(self, k: int) -> dict[str, Any]:
        return self.trainer.extra_state() if self.trainer.extra_state else {}

    def load_extra_state(self, k: int, state: dict[str, Any]) -> None:
        if self.trainer.load_extra_state:
            self.trainer.load_extra_state(state)


@dataclass
class Trainer:
    """:class:`GroupTrainer` of one model whose epochs the caller writes.

    ``epoch_fn(epoch) -> dict`` runs one epoch and returns what to log (``loss``, ``lr``,
    ``alpha``, ...); ``validate_fn() -> float`` (lower is better) runs every
    ``validate_every`` epochs and the weights with the best score are restored at the end.
    ``state`` holds every object with ``state_dict``/``load_state_dict`` (module, optimizer,
    scheduler) and ``extra_state``/``load_extra_state`` carry the caller's own counters;
    the numpy Generator ``rng`` and the torch random state are checkpointed too, so a
    resumed run continues exactly where it stopped. A method's own training should
    implement a :class:`TrainingStep` instead, so that the loop owns the optimiser step.
    """

    model: torch.nn.Module
    state: dict[str, Any]
    epochs: int
    rng: np.random.Generator
    run: RunFiles | None = None
    checkpoint_every: int = 50
    validate_every: int = 25
    budget: float | None = None
    description: str = "training"
    extra_state: Callable[[], dict[str, Any]] | None = None
    load_extra_state: Callable[[dict[str, Any]], None] | None = None

    def fit(
        self,
        epoch_fn: Callable[[int], dict[str, float]],
        validate_fn: Callable[[], float] | None = None,
    ) -> TrainingResult:
        result, weights = train_one(
            _EpochFunction(self, epoch_fn, validate_fn),
            self.rng,
            self.run,
            epochs=self.epochs,
            checkpoint_every=self.checkpoint_every,
            validate_every=self.validate_every,
            budget=self.budget,
            description=self.description,
        )
        self.model.load_state_dict(weights)
        return result


# -- fit_many of a method trained in groups --------------------------------------------------------
def fit_in_groups(
    models: Sequence[Any],
    tasks: Sequence[FitTask],
    *,
    prepare: Callable[[Any, FitTask], Member],
    key: Callable[[Member], Hashable],
    train: Callable[[list[Member]], None],
    finish: Callable[[Member], None] | None = None,
    cleanup: Callable[[Any], None] | None = None,
    raise_errors: bool = False,
) -> list[FitOutcome]:
    """Fit ``models[i]`` on ``tasks[i]`` (None: skipped, its outcome "not fitted"): each
    is prepared alone (``prepare``: data, initial weights, checkpoint), the members whose
    ``key`` agrees are trained together (``train``), then ``finish`` runs per model. A
    failing set-up or finish fails that task, a failing group its tasks; the others go on.
    ``cleanup`` runs on every model that was prepared; ``raise_errors`` re-raises the first
    error (a lone ``fit``)."""
    outcomes = [FitOutcome(None, "not fitted") for _ in tasks]
    members: dict[int, Member] = {}
    groups: dict[Hashable, list[int]] = {}
    try:
        for i, (model, task) in enumerate(zip(models, tasks, strict=True)):
            if model is None:
                continue
            try:
                members[i] = prepare(model, task)
            except Exception as exc:
                if cleanup is not None:
                    cleanup(model)
                if raise_errors:
                    raise
                outcomes[i] = FitOutcome.failed(exc)
                continue
            groups.setdefault(key(members[i]), []).append(i)
        for index in groups.values():
            try:
                train([members[i] for i in index])
            except Exception as exc:
                if raise_errors:
                    raise
                for i in index:
                    outcomes[i] = FitOutcome.failed(exc)
                continue
            for i in index:
                try:
                    if finish is not None:
                        finish(members[i])
                    outcomes[i] = FitOutcome(members[i].model)
                except Exception as exc:
                    if raise_errors:
                        raise
                    outcomes[i] = FitOutcome.failed(exc)
    finally:  # training-only state is not part of the fitted model
        if cleanup is not None:
            for m in members.values():
                cleanup(m.model)
    return outcomes
