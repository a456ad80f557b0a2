"""Shared training machinery for the torch methods (a helper of the methods, not a method).

* :func:`resolve_device`: ``"auto"`` is CUDA when present, else the CPU (never an error);
* :func:`seed_everything`: seeds torch, numpy and Python and makes CPU reruns bit-identical;
* :func:`sample_windows`: random training windows (batches of sequences);
* :func:`validation_stsp`: the validation score of the DSR papers, D_stsp between a free run
  of the model and a validation trajectory (the AL-RNN code keeps the model with the best);
* :class:`Trainer`: the epoch loop with a tqdm bar, a CSV epoch log, checkpoints every N
  epochs that a rerun resumes from (optimizer, scheduler and random states included, so a
  resumed run equals an uninterrupted one), the best-validation weights, and an optional
  wall-clock budget.

Methods call these from their ``fit``; see :mod:`dsrbench.methods.node` for an example.
The latent RNNs (:mod:`dsrbench.methods._latent_rnn`) train many models at once with their
own loop over the same pieces (windows, validation, the epoch log, :class:`TrainingResult`)
and per-model checkpoints.
"""

from __future__ import annotations

import csv
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm  # not tqdm.auto: report notebooks import this module too

from dsrbench.atomic import atomic_path
from dsrbench.methods.base import RunFiles

__all__ = [
    "Trainer",
    "TrainingResult",
    "checkpoint_file",
    "resolve_device",
    "sample_windows",
    "seed_everything",
    "validation_stsp",
    "write_epoch_log",
]

CHECKPOINT_NAME = "checkpoint.pt"


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"``: CUDA when available, else CPU. An unavailable CUDA request falls back to
    the CPU with a warning rather than failing a run on a machine without a GPU."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        import warnings

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
    """What a :class:`Trainer` run did."""

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


@dataclass
class Trainer:
    """The epoch loop shared by the torch methods.

    ``epoch_fn(epoch) -> dict`` runs one epoch and returns what to log (``loss``, ``lr``,
    ``alpha``, ...); ``validate_fn() -> float`` (lower is better) runs every
    ``validate_every`` epochs and the weights with the best score are restored at the end.
    ``state`` holds every object with ``state_dict``/``load_state_dict`` (module, optimizer,
    scheduler) and ``extra_state``/``load_extra_state`` carry the method's own counters (e.g.
    the adaptive teacher-forcing alpha); the numpy Generator ``rng`` and the torch random
    state are checkpointed too, so a resumed run continues exactly where it stopped.
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

    # -- checkpoints --------------------------------------------------------------------
    def _checkpoint_path(self) -> Path | None:
        return checkpoint_file(self.run)

    def _save(self, epoch: int, result: TrainingResult, best: dict | None) -> None:
        path = self._checkpoint_path()
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "epoch": epoch,
            "state": {k: v.state_dict() for k, v in self.state.items()},
            "extra": self.extra_state() if self.extra_state else {},
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "best": best,
            "best_score": result.best_score,
            "best_epoch": result.best_epoch,
            "history": result.history,
            "seconds": result.seconds,
        }
        with atomic_path(path) as tmp:  # a kill mid-write leaves the previous checkpoint
            torch.save(payload, tmp)

    def _resume(self, result: TrainingResult) -> tuple[int, dict | None]:
        path = self._checkpoint_path()
        if path is None or not path.exists():
            return 0, None
        payload = torch.load(path, map_location="cpu", weights_only=False)
        for key, obj in self.state.items():
            obj.load_state_dict(payload["state"][key])
        if self.load_extra_state:
            self.load_extra_state(payload["extra"])
        self.rng.bit_generator.state = payload["rng"]
        torch.set_rng_state(payload["torch_rng"])
        result.best_score = payload["best_score"]
        result.best_epoch = payload["best_epoch"]
        result.history = list(payload["history"])
        result.seconds = float(payload["seconds"])
        result.resumed_from = int(payload["epoch"])
        return int(payload["epoch"]), payload["best"]

    # -- the log --------------------------------------------------------------------------
    def _log(self, history: list[dict[str, float]], first: bool) -> None:
        """Append the newest row; the first write of a (resumed) process rewrites the whole
        history from the checkpoint, so the log never holds epochs the model lost."""
        if self.run is not None:
            write_epoch_log(self.run.epoch_log, history, first)

    # -- the loop -------------------------------------------------------------------------
    def fit(
        self,
        epoch_fn: Callable[[int], dict[str, float]],
        validate_fn: Callable[[], float] | None = None,
    ) -> TrainingResult:
        result = TrainingResult()
        start_epoch, best = self._resume(result)
        if self.budget is not None and result.seconds > self.budget and start_epoch < self.epochs:
            # the checkpoint of a run the budget stopped: resume to that model, no more epochs
            result.stopped_by_budget, result.stopped_by = True, "budget"
            result.epochs_run = start_epoch
            if best is not None:
                self.model.load_state_dict(best)
            return result
        first_write = True
        clock = time.perf_counter() - result.seconds
        bar = tqdm(
            range(start_epoch, self.epochs),
            initial=start_epoch,
            total=self.epochs,
            desc=self.description,
            mininterval=2.0,
            disable=None,  # no bar when not on a terminal (logs stay readable)
        )
        for epoch in bar:
            t = time.perf_counter()
            row: dict[str, float] = {"epoch": epoch + 1, **epoch_fn(epoch)}
            validated = validate_fn is not None and (
                (epoch + 1) % self.validate_every == 0 or epoch + 1 == self.epochs
            )
            score = float("nan")
            if validated:
                self.model.eval()
                with torch.no_grad():
                    score = float(validate_fn())
                self.model.train()
                if score < result.best_score:
                    result.best_score, result.best_epoch = score, epoch + 1
                    best = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            row["val_stsp"] = score
            row["seconds"] = time.perf_counter() - t
            result.history.append(row)
            result.seconds = time.perf_counter() - clock
            self._log(result.history, first_write)
            first_write = False
            bar.set_postfix(loss=f"{row.get('loss', float('nan')):.4g}", refresh=False)
            result.epochs_run = epoch + 1
            # a run whose last epoch ends past the budget is complete, not stopped
            over_budget = (
                self.budget is not None and result.seconds > self.budget and epoch + 1 < self.epochs
            )
            if (epoch + 1) % self.checkpoint_every == 0 or over_budget:
                self._save(epoch + 1, result, best)
            if over_budget:
                result.stopped_by_budget = True
                result.stopped_by = "budget"
                break
        bar.close()
        if result.epochs_run == 0:
            result.epochs_run = start_epoch
        if best is not None:
            self.model.load_state_dict(best)
        return result
