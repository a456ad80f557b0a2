"""Predictions for evaluation: forecasts from test contexts and long free runs.

For a dataset store and a method, :func:`predict` writes a prediction store
(:func:`dsrbench.stores.write_predictions`) holding

* ``forecast``: for ``contexts_per_trajectory`` contexts of ``context_length`` points on
  every test trajectory, the next ``horizon`` states;
* ``generated``: one free run of 1.25 T steps from the first context of the first test
  trajectory (T = ``long_run_length``, default the test trajectory length); the first
  0.25 T are discarded by the evaluation (docs/protocols.md).

Prediction never trains: a method that needs a fit (``Method.needs_fit``) predicts with the
model its train job saved (:func:`dsrbench.pipeline.train.train_to_directory`); one that does not
(``persistence``) is built from its hyperparameters. Besides the methods of
:mod:`dsrbench.methods`, the reference predictor ``truth`` is an oracle
(:func:`dsrbench.truth.truth_oracle`): its forecasts are the true continuations, and its
free run is an independent true trajectory, so it must score at the truth floor. That free
run never fails to integrate (:func:`dsrbench.integration.simulate_robust`); when it needed
a fallback, the store's ``integration_fallback`` attribute names it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from dsrbench import methods, references, splits, stores
from dsrbench.methods import Method
from dsrbench.provenance import provenance
from dsrbench.truth import TrueRuns, truth_oracle

__all__ = [
    "model_max_lyapunov",
    "predict",
    "predict_to_store",
    "untrained_model",
]

GENERATION_OVERHEAD = 0.25  # generate 1.25 T, drop the first 0.25 T


def untrained_model(method: str, hyperparameters: dict[str, Any] | None = None) -> Method:
    """``method`` built from its hyperparameters, for a method that needs no fit
    (``needs_fit = False``); any other method raises a ValueError that names its train job,
    since prediction never trains."""
    cls = methods.get(method)
    if cls.needs_fit:
        raise ValueError(
            f"method {method!r} must be trained before it can predict: run its train job "
            f"(dsrbench train, or dsrbench.pipeline.train.train_to_directory) and pass the model "
            f"(model_dir= / model=)"
        )
    return cls(**(hyperparameters or {}))


def predict(
    method: str,
    ds: xr.Dataset,
    *,
    context_length: int,
    horizon: int,
    contexts_per_trajectory: int,
    long_run_length: int | None = None,
    seed: int = 0,
    hyperparameters: dict[str, Any] | None = None,
    config: dict | None = None,
    model: Method | None = None,
    training: dict[str, Any] | None = None,
    fixed_horizon: int | None = None,
    lyapunov_horizons: list[float] | None = None,
    long_run_transient: float = GENERATION_OVERHEAD,
    model_lyapunov: bool = True,
    context_splits: Sequence[str] = ("test",),
    context_lengths: Sequence[int] = (),
    context_models: Sequence[Method | None] | None = None,
    true_runs: TrueRuns | None = None,
) -> xr.Dataset:
    """Predict with ``model`` (a trained method) or with the ``truth`` oracle (see module
    doc). Without a model, only a method that needs no fit predicts (built from
    ``hyperparameters`` by :func:`untrained_model`); any other raises a ValueError. ``training``
    (the training record of the model) is kept in the store's attributes. Inference runs in
    numpy on the CPU. ``fixed_horizon`` and ``lyapunov_horizons`` are kept in the
    attributes for the evaluation; a free run is ``(1 + long_run_transient) T`` steps. With
    no transient and T = ``horizon``, the free run of the first context is its forecast
    (not computed twice). ``model_lyapunov``: a model with a Jacobian also gets its own
    largest exponent (:func:`model_max_lyapunov`).

    ``context_splits`` and ``context_lengths`` place the contexts
    (:func:`dsrbench.splits.protocol_contexts`); for each L of ``context_lengths`` the
    method also forecasts from the last L points before each start (``sweep_forecast``;
    not for truth nor per-context models).
    ``context_models``: one model per context, each fitted on that context alone
    (``training.refit_on: context``; None where its fit failed: NaN forecasts); the free
    run is the first context's model's. ``true_runs``: the dataset's long true runs
    integrated once (:class:`dsrbench.truth.TrueRuns`), where the oracle reads its free run."""
    hyperparameters = dict(hyperparameters or {})
    placement = {
        "context_length": context_length,
        "horizon": horizon,
        "contexts_per_trajectory": contexts_per_trajectory,
        "context_splits": list(context_splits),
        "context_lengths": [int(n) for n in context_lengths],
    }
    traj, start = splits.protocol_contexts(ds, placement)
    sweep: np.ndarray | None = None
    x = np.asarray(ds["x"].values)
    length = int(long_run_length or ds.sizes["time"])
    n_gen = splits.free_run_points(length, long_run_transient)
    discard = n_gen - length
    timing: dict[str, float] = {}
    extra: dict[str, Any] = {}
    if references.is_truth(method):
        if hyperparameters:
            raise ValueError(f"the reference predictor {method!r} takes no hyperparameters")
        t = time.perf_counter()
        record: dict[str, Any] = {}
        forecast, generated = truth_oracle(
            ds, traj, start, horizon, n_gen, seed + 1, record, runs=true_runs
        )
        if record.get("integration_fallback"):
            extra["integration_fallback"] = record["integration_fallback"]
        timing["predict_seconds"] = time.perf_counter() - t
        params: dict[str, Any] = {}
    else:
        contexts = _windows(x, traj, start, context_length)
        first = contexts[:1]
        t = time.perf_counter()
        if context_models is not None:
            if len(context_models) != traj.size:
                raise ValueError(
                    f"{len(context_models)} per-context models for {traj.size} contexts: "
                    "rerun the train job (the contexts changed)"
                )
            forecast, generated = _per_context(context_models, contexts, horizon, n_gen)
            model = context_models[0]  # its free run and exponent stand for the method
            params = model.params if model is not None else dict(hyperparameters)
            extra["fit_on_context"] = True
        else:
            if model is None:
                model = untrained_model(method, hyperparameters)
            params = model.params
            with np.errstate(all="ignore"):
                forecast = np.asarray(model.forecast(contexts, horizon), dtype=np.float64)
                if n_gen == horizon and type(model).generate is Method.generate:
                    generated = forecast[:1].copy()  # the free run of the first context
                    extra["generated_is_forecast"] = True
                else:
                    generated = np.asarray(model.generate(first, n_gen), dtype=np.float64)
        timing["predict_seconds"] = time.perf_counter() - t
        timing["forecast_seconds_per_context"] = timing["predict_seconds"] / traj.size
        if context_lengths and context_models is None:
            t = time.perf_counter()
            with np.errstate(all="ignore"):
                sweep = np.stack(
                    [
                        np.asarray(
                            model.forecast(_windows(x, traj, start, int(n)), horizon),
                            dtype=np.float64,
                        )
                        for n in context_lengths
                    ]
                )
            timing["sweep_seconds"] = time.perf_counter() - t
        if getattr(model, "weights_", None):  # a pretrained method: which weights
            extra["weights"] = str(model.weights_)
        if model_lyapunov and model is not None and model.has_jacobian:
            t = time.perf_counter()
            extra["model_lyapunov"] = model_max_lyapunov(model, first, ds, seed=seed)
            timing["lyapunov_seconds"] = time.perf_counter() - t
    if forecast.shape != (traj.size, horizon, x.shape[2]):
        raise RuntimeError(f"{method}.forecast returned shape {forecast.shape}")
    if generated.shape != (1, n_gen, x.shape[2]):
        raise RuntimeError(f"{method}.generate returned shape {generated.shape}")
    variables: dict[str, Any] = {
        "forecast": (("context", "step", "dim"), forecast),
        "context_trajectory": (("context",), traj),
        "context_start": (("context",), start),
        "generated": (("run", "gen_time", "dim"), generated),
        "generated_trajectory": (("run",), traj[:1]),
    }
    if sweep is not None:
        variables["sweep_forecast"] = (("sweep", "context", "step", "dim"), sweep)
        variables["sweep_length"] = (("sweep",), np.asarray(context_lengths, dtype=np.int64))
    return xr.Dataset(
        variables,
        attrs={
            "method": method,
            "system": ds.attrs["system"],
            "dataset": ds.attrs["dataset"],
            "seed": int(seed),
            "context_length": int(context_length),
            "horizon": int(horizon),
            "generation_discard": int(discard),
            "long_run_length": int(length),
            "fixed_horizon": int(fixed_horizon) if fixed_horizon else 0,
            "lyapunov_horizons": [float(h) for h in (lyapunov_horizons or [])],
            "hyperparameters": params,
            "timing": timing,
            "provenance": provenance(config or {}),
            "dataset_config_hash": ds.attrs.get("config_hash", ""),
            "training": {k: v for k, v in (training or {}).items() if k != "provenance"},
            **extra,
        },
    )


def _windows(x: np.ndarray, traj: np.ndarray, start: np.ndarray, length: int) -> np.ndarray:
    """The ``length`` points before each start ``(contexts, length, D)``."""
    return np.stack([x[i, s - length : s] for i, s in zip(traj, start, strict=True)])


def _per_context(
    models: Sequence[Method | None], contexts: np.ndarray, horizon: int, n_gen: int
) -> tuple[np.ndarray, np.ndarray]:
    """Forecasts of per-context models, each from its own context (NaN where a model is
    missing), and the first one's free run."""
    d = contexts.shape[2]
    forecast = np.full((contexts.shape[0], horizon, d), np.nan)
    generated = np.full((1, n_gen, d), np.nan)
    with np.errstate(all="ignore"):
        for k, m in enumerate(models):
            if m is not None:
                forecast[k] = np.asarray(m.forecast(contexts[k : k + 1], horizon))[0]
        if models[0] is not None:
            generated = np.asarray(models[0].generate(contexts[:1], n_gen), dtype=np.float64)
    return forecast, generated


def predict_to_store(
    method: str,
    dataset_path: Path,
    out: Path,
    *,
    model_dir: Path | None = None,
    true_runs: Path | None = None,
    **kwargs: Any,
) -> Path:
    """Open a dataset store, :func:`predict` (with the trained model in ``model_dir`` when
    given, and the dataset's long true runs of the file ``true_runs``), and write the
    prediction store atomically."""
    ds = stores.open_dataset(dataset_path)
    if true_runs is not None and references.is_truth(method):
        kwargs["true_runs"] = TrueRuns.load(true_runs)
    if model_dir is not None:
        from dsrbench.pipeline.train import load_context_models, load_model, per_context

        if per_context(model_dir):
            models, record = load_context_models(model_dir)
            kwargs.update(context_models=models, training=record)
        else:
            model, record = load_model(model_dir)
            kwargs.update(model=model, training=record)
        if record["method"] != method:
            raise ValueError(f"{model_dir} holds a {record['method']!r} model, not {method!r}")
    return stores.write_predictions(predict(method, ds, **kwargs), out)


def model_max_lyapunov(
    model: Method, context: np.ndarray, ds: xr.Dataset, *, seed: int = 0
) -> dict[str, Any]:
    """Largest Lyapunov exponent of a learned map (QR method on its ``step``/``jacobian``,
    per unit model time), from the state after ``context``; ``steps`` and ``transient``
    follow docs/metrics.md (>= 1e4 steps). A model that leaves the attractor gives NaN."""
    from dsrbench.metrics.lyapunov import lyapunov_qr

    dt = float(ds["time"].values[1] - ds["time"].values[0])
    n_steps, transient = 10_000, 1_000
    try:
        z0 = np.asarray(model.initial_state(context), dtype=np.float64)[0]
        with np.errstate(all="ignore"):
            value = lyapunov_qr(
                lambda z: np.asarray(model.step(z[None]), dtype=np.float64)[0],
                lambda z: np.asarray(model.jacobian(z[None]), dtype=np.float64)[0],
                z0,
                n_steps,
                dt=dt,
                transient=transient,
                seed=seed,
                jvp=lambda z, q: np.asarray(model.jvp(z[None], q[None]), dtype=np.float64)[0],
            )
        value = float(np.asarray(value).ravel()[0])
        status = "ok" if np.isfinite(value) else "diverged"
    except Exception as exc:  # noqa: BLE001 - recorded, never fatal
        value, status = float("nan"), f"error: {type(exc).__name__}: {exc}"
    return {"value": value, "steps": n_steps, "transient": transient, "status": status}
