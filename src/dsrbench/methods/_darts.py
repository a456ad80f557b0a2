"""The darts forecasters of Gilpin 2023 behind the dsrbench method contract.

Gilpin, "Model scale versus domain knowledge in statistical forecasting of chaotic systems",
Phys. Rev. Research 5, 043252 (2023), benchmarks 22 forecasters of darts (Herzen et al.,
"Darts: user-friendly modern machine learning for time series", JMLR 23(124), 2022). Each
is one method file (``lstm.py``, ``nbeats.py``, ...) holding a :class:`DartsMethod`
subclass: the darts class, its hyperparameters (darts' defaults unless the paper set them),
the paper's grid and the citation. Four families:

* ``torch``: darts' torch models (NBEATS, NHiTS, Transformer, TCN, LSTM, ...): global
  models fitted on the training trajectories, which forecast after any context from its
  last ``input_chunk_length`` points; float32, on a GPU when one is present;
* ``lags``: the regression models on lagged values (random forest, XGBoost, linear), also
  global;
* ``local``: models fitted on one series that forecast its continuation (Kalman);
* ``per_coordinate``: univariate classical models fitted on each coordinate separately
  through darts' ``MultivariateModel`` (ARIMA, exponential smoothing, Theta, FFT, the naive
  forecasters, TBATS), as the paper's classical benchmarks do.

Local and per-coordinate models are fitted on the context of each forecast (Gilpin 2023
refits every model on the first 1000 points of the test trajectory and forecasts their
continuation): their saved model is its hyperparameters. The global and local families
work on series standardised by the training mean and scale (:meth:`Method.fit_scale`;
forecasts are mapped back); the per-coordinate classical models see the raw coordinates, as
in the paper (FourTheta normalises by the series mean, which standardisation makes zero).

Models save and load through darts' ``save`` / ``load`` with darts' safe loading (never
``trusted=True``): darts' unpickler admits darts' own classes and the libraries it trusts,
and :data:`SAFE_GLOBALS` names what dsrbench adds to that allow-list (nothing today:
the contract test, ``tests/test_methods_contract.py``, saves and loads every family with
safe loading on).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import os
import warnings
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import xarray as xr

from dsrbench.methods.base import Method, RunFiles, check_context

__all__ = ["SAFE_GLOBALS", "DartsMethod", "season_mode"]

#: classes dsrbench adds to darts' safe-loading allow-list (darts.utils.serialization)
SAFE_GLOBALS: tuple[type, ...] = ()

#: the file a fitted global darts model is saved in (torch models add ``.ckpt`` beside it)
MODEL_FILE = "darts_model.pt"

FAMILIES = ("torch", "lags", "local", "per_coordinate")


def _quiet() -> None:
    """Silence darts', lightning's and statsmodels' chatter (warnings and info logs)."""
    for name in ("darts", "lightning", "lightning.pytorch", "pytorch_lightning", "cmdstanpy"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="statsmodels")
    warnings.filterwarnings("ignore", module="darts")
    warnings.filterwarnings("ignore", module="lightning")
    warnings.filterwarnings("ignore", module="pytorch_lightning")
    warnings.filterwarnings("ignore", category=UserWarning)
    os.environ.setdefault("PL_DISABLE_FORK", "1")


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
    """A darts forecaster (see the module doc); subclasses set the class attributes."""

    #: the darts class (an attribute of ``darts.models``)
    darts_class: ClassVar[str]
    #: one of :data:`FAMILIES`
    family: ClassVar[str]
    #: the hyperparameter grid of Gilpin 2023 (``find_hyperparameters_*.py``)
    grid: ClassVar[dict[str, list[Any]]] = {}
    #: the paper the model comes from
    citation: ClassVar[str] = ""
    #: a reference forecaster (naive drift / mean / seasonal), like persistence
    reference: ClassVar[bool] = False

    fitted_arrays = ("mean", "std")

    # -- construction --------------------------------------------------------------------
    #: hyperparameters that darts takes as its SeasonalityMode enum (given as strings)
    season_parameters: ClassVar[tuple[str, ...]] = ()

    def darts_kwargs(self) -> dict[str, Any]:
        """The darts constructor's arguments from the hyperparameters (override to map
        names); the :attr:`season_parameters` become darts' enum."""
        kwargs = dict(self.params)
        for name in self.season_parameters:
            kwargs[name] = season_mode(kwargs[name])
        return kwargs

    def _torch_kwargs(self, seed: int, device: str, budget: float | None) -> dict[str, Any]:
        from dsrbench.methods.trainer import resolve_device

        dev = resolve_device(device)
        callbacks = []
        if budget is not None and np.isfinite(budget):
            from pytorch_lightning.callbacks import Timer

            callbacks.append(Timer(duration=_dt.timedelta(seconds=float(budget))))
        return {
            "random_state": int(seed),
            "pl_trainer_kwargs": {
                "accelerator": "gpu" if dev.type == "cuda" else "cpu",
                "devices": 1,
                "enable_progress_bar": False,
                "enable_model_summary": False,
                "logger": False,
                "enable_checkpointing": False,
                "callbacks": callbacks,
            },
            "save_checkpoints": False,
        }

    def build(self, *, seed: int = 0, device: str = "auto", budget: float | None = None) -> Any:
        """A fresh darts model with these hyperparameters."""
        import darts.models as dm

        cls = getattr(dm, self.darts_class)
        _quiet()  # after the lazy import of the model's module (lightning sets its loggers)
        kwargs = self.darts_kwargs()
        if self.family == "torch":
            return cls(**kwargs, **self._torch_kwargs(seed, device, budget))
        if self.family == "lags":
            return cls(**kwargs, random_state=int(seed)) if self._seeded() else cls(**kwargs)
        if self.family == "per_coordinate":
            return dm.MultivariateModel(cls(**kwargs))
        return cls(**kwargs)

    def _seeded(self) -> bool:
        return self.darts_class in ("RandomForestModel", "XGBModel")

    @property
    def min_context(self) -> int:
        """The fewest context points a forecast needs."""
        p = self.params
        return int(p.get("input_chunk_length") or p.get("lags") or 1)

    # -- fit -----------------------------------------------------------------------------
    def fit(
        self,
        train: xr.Dataset,
        val: xr.Dataset | None = None,
        *,
        device: str = "auto",
        seed: int = 0,
        budget: float | None = None,
        run: RunFiles | None = None,
    ) -> Self:
        """Global families: fit the darts model on every training trajectory. Local and
        per-coordinate families: keep the scale (they are fitted on each context)."""
        x, _ = self.fit_scale(train, val)
        if self.family == "per_coordinate":  # raw coordinates, as the paper's benchmarks
            self.mean_, self.std_ = np.zeros_like(self.mean_), np.ones_like(self.std_)
        self.seed_ = int(seed)
        if self.family in ("torch", "lags"):
            dtype = np.float32 if self.family == "torch" else np.float64
            if self.family == "torch":
                import torch

                torch.manual_seed(int(seed))
            series = [_series(traj, dtype) for traj in x]
            model = self.build(seed=seed, device=device, budget=budget)
            data = series if len(series) > 1 else series[0]
            if self.family == "torch":
                model.fit(data, verbose=False)
            else:
                model.fit(data)
            self.model_ = model
        else:  # fitted on the first training series (timed as the fit, as in the paper);
            # a forecast from that same series uses it, any other context refits
            z = self.to_model(np.asarray(train["x"].values[0], dtype=np.float64))
            self.local_ = (self._key(z), self._local_fit(z))
        return self

    @staticmethod
    def _key(z: np.ndarray) -> str:
        import hashlib

        return hashlib.sha256(np.ascontiguousarray(z, dtype=np.float64).tobytes()).hexdigest()

    def _local_fit(self, z: np.ndarray) -> Any:
        model = self.build(seed=getattr(self, "seed_", 0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(_series(z))
        return model

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
        _quiet()
        with np.errstate(all="ignore"):
            if self.family in ("torch", "lags"):
                dtype = np.float32 if self.family == "torch" else np.float64
                series = [_series(c, dtype) for c in z]
                kwargs = {"verbose": False} if self.family == "torch" else {}
                with self._compiled():
                    preds = self.model_.predict(n=int(horizon), series=series, **kwargs)
                out = np.stack([np.asarray(p.values(), dtype=np.float64) for p in preds])
            else:
                out = np.stack([self._local_forecast(c, horizon) for c in z])
        return self.from_model(out)

    @contextlib.contextmanager
    def _compiled(self) -> Any:
        """A random forest's trees predict through the compiled :mod:`._fast_forest` during
        a forecast (bit for bit scikit-learn's prediction, without its per-call overhead)."""
        if self.darts_class != "RandomForestModel":
            yield
            return
        from sklearn.ensemble import RandomForestRegressor

        from dsrbench.methods._fast_forest import compiled_forest

        est = self.model_.model  # the forest, or darts' MultiOutputRegressor of forests
        forests = [est] if isinstance(est, RandomForestRegressor) else []
        forests += [
            e for e in getattr(est, "estimators_", []) if isinstance(e, RandomForestRegressor)
        ]
        cache = self.__dict__.setdefault("_fast_forests", {})
        with contextlib.ExitStack() as stack:
            for forest in forests:
                stack.enter_context(compiled_forest(forest, cache))
            yield

    def _local_forecast(self, z: np.ndarray, horizon: int) -> np.ndarray:
        key, fitted = getattr(self, "local_", (None, None))
        model = fitted if key == self._key(z) else self._local_fit(z)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pred = model.predict(int(horizon))
        return np.asarray(pred.values(), dtype=np.float64)

    # -- save / load ---------------------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        """Hyperparameters and scale; a global family's darts model through darts' save."""
        super().save(directory)
        if getattr(self, "model_", None) is not None:
            self.model_.save(str(Path(directory) / MODEL_FILE))

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        """Restore a saved model; darts' safe loading stays on (never ``trusted=True``)."""
        method = super().load(directory)
        path = Path(directory) / MODEL_FILE
        if path.exists():
            import darts.models as dm
            from darts.utils.serialization import safe_globals

            _quiet()
            loader = getattr(dm, cls.darts_class)
            _quiet()
            ctx = safe_globals(list(SAFE_GLOBALS)) if SAFE_GLOBALS else contextlib.nullcontext()
            with ctx:
                if cls.family == "torch":
                    method.model_ = loader.load(
                        str(path),
                        map_location="cpu",
                        pl_trainer_kwargs={
                            "accelerator": "cpu",
                            "enable_progress_bar": False,
                            "logger": False,
                        },
                    )
                else:
                    method.model_ = loader.load(str(path))
        return method
