"""The measurements behind ``havok``'s defaults: delay window, forcing rule, regression.

For each system: a dataset of 2 training trajectories of 2000 points at ``--pts`` points
per Fourier period (seed 3, as the test suite's Lorenz store), contexts of 100 points every
25 points of the test trajectory, forecasts of 100 steps. Scores: the median over contexts
of the NRMSE (error over the test trajectory's std per coordinate, rms over coordinates) at
step 20, the median valid prediction time (steps until the NRMSE first exceeds 0.5), and
the largest |x| of a 20 000-step free run from the first context (a linear model that is
unstable leaves the attractor). Prints a markdown table (docs/methods.md, ``havok``).

    python benchmarks/accuracy/havok_settings.py [--pts 100] \
        [--systems Lorenz Rossler Chen Halvorsen]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SETTING = {"timescale": "fourier", "length": 2000, "n_train": 2, "n_val": 1, "n_test": 1}
VARIANTS = [
    {"delays": 7, "regression": "discrete", "forcing": "zero"},
    {"delays": 7, "regression": "discrete", "forcing": "hold"},
    {"delays": 7, "regression": "discrete", "forcing": "linear"},
    {"delays": 7, "regression": "derivative", "forcing": "zero"},
    {"delays": 10, "regression": "discrete", "forcing": "zero"},
    {"delays": 30, "regression": "discrete", "forcing": "zero"},
    {"delays": 100, "regression": "discrete", "forcing": "zero"},
]
CONTEXT, HORIZON, EVERY, FREE_RUN = 100, 100, 25, 20_000


def splits(system: str, pts: int, folder: Path) -> dict:
    from dsrbench import stores
    from dsrbench.datasets import build_dataset

    out = folder / f"{system}.zarr"
    setting = {**SETTING, "pts_per_period": pts}
    build_dataset(
        system,
        "havok",
        setting,
        seed=3,
        integration={"rtol": 1e-10, "atol": 1e-10},
        config={"benchmark": "havok_settings"},
        out=out,
    )
    ds = stores.open_dataset(out)
    return {name: stores.split_of(ds, name) for name in ("train", "val", "test")}


def score(model, test: np.ndarray) -> tuple[float, float, float]:
    starts = np.arange(CONTEXT, test.shape[0] - HORIZON, EVERY)
    ctx = np.stack([test[s - CONTEXT : s] for s in starts])
    target = np.stack([test[s : s + HORIZON] for s in starts])
    pred = model.forecast(ctx, HORIZON)
    err = np.sqrt((((pred - target) / test.std(axis=0)) ** 2).mean(axis=2))
    over = np.concatenate([err > 0.5, np.ones((err.shape[0], 1), bool)], axis=1)
    free = model.generate(ctx[:1], FREE_RUN)
    return (
        float(np.median(err[:, 19])),
        float(np.median(np.argmax(over, axis=1))),
        float(np.abs(free).max()),
    )


def main(argv: list[str] | None = None) -> int:
    from dsrbench.methods.havok import HAVOK

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pts", type=int, default=100)
    parser.add_argument("--systems", nargs="*", default=["Lorenz", "Rossler", "Chen", "Halvorsen"])
    args = parser.parse_args(argv)
    start = time.perf_counter()
    names = [f"q={v['delays']}, {v['regression']}, {v['forcing']}" for v in VARIANTS]
    lines = [
        "| system (persistence) | " + " | ".join(names) + " |",
        "| --- |" + " --- |" * len(VARIANTS),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for system in args.systems:
            sp = splits(system, args.pts, Path(tmp))
            test = np.asarray(sp["test"]["x"].values[0])
            cells = []
            for variant in VARIANTS:
                model = HAVOK(**variant).fit(sp["train"], sp["val"])
                nrmse, vpt, peak = score(model, test)
                cells.append(f"{nrmse:.2f} / {vpt:.0f} / {peak:.3g}")
            ctx_last = np.stack(
                [test[s - 1] for s in np.arange(CONTEXT, test.shape[0] - HORIZON, EVERY)]
            )
            later = np.stack(
                [test[s + 19] for s in np.arange(CONTEXT, test.shape[0] - HORIZON, EVERY)]
            )
            pers = np.median(np.sqrt((((later - ctx_last) / test.std(axis=0)) ** 2).mean(axis=1)))
            lines.append(f"| {system} ({pers:.2f}) | " + " | ".join(cells) + " |")
    print(
        f"{args.pts} points per period; cells: NRMSE at step 20 / VPT (steps) / max |x| "
        f"of a {FREE_RUN}-step free run; {time.perf_counter() - start:.0f} s"
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
