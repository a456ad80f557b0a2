"""The random forest's closed-loop forecast: dsrbench's compiled tree walk against
scikit-learn's own ``predict``, in one process on the same fitted model.

Fits the ``random_forest`` method (darts' RandomForestModel, 100 trees, the given lags) on
the first 1000 points of a Lorenz-63 trajectory at 100 points per period (the Gilpin 2023
setting), then forecasts ``--horizon`` steps after the next 1000 points twice: through
:mod:`dsrbench.methods._fast_forest` (what dsrbench runs) and through scikit-learn's
``predict`` at every step (darts' default). Prints both wall times, their ratio and whether
the two forecasts are bit for bit equal.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/speed/random_forest_forecast.py [--horizon 1000]
"""

from __future__ import annotations

import argparse
import contextlib
import time

import numpy as np
import xarray as xr

from dsrbench import methods
from dsrbench.integration import simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--horizon", type=int, default=1000)
    parser.add_argument("--lags", type=int, default=10)
    args = parser.parse_args()
    x = np.asarray(simulate("Lorenz", 2000, transient=1000, pts_per_period=100)).reshape(1, -1, 3)
    train = xr.Dataset(
        {
            "x": (("trajectory", "time", "dim"), x[:, :1000]),
            "train_mean": (("dim",), x[0, :1000].mean(axis=0)),
            "train_std": (("dim",), x[0, :1000].std(axis=0)),
        }
    )
    model = methods.get("random_forest")(lags=args.lags).fit(train, seed=0)
    ctx = x[:, 1000:]
    model.forecast(ctx, 5)  # compile the kernel (numba) before timing
    t = time.perf_counter()
    fast = model.forecast(ctx, args.horizon)
    t_fast = time.perf_counter() - t
    model._predicting = contextlib.nullcontext  # scikit-learn's predict at every step
    t = time.perf_counter()
    slow = model.forecast(ctx, args.horizon)
    t_slow = time.perf_counter() - t
    print(f"random forest, lags {args.lags}, 100 trees, {args.horizon}-step forecast")
    print(f"  scikit-learn predict per step: {t_slow:8.2f} s")
    print(f"  dsrbench compiled tree walk:   {t_fast:8.2f} s")
    print(f"  ratio: {t_slow / t_fast:.1f}x   bit for bit equal: {np.array_equal(fast, slow)}")


if __name__ == "__main__":
    main()
