"""The training protocol of Gilpin 2023: grid search, refit on the test trajectory, and the
data-limited sweep (docs/protocols.md, "Gilpin 2023").

Gilpin, "Model scale versus domain knowledge in statistical forecasting of chaotic systems",
Phys. Rev. Research 5, 043252 (2023), benchmark code ``find_hyperparameters_*.py``,
``compute_benchmarks_*.py`` and ``multivariate_data_limited*.py``:

1. *Tuning*: every combination of a model's grid is fitted on the first 1000 points of the
   training trajectory and forecasts the next 200; the lowest sMAPE wins.
2. *Refit*: the model with the tuned hyperparameters is fitted again on the first 1000
   points of the test trajectory (another initial condition) and forecasts their
   continuation (200 points for the fixed-horizon task, 5000 for the long one).
3. *Data-limited sweep*: the tuned model is fitted on the last L of those 1000 points
   (L from 100 to 1000, not retuned) and scored by the sMAPE of its 200-point forecast.

Every fit goes through ``Method.fit_many``, so the torch methods fit all grid points (and
all systems of a chunk job) together. sMAPE here is on the 0-200 scale of the dysts the
paper used (twice dysts 0.96's ``smape``).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from dsrbench import splits
from dsrbench.methods import FitOutcome, FitTask, Method

__all__ = [
    "Protocol",
    "data_limited_sweep",
    "grid_points",
    "smape200",
    "tune",
]


@dataclass(frozen=True)
class Protocol:
    """The protocol keys of a training slice (``workflow/schemas``: ``training``); the data
    each step reads are cut by :mod:`dsrbench.splits`."""

    validation: str = "val_split"
    tune: bool = False
    grid: Mapping[str, Sequence[Any]] | None = None
    refit_on: str = "train"
    data_limited: tuple[int, ...] = ()
    fixed_horizon: int = 200

    @classmethod
    def from_training(cls, training: Mapping[str, Any]) -> Protocol:
        return cls(
            validation=str(training.get("validation", "val_split")),
            tune=bool(training.get("tune", False)),
            grid=training.get("grid"),
            refit_on=str(training.get("refit_on", "train")),
            data_limited=tuple(int(n) for n in training.get("data_limited") or ()),
            fixed_horizon=int(training.get("fixed_horizon") or 200),
        )

    @property
    def active(self) -> bool:
        """Whether anything differs from the plain fit on the training split."""
        return self != Protocol(fixed_horizon=self.fixed_horizon)


def grid_points(grid: Mapping[str, Sequence[Any]] | None) -> list[dict[str, Any]]:
    """Every combination of ``grid`` (names sorted); ``[{}]`` for an empty grid."""
    if not grid:
        return [{}]
    names = sorted(grid)
    return [
        dict(zip(names, combo, strict=True))
        for combo in itertools.product(*(grid[n] for n in names))
    ]


def smape200(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """sMAPE on the 0-200 scale averaged over everything; NaN for a non-finite forecast."""
    from dsrbench.metrics.forecast import smape

    y_pred = np.asarray(y_pred, dtype=np.float64)
    if not np.all(np.isfinite(y_pred)):
        return math.nan
    return float(np.mean(smape(np.asarray(y_true, dtype=np.float64), y_pred, scale=200)))


def _score(model: Method, train: xr.Dataset, truth: np.ndarray) -> float:
    context = np.asarray(train["x"].values[:1], dtype=np.float64)
    with np.errstate(all="ignore"):
        pred = model.forecast(context, truth.shape[1])
    return smape200(truth, pred)


@dataclass
class TuneResult:
    """What :func:`tune` found for one task: the best grid point, every score, seconds."""

    best: dict[str, Any]
    scores: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    def record(self, metric: str, grid: Mapping[str, Sequence[Any]] | None) -> dict[str, Any]:
        return {
            "metric": metric,
            "grid": {k: list(v) for k, v in (grid or {}).items()},
            "scores": self.scores,
            "best": self.best,
            "seconds": self.seconds,
            **({"error": self.error} if self.error else {}),
        }


def tune(
    cls: type[Method],
    tasks: Sequence[FitTask],
    grid: Mapping[str, Sequence[Any]] | None,
    *,
    device: str = "auto",
    budget: float | None = None,
) -> list[TuneResult]:
    """Grid search per task: each grid point is fitted on the task's training points (one
    ``fit_many`` call for all tasks and points) and forecasts the validation points after
    them from the whole training series; the lowest sMAPE (0-200) wins. A task whose grid
    points all fail or diverge keeps its given hyperparameters (``error`` says why)."""
    points = grid_points(grid)
    expanded = [
        FitTask(
            train=t.train,
            val=t.val,
            seed=t.seed,
            hyperparameters={**t.hyperparameters, **p},
            run=None,
            name=f"{t.name} {p}",
        )
        for t in tasks
        for p in points
    ]
    start = time.perf_counter()
    outcomes: list[FitOutcome] = cls.fit_many(expanded, device=device, budget=budget)
    results = []
    for i, task in enumerate(tasks):
        if task.val is None:
            raise ValueError(f"{task.name}: tuning needs validation points (training.val_length)")
        truth = np.asarray(task.val["x"].values[:1], dtype=np.float64)
        scores, errors = [], []
        for j, point in enumerate(points):
            outcome = outcomes[i * len(points) + j]
            if outcome.ok:
                try:
                    value = _score(outcome.model, task.train, truth)
                except Exception as exc:  # noqa: BLE001 - a failing grid point is skipped
                    value, err = math.nan, f"{type(exc).__name__}: {exc}"
                    errors.append(err)
            else:
                value = math.nan
                errors.append(outcome.error or "failed")
            scores.append({"hyperparameters": point, "score": None if math.isnan(value) else value})
        finite = [(s["score"], k) for k, s in enumerate(scores) if s["score"] is not None]
        if finite:
            results.append(TuneResult(points[min(finite)[1]], scores))
        else:
            why = "; ".join(sorted(set(errors))) or "every forecast diverged"
            results.append(TuneResult({}, scores, error=f"no grid point scored: {why}"[:500]))
    share = (time.perf_counter() - start) / max(len(tasks), 1)  # fits and forecasts
    for result in results:
        result.seconds = share
    return results


def data_limited_sweep(
    cls: type[Method],
    ds_list: Sequence[xr.Dataset],
    tasks: Sequence[FitTask],
    lengths: Sequence[int],
    train_length: int,
    horizon: int,
    *,
    device: str = "auto",
    budget: float | None = None,
) -> list[list[dict[str, Any]]]:
    """For each task (with its tuned hyperparameters) and length L: fit on the last L of the
    first ``train_length`` points of the test trajectory and score the sMAPE (0-200) of the
    ``horizon`` points after them. One ``fit_many`` call per length."""
    rows: list[list[dict[str, Any]]] = [[] for _ in tasks]
    for length in lengths:
        sub, where = [], []
        for i, (ds, task) in enumerate(zip(ds_list, tasks, strict=True)):
            try:
                data = splits.refit_data(ds, train_length, start=train_length - length)
            except ValueError as exc:
                rows[i].append({"train_length": length, "smape": None, "error": str(exc)})
                continue
            sub.append(
                FitTask(data, task.val, task.seed, dict(task.hyperparameters), None, task.name)
            )
            where.append(i)
        start = time.perf_counter()
        outcomes = cls.fit_many(sub, device=device, budget=budget)
        share = (time.perf_counter() - start) / max(len(sub), 1)
        for i, task, outcome in zip(where, sub, outcomes, strict=True):
            truth = splits.refit_continuation(ds_list[i], train_length, horizon)
            row: dict[str, Any] = {"train_length": length, "fit_seconds": share}
            if not outcome.ok:
                row.update(smape=None, error=outcome.error)
            else:
                try:
                    value = _score(outcome.model, task.train, truth)
                    row["smape"] = None if math.isnan(value) else value
                    if math.isnan(value):
                        row["status"] = "diverged"
                except Exception as exc:  # noqa: BLE001 - recorded, the sweep goes on
                    row.update(smape=None, error=f"{type(exc).__name__}: {exc}")
            rows[i].append(row)
    return rows
