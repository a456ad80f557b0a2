"""The method contract: every forecaster / reconstruction model is one class in one file.

A method declares its hyperparameters with defaults, and implements

* ``fit(train, val, ctx)``: learn from the training split (an xarray Dataset in the
  :mod:`dsrbench.stores` schema: ``x(trajectory, time, dim)``, ``train_mean``,
  ``train_std``, system metadata in the attributes) under the runner's
  :class:`FitContext`: ``ctx.device``, ``ctx.seed``, ``ctx.budget`` (a wall-clock limit in
  seconds) and ``ctx.run`` (a :class:`RunFiles` naming where a trained method keeps
  checkpoints and its epoch log; ``None``: nowhere);
* ``forecast(context, horizon)``: ``(B, Tc, D) -> (B, horizon, D)``, the states after
  each context;
* ``generate(context, steps)``: free runs, ``(B, steps, D)`` (default: ``forecast``);
* optionally ``step(x)`` and ``jacobian(x)``, so the evaluation can compute the model's
  Lyapunov exponents by the QR method;
* ``save(directory)`` / ``load(directory)``.

Most methods work in coordinates standardised by the training mean and scale: ``fit`` calls
:meth:`Method.fit_scale` (which keeps ``mean_`` and ``std_``), and :meth:`Method.to_model` /
:meth:`Method.from_model` map observations to model coordinates and back. A step-map method
(a learned map on an internal state) writes ``fit`` and ``step`` only: the default
:meth:`Method.forecast` reads the context with :meth:`Method.initial_state` (default: the
last context point in model coordinates), repeats ``step`` and reads the observations out
of each state with :meth:`Method.observe` (default: the first D units).

The contract follows benchopt's one-solver-per-file layout.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import json
import traceback
import warnings
from abc import ABC
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import xarray as xr

from dsrbench.atomic import environment_error
from dsrbench.faults import injected_failure
from dsrbench.splits import require_regular


class HyperparameterError(ValueError):
    """An unknown or invalid hyperparameter; the message lists the valid names."""


class MissingWeightsError(FileNotFoundError):
    """Pretrained weights a method needs are not on this machine; the message says which
    weights to place where. A job stops on it (:func:`dsrbench.pipeline.records.is_fault`)
    instead of recording a failure, which a rerun with the weights in place would keep."""


#: the label of predictions (and their metric rows' ``reason``) made with randomly
#: initialised weights of a pretrained method: a smoke test, never a result; the
#: leaderboard and the index leave such rows out
RANDOM_SMOKE = "weights=random-smoke"


@dataclass(frozen=True)
class RunFiles:
    """Where a training job keeps its files (both optional).

    ``checkpoint_dir``: checkpoints to resume a killed job from; ``epoch_log``: a CSV file
    with one line per epoch (loss, learning rate, teacher-forcing alpha, validation score,
    seconds); ``snapshot_dir`` and ``snapshot_steps``: the weights after those optimiser
    steps (:func:`dsrbench.layout.snapshot_file`; the latent RNNs write them).
    """

    checkpoint_dir: Path | None = None
    epoch_log: Path | None = None
    snapshot_dir: Path | None = None
    snapshot_steps: tuple[int, ...] = ()


@dataclass(frozen=True)
class FitContext:
    """The runner's side of one fit, beside the data and the hyperparameters: where it runs
    (``device``: ``"auto"``, ``"cpu"``, ``"cuda"``), its ``seed``, its wall-clock cap
    (``budget`` seconds, ``None``: none), its files (``run``: checkpoints and epoch logs;
    ``None``: none) and a ``name`` for logs (e.g. ``"Lorenz/seed0"``)."""

    device: str = "auto"
    seed: int = 0
    budget: float | None = None
    run: RunFiles | None = None
    name: str = ""


#: the context of a fit called without one (interactive use, tests)
DEFAULT_CONTEXT = FitContext()


@dataclass(frozen=True)
class FitTask:
    """One model for :meth:`Method.fit_many`: its data, seed, hyperparameters and files.

    ``name`` labels it in logs and errors (e.g. ``"Lorenz/seed0"``)."""

    train: xr.Dataset
    val: xr.Dataset | None = None
    seed: int = 0
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    run: RunFiles | None = None
    name: str = ""

    def context(self, device: str = "auto", budget: float | None = None) -> FitContext:
        """The :class:`FitContext` of this task's fit under a chunk job's device and budget."""
        return FitContext(device, self.seed, budget, self.run, self.name)


@dataclass
class FitOutcome:
    """What :meth:`Method.fit_many` made of one :class:`FitTask`: the fitted model, or the
    error (``"Type: message"``) and its traceback when that fit failed."""

    model: Method | None
    error: str | None = None
    traceback: str | None = None

    @property
    def ok(self) -> bool:
        return self.model is not None

    @classmethod
    def failed(cls, exc: BaseException) -> FitOutcome:
        """The outcome of a fit that raised ``exc`` (call it in the ``except`` block). A
        full disk or an exceeded file size limit (e.g. writing a checkpoint) is re-raised:
        it is the machine's fault, not the model's (:func:`dsrbench.atomic.environment_error`)."""
        if environment_error(exc) is not None:
            raise exc
        return cls(None, f"{type(exc).__name__}: {exc}", traceback.format_exc())


class Method(ABC):
    """Base class of all methods."""

    #: registry name (the file name under ``dsrbench/methods``)
    name: ClassVar[str]
    #: hyperparameter names and defaults
    hyperparameters: ClassVar[dict[str, Any]] = {}
    #: small settings for the test suite and the laptop default run (a subset of the above)
    quick_hyperparameters: ClassVar[dict[str, Any]] = {}
    #: the hyperparameter grid a tuned run searches (``training.tune``; a config's
    #: ``training.grids.<method>`` replaces it); empty: nothing to tune
    grid: ClassVar[dict[str, list[Any]]] = {}
    #: the paper (or software) the method comes from
    citation: ClassVar[str] = ""
    #: True for torch methods (trained on a GPU when one is present)
    uses_torch: ClassVar[bool] = False
    #: True when a method needs training data beyond the context (all but persistence and
    #: context_parroting): it
    #: predicts only with a model its train job saved (prediction never trains)
    needs_fit: ClassVar[bool] = True
    #: the data the method was pretrained on before it sees any dsrbench data: ``"none"``,
    #: ``"dysts"`` (the test systems themselves: its forecasts of them are not zero-shot) or
    #: ``"unknown"`` (:data:`dsrbench.methods.PRETRAINED_ON`)
    pretrained_on: ClassVar[str] = "none"
    #: True when the method's protocol fits it on each test context, on that context alone
    #: (a config sets the same for every trained method with ``training.refit_on:
    #: context``; :func:`dsrbench.pipeline.plan.fits_on_context`)
    fit_on_context: ClassVar[bool] = False
    #: its name on the report pages ("": the registry name)
    label: ClassVar[str] = ""
    #: its colour on the report pages, ``"#rrggbb"`` ("": one picked from its name)
    color: ClassVar[str] = ""
    #: True when the method trains on irregularly sampled data (training points dropped by
    #: the dataset setting ``missing_fraction``, NaN in ``x``); the others refuse such data
    #: (:meth:`check_sampling`)
    irregular_sampling: ClassVar[bool] = False
    #: True when the class overrides :meth:`jacobian` (derived, never set by hand): the
    #: evaluation then computes the model's Lyapunov exponents by the QR method
    has_jacobian: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.has_jacobian = cls.jacobian is not Method.jacobian
        own = cls.__dict__.get("fit")
        if own is not None and not getattr(own, "_fit_entry", False):
            cls.fit = _fit_entry(own, cls.__name__)  # type: ignore[method-assign]

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
        self, train: xr.Dataset, val: xr.Dataset | None = None, ctx: FitContext = DEFAULT_CONTEXT
    ) -> Self:
        """Learn from the training split (``val``: model selection, where a method uses it)
        under the runner's :class:`FitContext`; the default keeps nothing.

        The one fit entry point: a method defines ``fit(self, train, val, ctx)``, and callers
        may also name the context's fields, ``model.fit(train, val, seed=1, device="cpu")``
        (:func:`_fit_entry` wraps every subclass's ``fit``)."""
        return self

    @classmethod
    def fit_many(
        cls,
        tasks: Sequence[FitTask],
        *,
        device: str = "auto",
        budget: float | None = None,
    ) -> list[FitOutcome]:
        """Fit one model per task (systems and seeds of a chunk job), in task order.

        The default fits them one after another in this process; the torch methods override
        it to train the models together. A task whose fit raises gets an outcome with the
        error and the others go on. ``budget``: the wall-clock cap of each model."""
        outcomes = []
        for task in tasks:
            try:
                model = cls(**dict(task.hyperparameters))
                model.fit(task.train, task.val, task.context(device, budget))
                injected_failure([task.name])
                outcomes.append(FitOutcome(model))
            except Exception as exc:  # one failing model does not stop the others
                outcomes.append(FitOutcome.failed(exc))
        return outcomes

    @classmethod
    def check_sampling(cls, train: xr.Dataset) -> None:
        """Refuse training data with dropped points unless the method accepts irregular
        sampling (:class:`dsrbench.splits.IrregularSamplingError`, naming the method and
        the dataset option)."""
        if not cls.irregular_sampling:
            require_regular(cls.name, train)

    # -- standardised coordinates ------------------------------------------------------------
    #: the training mean and scale (set by :meth:`fit_scale`; list ``"mean", "std"`` in
    #: :attr:`fitted_arrays` to save them)
    mean_: np.ndarray
    std_: np.ndarray

    def fit_scale(
        self, train: xr.Dataset, val: xr.Dataset | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Keep the training mean and scale (``mean_``, ``std_``; see :func:`standardize`)
        and return the standardised ``(train (N, T, D), val (N', T, D) or None)``; training
        data with dropped points are refused unless the method accepts them
        (:meth:`check_sampling`)."""
        self.check_sampling(train)
        x, v, self.mean_, self.std_ = training_arrays(train, val)
        return x, v

    def to_model(self, x: np.ndarray) -> np.ndarray:
        """Observations ``(..., D)`` in model coordinates: ``(x - mean) / std``."""
        return (np.asarray(x, dtype=np.float64) - self.mean_) / self.std_

    def from_model(self, z: np.ndarray) -> np.ndarray:
        """Model coordinates ``(..., D)`` back to observations: ``z std + mean``."""
        return z * self.std_ + self.mean_

    # -- predictions --------------------------------------------------------------------------
    def forecast(self, context: np.ndarray, horizon: int) -> np.ndarray:
        """The ``horizon`` states following each context, shape (B, horizon, D).

        Default (step-map methods): ``initial_state``, then ``horizon`` steps of ``step``,
        each read out by ``observe``, mapped back to observations. Non-finite values of a
        diverging run are kept (no floating-point warnings)."""
        with np.errstate(all="ignore"):
            return self.from_model(self.rollout(self.initial_state(context), horizon))

    def generate(self, context: np.ndarray, steps: int) -> np.ndarray:
        """A free run of ``steps`` states after each context (default: ``forecast``)."""
        return self.forecast(context, steps)

    def rollout(self, state: np.ndarray, steps: int) -> np.ndarray:
        """The observations (model coordinates) ``(B, steps, D)`` of ``steps`` steps of the
        map after internal states ``state (B, M)``."""
        state = np.asarray(state, dtype=np.float64)
        out = np.empty((state.shape[0], steps, self.observe(state).shape[1]))
        with np.errstate(all="ignore"):
            for k in range(steps):
                state = self.step(state)
                out[:, k] = self.observe(state)
        return out

    def step(self, state: np.ndarray) -> np.ndarray:
        """One step of the learned map on internal states ``(B, M)`` (optional)."""
        raise NotImplementedError(f"method {self.name!r} has no step map")

    def jacobian(self, state: np.ndarray) -> np.ndarray:
        """Jacobians ``(B, M, M)`` of :meth:`step` at ``state`` (optional)."""
        raise NotImplementedError(f"method {self.name!r} has no Jacobian")

    def jvp(self, state: np.ndarray, tangents: np.ndarray) -> np.ndarray:
        """The Jacobian of :meth:`step` at ``state (B, M)`` applied to ``tangents
        (B, M, k)``: ``(B, M, k)``. Default: ``jacobian(state) @ tangents``; a method with a
        large state (a reservoir) overrides it with a matrix-free product, which the QR
        Lyapunov exponent uses."""
        return np.einsum("bij,bjk->bik", self.jacobian(state), tangents)

    def initial_state(self, context: np.ndarray) -> np.ndarray:
        """Internal states ``(B, M)`` after reading ``context`` (for ``step``). Default: the
        last context point in model coordinates (M = D)."""
        return self.to_model(check_context(context))[:, -1]

    def observe(self, state: np.ndarray) -> np.ndarray:
        """The observations (model coordinates) ``(B, D)`` held by internal states
        ``(B, M)``. Default: the first D units (D = the size of the training mean)."""
        return state[:, : self.mean_.size]

    #: names of the fitted arrays (attributes ``name + "_"``) that :meth:`save` stores in
    #: ``arrays.npz`` and :meth:`load` restores; weights in other forms need an override
    fitted_arrays: ClassVar[tuple[str, ...]] = ()

    def fitted(self) -> dict[str, np.ndarray]:
        """The arrays :meth:`save` stores: the :attr:`fitted_arrays` by name."""
        return {n: getattr(self, n + "_") for n in self.fitted_arrays}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Set the arrays of :meth:`fitted` back (used by :meth:`load`)."""
        for name in self.fitted_arrays:
            setattr(self, name + "_", arrays[name])

    def save(self, directory: str | Path) -> None:
        """Store the hyperparameters and the :meth:`fitted` arrays."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "hyperparameters.json").write_text(json.dumps(self.params, sort_keys=True))
        if self.fitted_arrays:
            save_arrays(directory, **self.fitted())

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        """Restore a method saved by :meth:`save`."""
        params = json.loads((Path(directory) / "hyperparameters.json").read_text())
        method = cls(**params)
        if cls.fitted_arrays:
            method.restore(load_arrays(directory))
        return method


def save_arrays(directory: str | Path, **arrays: np.ndarray) -> None:
    """Store fitted arrays beside the hyperparameters (``arrays.npz``, exact float64)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    np.savez(directory / "arrays.npz", **{k: np.asarray(v) for k, v in arrays.items()})


def load_arrays(directory: str | Path) -> dict[str, np.ndarray]:
    """The arrays stored by :func:`save_arrays`."""
    with np.load(Path(directory) / "arrays.npz", allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def check_context(context: np.ndarray) -> np.ndarray:
    """A context as a float64 (B, Tc, D) array, with a clear error otherwise."""
    arr = np.asarray(context, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1] < 1:
        raise ValueError(f"context must have shape (B, Tc, D) with Tc >= 1, got {arr.shape}")
    return arr


def standardize(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x_std, mean, std)``: the observations of ``ds`` standardised by its training
    mean and standard deviation (constant coordinates keep a scale of 1)."""
    mean = np.asarray(ds["train_mean"].values, dtype=np.float64)
    std = np.asarray(ds["train_std"].values, dtype=np.float64)
    std = np.where(std > 0, std, 1.0)
    return (np.asarray(ds["x"].values, dtype=np.float64) - mean) / std, mean, std


def training_arrays(
    train: xr.Dataset, val: xr.Dataset | None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
    """Standardised ``(train (N, T, D), val (N', T, D) or None, mean, std)``; the
    validation split uses the training mean and scale."""
    x, mean, std = standardize(train)
    v = None
    if val is not None and val.sizes.get("trajectory", 0) > 0:
        v = (np.asarray(val["x"].values, dtype=np.float64) - mean) / std
    return x, v, mean, std


def _fit_entry(fit: Any, owner: str) -> Any:
    """A method's ``fit`` as the one entry point: ``fit(train, val=None, ctx=None,
    **fields)``, where ``fields`` (device, seed, budget, run, name) replace those of ``ctx``.
    A ``fit`` still written with the keywords of dsrbench before :class:`FitContext`
    (``*, device, seed, budget, run``; e.g. a method of another package) is called with them,
    and a :class:`DeprecationWarning` says how to move on."""
    legacy = "device" in inspect.signature(fit).parameters
    if legacy:
        warnings.warn(
            f"{owner}.fit(train, val, *, device, seed, budget, run) is deprecated: define "
            "fit(self, train, val=None, ctx: FitContext = DEFAULT_CONTEXT) and read ctx.device, "
            "ctx.seed, ctx.budget and ctx.run (dsrbench.methods.base.FitContext)",
            DeprecationWarning,
            stacklevel=3,
        )

    @functools.wraps(fit)
    def entry(
        self: Method,
        train: xr.Dataset,
        val: xr.Dataset | None = None,
        ctx: FitContext | None = None,
        **fields: Any,
    ) -> Method:
        ctx = replace(ctx or DEFAULT_CONTEXT, **fields)
        if legacy:
            return fit(
                self, train, val, device=ctx.device, seed=ctx.seed, budget=ctx.budget, run=ctx.run
            )
        return fit(self, train, val, ctx)

    entry._fit_entry = True  # type: ignore[attr-defined]
    return entry


# the base class's own fit (methods that keep nothing: persistence, context_parroting) too
Method.fit = _fit_entry(Method.fit, "Method")  # type: ignore[method-assign]
