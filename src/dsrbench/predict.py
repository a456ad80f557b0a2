"""Predictions for evaluation: forecasts from test contexts and long free runs.

For a dataset store and a method, :func:`predict` writes a prediction store
(:func:`dsrbench.data.write_predictions`) holding

* ``forecast``: for ``contexts_per_trajectory`` contexts of ``context_length`` points on
  every test trajectory, the next ``horizon`` states;
* ``generated``: one free run of 1.25 T steps from the first context of the first test
  trajectory (T = ``long_run_length``, default the test trajectory length); the first
  0.25 T are discarded by the evaluation (docs/protocols.md).

Besides the methods of :mod:`dsrbench.methods`, the reference predictor ``truth`` is an
oracle: its forecasts are the true continuations, and its free run is an independent true
trajectory (the last training trajectory re-integrated for 1.25 T steps with the dataset's
own settings), so it must score at the truth floor.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from dsrbench import data
from dsrbench.methods import Method
from dsrbench.provenance import provenance

__all__ = ["REFERENCE_PREDICTORS", "context_indices", "predict", "regenerate", "truth_values"]

#: predictors that are not methods of :mod:`dsrbench.methods`
REFERENCE_PREDICTORS = ("truth",)
GENERATION_OVERHEAD = 0.25  # generate 1.25 T, drop the first 0.25 T


def true_long_run(ds: xr.Dataset, index: int, length: int, *, seed: int = 0) -> np.ndarray:
    """A noise-free true trajectory of ``length`` points from trajectory ``index``'s start:
    the stored one when long enough, else re-integrated (:func:`regenerate`)."""
    if length <= ds.sizes["time"]:
        return truth_values(ds)[index, :length]
    return regenerate(ds, index, length, seed=seed)


def truth_values(ds: xr.Dataset) -> np.ndarray:
    """Noise-free trajectories (``x_clean`` when observation noise was added, else ``x``)."""
    return np.asarray((ds["x_clean"] if "x_clean" in ds else ds["x"]).values)


def context_indices(
    ds: xr.Dataset, context_length: int, horizon: int, per_trajectory: int
) -> tuple[np.ndarray, np.ndarray]:
    """(trajectory index, first forecast index) of evenly spaced contexts on test trajectories."""
    test = np.flatnonzero(ds["split"].values == data.SPLIT_CODES["test"])
    if test.size == 0:
        raise ValueError(f"dataset {ds.attrs.get('dataset')!r} has no test trajectories (n_test)")
    length = ds.sizes["time"]
    last = length - horizon
    if last < context_length:
        raise ValueError(
            f"evaluation.context_length ({context_length}) + evaluation.horizon ({horizon}) "
            f"exceeds the test trajectory length ({length}) of dataset "
            f"{ds.attrs.get('dataset')!r}: shorten them or lengthen the dataset"
        )
    starts = np.unique(np.linspace(context_length, last, per_trajectory).round().astype(int))
    traj = np.repeat(test, starts.size)
    start = np.tile(starts, test.size)
    return traj.astype(np.int64), start.astype(np.int64)


def regenerate(ds: xr.Dataset, index: int, n: int, *, seed: int = 0) -> np.ndarray:
    """Re-integrate trajectory ``index`` of a dataset for ``n`` points with its own settings.

    The output spacing is the dataset's (dysts' grid spacing, period * n /
    (pts_per_period * (n - 1)), depends on n, so the points per period are adjusted to
    keep it), so the first ``ds.sizes['time']`` points reproduce the stored clean
    trajectory up to the integration tolerance.
    """
    from dsrbench.integration import sampling_period, simulate
    from dsrbench.systems import get_system_info

    gen = ds.attrs["generation"]
    setting = gen["setting"]
    info = get_system_info(ds.attrs["system"])
    spacing = float(ds["time"].values[1] - ds["time"].values[0])
    transient_pts = int(gen.get("trajectory_transient", 0))
    total = n + transient_pts
    pts = sampling_period(info, str(setting["timescale"])) * total / (spacing * (total - 1))
    t0 = None if info.is_delay else float(ds["t0"].values[index])
    x = simulate(
        ds.attrs["system"],
        n,
        initial_conditions=ds["initial_condition"].values[index],
        t0=t0,
        transient=transient_pts,
        pts_per_period=pts,
        timescale=str(setting["timescale"]),
        rtol=float(gen["integration"]["rtol"]),
        atol=float(gen["integration"]["atol"]),
        dynamical_noise=float(setting.get("dynamical_noise", 0.0)),
        seed=seed,
    )
    return x[0]


def _truth_predictions(
    ds: xr.Dataset, traj: np.ndarray, start: np.ndarray, horizon: int, n_gen: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    clean = truth_values(ds)
    forecast = np.stack([clean[i, s : s + horizon] for i, s in zip(traj, start, strict=True)])
    train = np.flatnonzero(ds["split"].values == data.SPLIT_CODES["train"])
    generated = regenerate(ds, int(train[-1]), n_gen, seed=seed)[None]
    return forecast, generated


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
    device: str = "auto",
    budget: float | None = None,
    config: dict | None = None,
    model: Method | None = None,
    training: dict[str, Any] | None = None,
) -> xr.Dataset:
    """Predict with ``model`` (a trained method; fitted here on the training split of ``ds``
    when None) or with the ``truth`` oracle (see module doc). ``training`` (the training
    record of the model) is kept in the store's attributes."""
    hyperparameters = dict(hyperparameters or {})
    traj, start = context_indices(ds, context_length, horizon, contexts_per_trajectory)
    x = np.asarray(ds["x"].values)
    length = int(long_run_length or ds.sizes["time"])
    n_gen = int(round((1 + GENERATION_OVERHEAD) * length))
    discard = n_gen - length
    timing: dict[str, float] = {}
    extra: dict[str, Any] = {}
    if method == "truth":
        if hyperparameters:
            raise ValueError("the reference predictor 'truth' takes no hyperparameters")
        t = time.perf_counter()
        forecast, generated = _truth_predictions(ds, traj, start, horizon, n_gen, seed + 1)
        timing["predict_seconds"] = time.perf_counter() - t
        params: dict[str, Any] = {}
    else:
        if model is None:
            from dsrbench.train import train

            model, info = train(
                method,
                ds,
                seed=seed,
                hyperparameters=hyperparameters,
                device=device,
                budget=budget,
            )
            timing["fit_seconds"] = info["fit_seconds"]
        params = model.params
        contexts = np.stack(
            [x[i, s - context_length : s] for i, s in zip(traj, start, strict=True)]
        )
        t = time.perf_counter()
        with np.errstate(all="ignore"):
            forecast = np.asarray(model.forecast(contexts, horizon), dtype=np.float64)
            first = x[traj[:1], start[0] - context_length : start[0]]
            generated = np.asarray(model.generate(first, n_gen), dtype=np.float64)
        timing["predict_seconds"] = time.perf_counter() - t
        if model.has_jacobian:
            t = time.perf_counter()
            extra["model_lyapunov"] = model_max_lyapunov(model, first, ds, seed=seed)
            timing["lyapunov_seconds"] = time.perf_counter() - t
    if forecast.shape != (traj.size, horizon, x.shape[2]):
        raise RuntimeError(f"{method}.forecast returned shape {forecast.shape}")
    if generated.shape != (1, n_gen, x.shape[2]):
        raise RuntimeError(f"{method}.generate returned shape {generated.shape}")
    return xr.Dataset(
        {
            "forecast": (("context", "step", "dim"), forecast),
            "context_trajectory": (("context",), traj),
            "context_start": (("context",), start),
            "generated": (("run", "gen_time", "dim"), generated),
            "generated_trajectory": (("run",), traj[:1]),
        },
        attrs={
            "method": method,
            "system": ds.attrs["system"],
            "dataset": ds.attrs["dataset"],
            "seed": int(seed),
            "context_length": int(context_length),
            "horizon": int(horizon),
            "generation_discard": int(discard),
            "long_run_length": int(length),
            "hyperparameters": params,
            "timing": timing,
            "provenance": provenance(config or {}),
            "dataset_config_hash": ds.attrs.get("config_hash", ""),
            "training": {k: v for k, v in (training or {}).items() if k != "provenance"},
            **extra,
        },
    )


def predict_to_store(
    method: str, dataset_path: Path, out: Path, *, model_dir: Path | None = None, **kwargs: Any
) -> Path:
    """Open a dataset store, :func:`predict` (with the trained model in ``model_dir`` when
    given), and write the prediction store atomically."""
    ds = data.open_dataset(dataset_path)
    if model_dir is not None:
        from dsrbench.train import load_model

        model, record = load_model(model_dir)
        if record["method"] != method:
            raise ValueError(f"{model_dir} holds a {record['method']!r} model, not {method!r}")
        kwargs.update(model=model, training=record)
    return data.write_predictions(predict(method, ds, **kwargs), out)


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
            )
        value = float(np.asarray(value).ravel()[0])
        status = "ok" if np.isfinite(value) else "diverged"
    except Exception as exc:  # noqa: BLE001 - recorded, never fatal
        value, status = float("nan"), f"error: {type(exc).__name__}: {exc}"
    return {"value": value, "steps": n_steps, "transient": transient, "status": status}
