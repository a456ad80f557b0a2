"""The method contract: every forecaster / reconstruction model is one class in one file.

A method declares its hyperparameters with defaults, and implements

* ``fit(train, val, *, device, seed, budget)``: learn from the training split
  (an xarray Dataset in the :mod:`dsrbench.data` schema: ``x(trajectory, time, dim)``,
  ``train_mean``, ``train_std``, system metadata in the attributes);
* ``forecast(context, horizon)``: ``(B, Tc, D) -> (B, horizon, D)``, the states after
  each context;
* ``generate(context, steps)``: free runs, ``(B, steps, D)`` (default: ``forecast``);
* optionally ``step(x)`` and ``jacobian(x)``, so the evaluation can compute the model's
  Lyapunov exponents by the QR method;
* ``save(directory)`` / ``load(directory)``.

The contract follows benchopt's one-solver-per-file layout.
"""

from __future__ import annotations

import difflib
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import xarray as xr


class HyperparameterError(ValueError):
    """An unknown or invalid hyperparameter; the message lists the valid names."""


class Method(ABC):
    """Base class of all methods."""

    #: registry name (the file name under ``dsrbench/methods``)
    name: ClassVar[str]
    #: hyperparameter names and defaults
    hyperparameters: ClassVar[dict[str, Any]] = {}
    #: True when a method needs training data beyond the context (all but persistence)
    needs_fit: ClassVar[bool] = True

    def __init__(self, **hyperparameters: Any) -> None:
        unknown = sorted(set(hyperparameters) - set(self.hyperparameters))
        if unknown:
            hints = {
                u: difflib.get_close_matches(u, list(self.hyperparameters), n=1) for u in unknown
            }
            detail = ", ".join(
                f"{u!r}" + (f" (did you mean {hints[u][0]!r}?)" if hints[u] else "")
                for u in unknown
            )
            valid = ", ".join(sorted(self.hyperparameters)) or "none"
            raise HyperparameterError(
                f"unknown hyperparameter {detail} for method {self.name!r}; valid: {valid}"
            )
        self.params: dict[str, Any] = {**self.hyperparameters, **hyperparameters}

    def fit(
        self,
        train: xr.Dataset,
        val: xr.Dataset | None = None,
        *,
        device: str = "auto",
        seed: int = 0,
        budget: float | None = None,
    ) -> Self:
        """Learn from the training split; the default keeps nothing."""
        return self

    @abstractmethod
    def forecast(self, context: np.ndarray, horizon: int) -> np.ndarray:
        """The ``horizon`` states following each context, shape (B, horizon, D)."""

    def generate(self, context: np.ndarray, steps: int) -> np.ndarray:
        """A free run of ``steps`` states after each context (default: ``forecast``)."""
        return self.forecast(context, steps)

    def save(self, directory: str | Path) -> None:
        """Store hyperparameters (subclasses add their weights)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "hyperparameters.json").write_text(json.dumps(self.params, sort_keys=True))

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        """Restore a method saved by :meth:`save`."""
        params = json.loads((Path(directory) / "hyperparameters.json").read_text())
        return cls(**params)


def check_context(context: np.ndarray) -> np.ndarray:
    """A context as a float64 (B, Tc, D) array, with a clear error otherwise."""
    arr = np.asarray(context, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1] < 1:
        raise ValueError(f"context must have shape (B, Tc, D) with Tc >= 1, got {arr.shape}")
    return arr
