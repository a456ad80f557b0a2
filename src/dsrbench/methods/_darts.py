"""The darts forecasters of Gilpin 2023 behind the dsrbench method contract.

Gilpin, "Model scale versus domain knowledge in statistical forecasting of chaotic systems",
Phys. Rev. Research 5, 043252 (2023), benchmarks 22 forecasters of darts (Herzen et al.,
"Darts: user-friendly modern machine learning for time series", JMLR 23(124), 2022). Each
is one method file (``lstm.py``, ``nbeats.py``, ...) holding a :class:`DartsMethod`
subclass of one family class below: the darts class, its hyperparameters (darts' defaults
unless the paper set them), the paper's grid and the citation. The family class holds how
its models are built, fitted, forecast and loaded, as darts' own class tree does
(``TorchForecastingModel``, ``RegressionModel``, ``LocalForecastingModel``). Four families:

* :class:`TorchDarts` (``torch``): darts' torch models (NBEATS, NHiTS, Transformer, TCN,
  LSTM, ...): global models fitted on the training trajectories, which forecast after any
  context from its last ``input_chunk_length`` points; float32, on a GPU when one is
  present;
* :class:`LagRegressionDarts` (``lags``): the regression models on lagged values (random
  forest, XGBoost, linear), also global;
* :class:`LocalDarts` (``local``): models fitted on one series that forecast its
  continuation (Kalman);
* :class:`PerCoordinateDarts` (``per_coordinate``): univariate classical models fitted on
  each coordinate separately through darts' ``MultivariateModel`` (ARIMA, exponential
  smoothing, Theta, FFT, the naive forecasters, TBATS), as the paper's classical
  benchmarks do.

Local and per-coordinate models are fitted on the context of each forecast (Gilpin 2023
refits every model on the first 1000 points of the test trajectory and forecasts their
continuation): their saved model is its hyperparameters. The global and local families
work on series standardised by the training mean and scale (:meth:`Method.fit_scale`;
forecasts are mapped back); the per-coordinate classical models see the raw coordinates, as
in the paper (FourTheta normalises by the series mean, which standardisation makes zero).

darts, Lightning and statsmodels warn and log freely; every call into them runs inside
:func:`quiet`, which scopes the filters with :func:`warnings.catch_warnings` and restores
the loggers' levels afterwards (nothing process-wide is left behind).

Models save and load through darts' ``save`` / ``load`` with darts' safe loading (never
``trusted=True``): darts' unpickler admits darts' own classes and the libraries it trusts,
and :data:`SAFE_GLOBALS` names what dsrbench adds to that allow-list (nothing today:
the contract test, ``tests/unit/test_methods_contract.py``, saves and loads every family with
safe loading on).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import xarray as xr

from dsrbench.methods.base import DEFAULT_CONTEXT, FitContext, Method, check_context

__all__ = [
    "SAFE_GLOBALS",
    "DartsMethod",
    "GlobalDarts",
    "LagRegressionDarts",
    "LocalDarts",
    "PerCoordinateDarts",
    "TorchDarts",
    "quiet",
    "season_mode",
]

#: classes dsrbench adds to darts' safe-loading allow-list (darts.utils.serialization)
SAFE_GLOBALS: tuple[type, ...] = ()

#: the file a fitted global darts model is saved in (torch models add ``.ckpt`` beside it)
MODEL_FILE = "darts_model.pt"

#: the loggers that :func:`quiet` raises to ERROR
CHATTY_LOGGERS = ("darts", "lightning", "lightning.pytorch", "pytorch_lightning", "cmdstanpy")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence darts', Lightning's and statsmodels' chatter (warnings and info logs) inside
    the block only: the warning filters are scoped by :func:`warnings.catch_warnings` and
    the loggers get their levels back on exit."""
    os.environ.setdefault("PL_DISABLE_FORK", "1")
    loggers = [logging.getLogger(name) for name in CHATTY_LOGGERS]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        for module in ("statsmodels", "darts", "lightning", "pytorch_lightning"):
            warnings.filterwarnings("ignore", module=module)
        warnings.filterwarnings("ignore", category=UserWarning)
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def season_mode(value: str | None) -> Any:
    """darts' ``SeasonalityMode`` for ``"additive"``, ``"multiplicative"`` or ``"none"``."""
    from darts.utils.utils import SeasonalityMode

    names = {"additive": "ADDITIVE", "multiplicative": "MULTIPLICATIVE", "none": "NONE"}
    key = "none" if value is None else str(value).lower()
    if key not in names:
        raise ValueError(f"season mode must be one of {sorted(names)}, got {value!r}")
    return getattr(SeasonalityMode, names[key])


def _series(x: np.ndarray, dtype: Any = np.float64) -> Any:
    from darts import TimeSeries

    return TimeSeries.from_values(np.ascontiguousarray(x, dtype=dtype))


class DartsMethod(Method):
    """A darts forecaster (see the module doc). A method derives from one of the family
    classes below and sets the class attributes; the family does the rest."""

    #: the darts class (an attribute of ``darts.models``)
    darts_class: ClassVar[str]
    #: the family's name (``dsrbench methods`` prints it), set by each family class
    family: ClassVar[str]
    #: the hyperparameter grid of Gilpin 2023 (``find_hyperparameters_*.py``)
    grid: ClassVar[dict[str, list[Any]]] = {}
    #: the paper the model comes from
    citation: ClassVar[str] = ""
    #: a reference forecaster (naive drift / mean / seasonal), like persistence
    reference: ClassVar[bool] = False
    #: hyperparameters that darts takes as its SeasonalityMode enum (given as strings)
    season_parameters: ClassVar[tuple[str, ...]] = ()

    fitted_arrays = ("mean", "std")

    # -- construction --------------------------------------------------------------------
    def darts_kwargs(self) -> dict[str, Any]:
        """The darts constructor's arguments from the hyperparameters (override to map
        names); the :attr:`season_parameters` become darts' enum."""
        kwargs = dict(self.params)
        for name in self.season_parameters:
            kwargs[name] = season_mode(kwargs[name])
        return kwargs

    @classmethod
    def darts_model_class(cls) -> type:
        """The darts class that :meth:`build` instantiates (``darts.models.<darts_class>``;
        override to substitute a subclass)."""
        import darts.models as dm

        return getattr(dm, cls.darts_class)

    def build(self, *, seed: int = 0, device: str = "auto", budget: float | None = None) -> Any:
        """A fresh darts model with these hyperparameters."""
        model_class = self.darts_model_class()  # imported first: Lightning sets its loggers
        with quiet():
            return self._construct(model_class, self.darts_kwargs(), seed, device, budget)

    def _construct(
        self,
        model_class: type,
        kwargs: dict[str, Any],
        seed: int,
        device: str,
        budget: float | None,
    ) -> Any:
        """The family's call of the darts constructor."""
        return model_class(**kwargs)

    @property
    def min_context(self) -> int:
        """The fewest context points a forecast needs."""
        p = self.params
        return int(p.get("input_chunk_length") or p.get("lags") or 1)

    # -- predictions ---------------------------------------------------------------------
    def forecast(self, context: np.ndarray, horizon: int) -> np.ndarray:
        """The ``horizon`` states after each context ``(B, Tc, D)``."""
        ctx = check_context(context)
        if ctx.shape[1] < self.min_context:
            raise ValueError(
                f"{self.name}: a context of {ctx.shape[1]} points is shorter than the "
                f"{self.min_context} the model reads; lengthen evaluation.context_length"
            )
        z = self.to_model(ctx)
        with quiet(), np.errstate(all="ignore"):
            out = self._forecast(z, int(horizon))
        return self.from_model(out)

    def _forecast(self, z: np.ndarray, horizon: int) -> np.ndarray:
        """The family's forecasts ``(B, horizon, D)`` after the standardised contexts ``z``."""
        raise NotImplementedError

    # -- save / load ---------------------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        """Hyperparameters and scale; a global family's darts model through darts' save."""
        super().save(directory)
        if getattr(self, "model_", None) is not None:
            with quiet():
                self.model_.save(str(Path(directory) / MODEL_FILE))

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        """Restore a saved model; darts' safe loading stays on (never ``trusted=True``)."""
        method = super().load(directory)
        path = Path(directory) / MODEL_FILE
        if path.exists():
            from darts.utils.serialization import safe_globals

            loader = cls.darts_model_class()
            allowed = safe_globals(list(SAFE_GLOBALS)) if SAFE_GLOBALS else contextlib.nullcontext()
            with quiet(), allowed:
                method.model_ = cls._load_model(loader, path)
        return method

    @classmethod
    def _load_model(cls, loader: type, path: Path) -> Any:
        """The family's call of darts' ``load``."""
        return loader.load(str(path))


class GlobalDarts(DartsMethod):
    """Global models: fitted once on every training trajectory, they forecast after any
    context from its last points (standardised by the training scale)."""

    #: the dtype of the series darts sees
    series_dtype: ClassVar[type] = np.float64

    def fit(
        self,
        train: xr.Dataset,
        val: xr.Dataset | None = None,
        ctx: FitContext = DEFAULT_CONTEXT,
    ) -> Self:
        """Fit the darts model on every training trajectory."""
        x, _ = self.fit_scale(train, val)
        self.seed_ = int(ctx.seed)
        self._seed_global_rngs(self.seed_)
        series = [_series(traj, self.series_dtype) for traj in x]
        model = self.build(seed=ctx.seed, device=ctx.device, budget=ctx.budget)
        with quiet():
            self._fit_model(model, series if len(series) > 1 else series[0])
        self.model_ = model
        return self

    def _seed_global_rngs(self, seed: int) -> None:
        """Seed the generators the fit draws from outside darts' ``random_state``."""

    def _fit_model(self, model: Any, data: Any) -> None:
        model.fit(data)

    def _forecast(self, z: np.ndarray, horizon: int) -> np.ndarray:
        series = [_series(c, self.series_dtype) for c in z]
        with self._predicting():
            preds = self._predict(series, horizon)
        return np.stack([np.asarray(p.values(), dtype=np.float64) for p in preds])

    def _predict(self, series: list[Any], horizon: int) -> list[Any]:
        return self.model_.predict(n=horizon, series=series)

    @contextlib.contextmanager
    def _predicting(self) -> Iterator[None]:
        """Entered around darts' ``predict`` (a method may swap in a faster predictor)."""
        yield


class TorchDarts(GlobalDarts):
    """darts' torch models: float32, trained by Lightning, on a GPU when one is present; a
    wall-clock budget stops them through Lightning's ``Timer``."""

    family = "torch"
    uses_torch = True
    series_dtype = np.float32

    def _construct(
        self,
        model_class: type,
        kwargs: dict[str, Any],
        seed: int,
        device: str,
        budget: float | None,
    ) -> Any:
        from dsrbench.methods.trainer import resolve_device

        dev = resolve_device(device)
        callbacks = []
        if budget is not None and np.isfinite(budget):
            from pytorch_lightning.callbacks import Timer

            callbacks.append(Timer(duration=_dt.timedelta(seconds=float(budget))))
        return model_class(
            **kwargs,
            random_state=int(seed),
            pl_trainer_kwargs={
                "accelerator": "gpu" if dev.type == "cuda" else "cpu",
                "devices": 1,
                "enable_progress_bar": False,
                "enable_model_summary": False,
                "logger": False,
                "enable_checkpointing": False,
                "callbacks": callbacks,
            },
            save_checkpoints=False,
        )

    def _seed_global_rngs(self, seed: int) -> None:
        import torch

        torch.manual_seed(seed)

    def _fit_model(self, model: Any, data: Any) -> None:
        model.fit(data, verbose=False)

    def _predict(self, series: list[Any], horizon: int) -> list[Any]:
        return self.model_.predict(n=horizon, series=series, verbose=False)

    @classmethod
    def _load_model(cls, loader: type, path: Path) -> Any:
        return loader.load(
            str(path),
            map_location="cpu",
            pl_trainer_kwargs={"accelerator": "cpu", "enable_progress_bar": False, "logger": False},
        )


class LagRegressionDarts(GlobalDarts):
    """darts' regression models on lagged values (scikit-learn, XGBoost, least squares)."""

    family = "lags"
    #: the regressor takes darts' ``random_state`` (the random forest and XGBoost)
    seeded: ClassVar[bool] = False

    def _construct(
        self,
        model_class: type,
        kwargs: dict[str, Any],
        seed: int,
        device: str,
        budget: float | None,
    ) -> Any:
        if self.seeded:
            return model_class(**kwargs, random_state=int(seed))
        return model_class(**kwargs)


class LocalDarts(DartsMethod):
    """Local models: fitted on each context and forecasting its continuation. ``fit`` fits
    the first training series (timed as the fit, as in Gilpin 2023); a forecast from that
    same series reuses it, any other context refits. The saved model is the
    hyperparameters and scale."""

    family = "local"
    #: the model sees coordinates standardised by the training scale (else the raw ones)
    standardised: ClassVar[bool] = True

    def fit(
        self,
        train: xr.Dataset,
        val: xr.Dataset | None = None,
        ctx: FitContext = DEFAULT_CONTEXT,
    ) -> Self:
        """Keep the scale and fit the first training series."""
        self.fit_scale(train, val)
        if not self.standardised:
            self.mean_, self.std_ = np.zeros_like(self.mean_), np.ones_like(self.std_)
        self.seed_ = int(ctx.seed)
        z = self.to_model(np.asarray(train["x"].values[0], dtype=np.float64))
        self.local_ = (self._key(z), self._local_fit(z))
        return self

    @staticmethod
    def _key(z: np.ndarray) -> str:
        return hashlib.sha256(np.ascontiguousarray(z, dtype=np.float64).tobytes()).hexdigest()

    def _local_fit(self, z: np.ndarray) -> Any:
        model = self.build(seed=getattr(self, "seed_", 0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(_series(z))
        return model

    def _forecast(self, z: np.ndarray, horizon: int) -> np.ndarray:
        return np.stack([self._local_forecast(c, horizon) for c in z])

    def _local_forecast(self, z: np.ndarray, horizon: int) -> np.ndarray:
        key, fitted = getattr(self, "local_", (None, None))
        model = fitted if key == self._key(z) else self._local_fit(z)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pred = model.predict(horizon)
        return np.asarray(pred.values(), dtype=np.float64)


class PerCoordinateDarts(LocalDarts):
    """Univariate classical models fitted on each coordinate separately through darts'
    ``MultivariateModel``, on the raw coordinates as the paper's classical benchmarks
    (FourTheta normalises by the series mean, which standardisation would make zero)."""

    family = "per_coordinate"

    standardised = False

    def _construct(
        self,
        model_class: type,
        kwargs: dict[str, Any],
        seed: int,
        device: str,
        budget: float | None,
    ) -> Any:
        import darts.models as dm

        return dm.MultivariateModel(model_class(**kwargs))
