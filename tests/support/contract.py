"""The method contract's checks that run in both tiers: most methods run them in
unit/test_methods_contract.py, the slow ones (:data:`SLOW`) in
e2e/test_methods_contract_e2e.py. The method sets, the contexts of the Lorenz test
trajectory and PE(20) (Hess et al. 2023) are those of the contract's module docstring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from dsrbench import methods
from dsrbench.methods._darts import LocalDarts
from dsrbench.metrics.forecast import forecast_prediction_error

DARTS_REFERENCES = {m for m in methods.available() if getattr(methods.get(m), "reference", 0)}
REFERENCES = {"persistence", "mean"} | DARTS_REFERENCES
#: fitted on each context (Gilpin 2023's classical benchmarks): not required to beat persistence
STATISTICAL = {
    m
    for m in methods.available()
    if issubclass(methods.get(m), LocalDarts) and m not in DARTS_REFERENCES
}
#: seconds per context: the end-to-end tier
SLOW = {"autoarima"}
#: pretrained forecasters: no published weights on this machine, so their contract (save and
#: load, the same seed, the free run's shape) runs through tiny random models in their own
#: module (unit/test_methods_chronos.py); random weights cannot beat persistence
PRETRAINED = {m for m in methods.available() if methods.traits(m).pretrained_on != "none"}
LEARNED = [m for m in methods.available() if m not in REFERENCES | PRETRAINED]

CONTEXT = 100
LONG_CONTEXT = 1000
N = 20


def contexts(
    test: xr.Dataset, stride: int = 25, length: int = CONTEXT
) -> tuple[np.ndarray, np.ndarray]:
    """Contexts of ``length`` points every ``stride`` points of the first test trajectory,
    and the ``N`` true states after each."""
    x = np.asarray(test["x"].values[0])
    starts = np.arange(length, x.shape[0] - N, stride)
    ctx = np.stack([x[s - length : s] for s in starts])
    target = np.stack([x[s : s + N] for s in starts])  # the N true next states
    return ctx, target


def pe20(model: methods.Method, test: xr.Dataset) -> float:
    """PE(20) of ``model`` over the contexts of ``test``."""
    ctx, target = contexts(test)
    with np.errstate(all="ignore"):
        pred = np.asarray(model.forecast(ctx, N))
    assert pred.shape == (ctx.shape[0], N, ctx.shape[2])
    return forecast_prediction_error(target, pred, N)


def fit(name: str, splits: dict[str, xr.Dataset], seed: int = 0, **kwargs) -> methods.Method:
    """``name`` with its ``quick_hyperparameters`` fitted on ``splits``."""
    cls = methods.get(name)
    model = cls(**cls.quick_hyperparameters)
    return model.fit(splits["train"], splits["val"], device="cpu", seed=seed, **kwargs)


def fitted_model(name: str, cache: dict, splits) -> methods.Method:
    """``name`` fitted once per test module (``cache``: conftest's ``fitted`` fixture)."""
    if name not in cache:
        cache[name] = fit(name, splits)
    return cache[name]


def check_statistical_forecaster_is_finite(name: str, lorenz_splits) -> None:
    """A statistical forecaster fitted on 1000-point contexts forecasts finite values of
    the contract's shape, within the attractor's range."""
    model = fit(name, lorenz_splits)
    ctx, target = contexts(lorenz_splits["test"], stride=400, length=LONG_CONTEXT)
    pred = model.forecast(ctx, N)
    assert pred.shape == target.shape
    assert np.all(np.isfinite(pred))
    # a forecast from the context, not a constant: it moves within the attractor's range
    scale = np.abs(ctx).max()
    assert np.abs(pred).max() < 100 * scale


def check_save_then_load_gives_identical_predictions(
    name: str, lorenz_splits, fitted: dict, tmp_path: Path
) -> None:
    """Save then load gives identical forecasts and free runs."""
    model = fitted_model(name, fitted, lorenz_splits)
    model.save(tmp_path / name)
    loaded = methods.get(name).load(tmp_path / name)
    ctx, _ = contexts(lorenz_splits["test"], stride=200 if name not in STATISTICAL else 900)
    np.testing.assert_array_equal(loaded.forecast(ctx, 30), model.forecast(ctx, 30))
    np.testing.assert_array_equal(loaded.generate(ctx[:1], 50), model.generate(ctx[:1], 50))


def check_same_seed_gives_the_same_model(name: str, lorenz_splits, fitted: dict) -> None:
    """A second fit with the same seed forecasts the same."""
    ctx, _ = contexts(lorenz_splits["test"], stride=200 if name not in STATISTICAL else 900)
    again = fit(name, lorenz_splits, seed=0)
    np.testing.assert_array_equal(
        again.forecast(ctx, 30), fitted_model(name, fitted, lorenz_splits).forecast(ctx, 30)
    )


def check_free_run_has_the_contract_shape(name: str, lorenz_splits, fitted: dict) -> None:
    """A free run of 500 steps from two contexts has shape (2, 500, 3)."""
    model = fitted_model(name, fitted, lorenz_splits)
    ctx, _ = contexts(lorenz_splits["test"], stride=200)
    gen = model.generate(ctx[:2], 500)
    assert gen.shape == (2, 500, 3)
