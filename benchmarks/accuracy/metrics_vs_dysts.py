"""Our metrics against dysts' on the same inputs: values and wall times, in one process.

Forecast section (``forecast_section``): the 17 metrics of ``dysts.metrics.compute_metrics``
against ``dsrbench.metrics.forecast_metrics`` on a batch of 16 Lorenz forecasts.

D_stsp section (``stsp_section``): the Gaussian-mixture form of the state-space
divergence (Hess et al. 2023), ``dsrbench.metrics.attractor.state_space_divergence``
against ``dysts.metrics.estimate_kl_divergence`` on two independent trajectories of a
6-dimensional system (default LorenzCoupled, from dsrbench.simulate, transient dropped).

Settings matched: dysts' defaults (n_samples = 1000, sigma_scale = 1.0, i.e. variance 1)
and ours (n_samples = 1000, sigma2 = 1.0); dysts builds its mixtures on every point it is
given, ours on the first ``max_points`` = 10 000, so both get the first ``--n`` points.
Shared samples: dysts draws from numpy's global RandomState (``np.random.choice``, then
one ``multivariate_normal`` vector per sample); ours is given ``RandomState(seed)`` and
draws in the same order, and the global state is seeded with the same ``seed`` before
dysts runs. The two values then agree to rounding; the printed Monte-Carlo standard
error is that of either estimate of the true KL.

Timing: ours is warmed up once (numba compilation or cache load, printed apart) and
timed as the median of ``--repeats`` calls; dysts is timed once (seconds per call).

    .venv/bin/python benchmarks/accuracy/metrics_vs_dysts.py [--system LorenzCoupled] [--n 10000]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from dysts.metrics import estimate_kl_divergence

from dsrbench.integration import simulate
from dsrbench.metrics.attractor import StspResult, state_space_divergence


def _trajectory_pair(system: str, n: int, pts_per_period: int, seed: int) -> np.ndarray:
    """Two trajectories from perturbed default initial conditions, transient dropped."""
    x0 = simulate(system, 2, pts_per_period=pts_per_period)[0, 0]
    rng = np.random.default_rng(seed)
    ics = x0 + 0.1 * np.abs(x0).mean() * rng.standard_normal((2, x0.size))
    return simulate(
        system, n, pts_per_period=pts_per_period, transient=n // 5, initial_conditions=ics
    )


def stsp_section(
    system: str = "LorenzCoupled",
    n: int = 10_000,
    n_samples: int = 1000,
    pts_per_period: int = 100,
    seed: int = 0,
    repeats: int = 3,
) -> dict[str, float]:
    """D_stsp (GMM) against dysts' ``estimate_kl_divergence``; prints and returns the numbers."""
    x = _trajectory_pair(system, n, pts_per_period, seed)
    x_true, x_gen = x[0], x[1]
    dim = x_true.shape[1]
    print("== D_stsp (Gaussian mixtures) vs dysts.metrics.estimate_kl_divergence")
    print(
        f"   {system}: D = {dim}, T = {n} points each (pts_per_period = {pts_per_period}), "
        f"n_samples = {n_samples}, variance 1, seed {seed}"
    )
    if dim < 6:
        print("   note: D < 6, our default would bin; the mixture form is forced here")

    def ours() -> StspResult:
        res = state_space_divergence(
            x_true,
            x_gen,
            n_samples=n_samples,
            sigma2=1.0,
            max_points=n,
            seed=np.random.RandomState(seed),
        )
        assert isinstance(res, StspResult)
        return res

    t0 = time.perf_counter()
    res = ours()  # warm-up: numba compilation or cache load
    t_first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = ours()
        times.append(time.perf_counter() - t0)
    t_ours = statistics.median(times)

    np.random.seed(seed)  # noqa: NPY002 (dysts draws from the global RandomState)
    t0 = time.perf_counter()
    v_dysts = float(estimate_kl_divergence(x_true, x_gen, n_samples=n_samples, sigma_scale=1.0))
    t_dysts = time.perf_counter() - t0

    ratio = t_dysts / t_ours
    print(f"   ours : {res.value:.12f}   (MC standard error {res.stderr:.4f})")
    print(f"   dysts: {v_dysts:.12f}   |difference| = {abs(res.value - v_dysts):.2e}")
    print(
        f"   time ours {t_ours * 1e3:.1f} ms (median of {repeats}; first call "
        f"{t_first * 1e3:.0f} ms), dysts {t_dysts:.2f} s  ->  speed ratio {ratio:.0f}x"
    )
    return {
        "ours": res.value,
        "dysts": v_dysts,
        "stderr": float(res.stderr),
        "t_ours": t_ours,
        "t_dysts": t_dysts,
        "ratio": ratio,
    }


def forecast_section(
    *, system: str = "Lorenz", batch: int = 16, n: int = 1000, seed: int = 0, repeats: int = 3
) -> dict[str, float]:
    """The 17 forecast metrics: ``dysts.metrics.compute_metrics`` (a Python loop over the
    batch) against ``dsrbench.metrics.forecast_metrics`` (vectorised over the batch) on
    ``batch`` true trajectories of ``system`` and forecasts that drift away from them.

    dysts 0.96's ``mutual_information`` raises on this input, so that metric is timed and
    compared on our side only. ``kl_divergence`` is Monte-Carlo: numpy's global state is
    seeded identically before both, and ours draws in dysts' order (``seed=None``).
    """
    from dysts.metrics import compute_metrics

    from dsrbench.metrics.forecast import METRIC_NAMES, forecast_metrics

    rng = np.random.default_rng(seed)
    x0 = simulate(system, 2)[0, 0]
    ics = x0 + 0.5 * rng.standard_normal((batch, x0.size))
    y_true = simulate(system, n, initial_conditions=ics)
    drift = np.cumsum(rng.standard_normal(y_true.shape), axis=1) * 0.05
    y_pred = y_true + drift
    names = [m for m in METRIC_NAMES if m != "mutual_information"]

    np.random.seed(seed)  # noqa: NPY002 - dysts draws from the global state
    start = time.perf_counter()
    theirs = compute_metrics(y_true, y_pred, include=names, batch_axis=0)
    t_dysts = time.perf_counter() - start

    forecast_metrics(y_true[:2], y_pred[:2])  # warm-up (imports, KD-trees)
    times = []
    for _ in range(repeats):
        np.random.seed(seed)  # noqa: NPY002 - the same stream for ours
        start = time.perf_counter()
        ours = forecast_metrics(y_true, y_pred, include=names, seed=None)
        times.append(time.perf_counter() - start)
    t_ours = statistics.median(times)
    start = time.perf_counter()
    forecast_metrics(y_true, y_pred, include=["mutual_information"])
    t_mi = time.perf_counter() - start

    print(f"\n== forecast metrics: {batch} x {system} trajectories of {n} points ==")
    print(f"{'metric':26s} {'dysts':>14s} {'ours':>14s} {'rel. diff':>10s}")
    worst = 0.0
    for name in names:
        a, b = float(theirs[name]), float(np.mean(ours[name]))
        rel = abs(a - b) / max(abs(a), 1e-300)
        worst = max(worst, rel)
        print(f"{name:26s} {a:14.6g} {b:14.6g} {rel:10.1e}")
    print(f"dysts compute_metrics (16 metrics): {t_dysts:8.3f} s")
    print(f"ours forecast_metrics (16 metrics): {t_ours:8.3f} s   -> {t_dysts / t_ours:.1f}x")
    print(f"ours mutual_information (dysts raises): {t_mi:.3f} s")
    return {"dysts_s": t_dysts, "ours_s": t_ours, "ratio": t_dysts / t_ours, "worst": worst}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--system", default="LorenzCoupled")
    ap.add_argument("--n", type=int, default=10_000, help="points per trajectory")
    ap.add_argument("--samples", type=int, default=1000, help="Monte-Carlo samples")
    ap.add_argument("--pts-per-period", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    stsp_section(
        system=args.system,
        n=args.n,
        n_samples=args.samples,
        pts_per_period=args.pts_per_period,
        seed=args.seed,
        repeats=args.repeats,
    )
    forecast_section(seed=args.seed, repeats=args.repeats)


if __name__ == "__main__":
    main()
