"""What the tests of the ``chronos`` adapter share, with the tiny randomly initialised
models of the three pipelines of ``chronos-forecasting`` (Chronos, Chronos-Bolt, Chronos-2)
that :func:`dsrbench.methods.chronos.build_random_weights` saves locally (the
``tiny_chronos`` fixture; each directory carries the marker ``dsrbench_weights.json``
saying ``random-smoke``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dsrbench import methods

#: the forecast horizon: past the models' 64 steps (the autoregressive path)
H = 300
PIPELINES = {
    "chronos": "ChronosPipeline",
    "bolt": "ChronosBoltPipeline",
    "chronos2": "Chronos2Pipeline",
}


def context(lorenz_splits, length: int = 128) -> np.ndarray:
    """The first ``length`` points of the Lorenz test trajectory, (T, 3)."""
    return np.asarray(lorenz_splits["test"]["x"].values[0, :length])  # (T, 3)


def direct(directory: Path, series: np.ndarray, seed: int, horizon: int = H) -> np.ndarray:
    """One package call for one univariate series: the 0.5 quantile (one sample)."""
    import torch
    from chronos import BaseChronosPipeline

    pipe = BaseChronosPipeline.from_pretrained(
        str(directory), device_map="cpu", dtype=torch.float32
    )
    torch.manual_seed(seed)
    x = torch.tensor(series[None], dtype=torch.float32)
    if type(pipe).__name__ == "Chronos2Pipeline":
        q, _ = pipe.predict_quantiles([x[0]], prediction_length=horizon, quantile_levels=[0.5])
        return q[0][0, :, 0].double().numpy()
    extra = {"num_samples": 1} if type(pipe).__name__ == "ChronosPipeline" else {}
    q, _ = pipe.predict_quantiles(x, prediction_length=horizon, quantile_levels=[0.5], **extra)
    return q[0, :, 0].double().numpy()


def check_forecast_equals_three_direct_calls(
    kind: str, horizon: int, directory: Path, lorenz_splits
) -> None:
    """The adapter's forecast of a (T, 3) context with the tiny model of ``kind`` in
    ``directory`` equals three direct per-coordinate calls of the package, and repeats for
    a seed (the test in the two tiers: unit/ and e2e/test_methods_chronos*.py)."""
    import torch

    ctx = context(lorenz_splits)
    model = methods.get("chronos")(model=str(directory), device="cpu", seed=7)
    pred = model.forecast(ctx[None], horizon)
    assert model.kind == PIPELINES[kind] and model.device_ == "cpu"
    assert next(model.pipeline.model.parameters()).dtype == torch.float32  # float32 on a CPU
    assert pred.shape == (1, horizon, 3) and np.all(np.isfinite(pred))
    for d in range(3):
        np.testing.assert_array_equal(pred[0, :, d], direct(directory, ctx[:, d], 7, horizon))
    # deterministic for a seed, in a new adapter too; each coordinate forecast on its own
    again = methods.get("chronos")(model=str(directory), device="cpu", seed=7)
    np.testing.assert_array_equal(again.forecast(ctx[None, :, :1], horizon)[0, :, 0], pred[0, :, 0])
