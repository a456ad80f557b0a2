"""The system page: true against generated attractors, forecasts against the truth, power
spectra and the metric table of one system.

Attractors are 3-D projections on the first three coordinates; a system with fewer than
three, or a delay equation (whose 10 stored coordinates are dysts' embedding of one scalar),
is shown as the delay embedding (x(t), x(t - tau), x(t - 2 tau)) of its first coordinate,
tau the first lag at which the truth's autocorrelation falls below 1/e. The reference
attractor is the ``truth`` oracle's free run (an independent true trajectory of the same
length T) when the run has it, else the dataset's test trajectory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dsrbench import splits
from dsrbench.references import TRUTH, is_truth
from dsrbench.reports import stats
from dsrbench.reports.results import NoData, Run
from dsrbench.reports.specs import spec
from dsrbench.reports.style import method_color, method_label, new_figure, order_methods
from dsrbench.systems import get_system_info

__all__ = [
    "attractor_figure",
    "delay_embed",
    "forecast_figure",
    "metric_table",
    "mean_spectrum",
    "smoothed_spectrum",
    "spectrum_figure",
    "system_summary",
]

MAX_POINTS = 4000  # points drawn per attractor
BOX_FACTOR = 1.5  # points beyond this multiple of the truth's extent are not drawn


@dataclass
class Trajectories:
    """The long free runs of one system and dataset: the reference and each method's."""

    dt: float
    lyapunov_time: float | None
    period: float | None
    reference: np.ndarray
    reference_label: str
    runs: dict[str, np.ndarray]
    missing: dict[str, str]
    is_delay: bool


def _info(system: str):
    return get_system_info(system)


def delay_lag(x: np.ndarray) -> int:
    """First lag (in steps) where the autocorrelation of ``x`` falls below 1/e."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    n = x.size
    if n < 8 or x.std() == 0:
        return 1
    z = (x - x.mean()) / x.std()
    spec_ = np.fft.rfft(z, 2 * n)
    acf = np.fft.irfft(spec_ * np.conj(spec_))[:n] / n
    below = np.flatnonzero(acf < 1 / math.e)
    return int(max(1, min(below[0] if below.size else n // 10, n // 10)))


def delay_embed(x: np.ndarray, lag: int, dim: int = 3) -> np.ndarray:
    """Rows (x(t), x(t - lag), ..., x(t - (dim - 1) lag)) of the 1-D series ``x``."""
    x = np.asarray(x, dtype=float)
    n = x.size - (dim - 1) * lag
    if n <= 0:
        raise ValueError(f"series of {x.size} points too short for lag {lag} and dimension {dim}")
    return np.stack([x[(dim - 1 - k) * lag : (dim - 1 - k) * lag + n] for k in range(dim)], axis=1)


def _first_seed(run: Run, method: str) -> int:
    seeds = run.seeds(method)
    return seeds[0] if seeds else 0


def trajectories(run: Run, dataset: str, system: str, methods: list[str]) -> Trajectories:
    """The reference and every method's long free run (transient dropped), first seed;
    methods of a joined export (no stores here: ``run.export_only``) are left out."""
    methods = [m for m in methods if m not in run.export_only]
    ds = run.dataset_store(dataset, system)
    info = _info(system)
    dt = float(ds["time"].values[1] - ds["time"].values[0])
    runs, missing = {}, {}
    reference, label = None, ""
    for method in methods:
        try:
            pred = run.predictions(dataset, method, system, _first_seed(run, method))
        except NoData as exc:
            missing[method] = str(exc)
            continue
        gen = np.asarray(pred["generated"].values)[0, int(pred.attrs["generation_discard"]) :]
        if is_truth(method):
            reference, label = gen, f"independent true trajectory (T = {gen.shape[0]})"
        runs[method] = gen
    if reference is None:
        test = splits.indices(ds, "test")
        x = ds["x_clean"] if "x_clean" in ds else ds["x"]
        reference = np.asarray(x.values)[int(test[0]) if test.size else 0]
        label = f"test trajectory of the dataset ({reference.shape[0]} points)"
    return Trajectories(
        dt, info.lyapunov_time, info.period, reference, label, runs, missing, info.is_delay
    )


def _project(x: np.ndarray, use_delay: bool, lag: int) -> np.ndarray:
    return delay_embed(x[:, 0], lag) if use_delay else x[:, :3]


def _thin(x: np.ndarray) -> np.ndarray:
    step = max(1, x.shape[0] // MAX_POINTS)
    return x[::step]


def attractor_figure(run: Run, dataset: str, system: str, methods: list[str]):
    """True (grey) against generated (method colour) attractors, one 3-D panel a method."""
    tr = trajectories(run, dataset, system, methods)
    dim = tr.reference.shape[1]
    use_delay = tr.is_delay or dim < 3
    lag = delay_lag(tr.reference[:, 0]) if use_delay else 0
    ref = _project(tr.reference, use_delay, lag)
    lo, hi = ref.min(axis=0), ref.max(axis=0)
    centre, half = (lo + hi) / 2, (hi - lo) / 2 * BOX_FACTOR + 1e-12
    panels = [m for m in methods if m in tr.runs or m in tr.missing]
    ncols = min(4, max(1, len(panels)))
    nrows = int(math.ceil(len(panels) / ncols)) or 1
    fig = new_figure(3.6 * ncols, 3.5 * nrows + 0.4)
    if use_delay:
        tau = lag * tr.dt
        names = ("x(t)", f"x(t − τ), τ = {tau:.3g}", "x(t − 2τ)")
        how = f"delay embedding of the first coordinate (τ = {tau:.3g} time units)"
    else:
        names = ("x₁", "x₂", "x₃")
        how = "first three coordinates" if dim > 3 else "state space"
    for i, method in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, i + 1, projection="3d")
        ax.set_title(method_label(method), fontsize=10, color=method_color(method))
        r = _thin(ref)
        ax.plot(r[:, 0], r[:, 1], r[:, 2], color="#9a9a9a", lw=0.4, alpha=0.8)
        if method in tr.missing:
            ax.text2D(
                0.5,
                0.5,
                tr.missing[method],
                ha="center",
                va="center",
                wrap=True,
                fontsize=7,
                transform=ax.transAxes,
            )
        elif not is_truth(method):
            g = tr.runs[method]
            finite = np.all(np.isfinite(g), axis=1)
            bad = np.flatnonzero(~finite)
            g = g[: bad[0]] if bad.size else g
            note = ""
            if g.shape[0] > (2 * lag + 1):
                p = _project(g, use_delay, lag)
                outside = np.any(np.abs(p - centre) > half, axis=1)
                if outside.any():
                    note = f"\n{outside.mean():.0%} of points outside the plotted box"
                p = np.where(outside[:, None], np.nan, p)
                extent = np.nanmax(p, axis=0) - np.nanmin(p, axis=0) if (~outside).any() else None
                p = _thin(p)
                ax.plot(p[:, 0], p[:, 1], p[:, 2], color=method_color(method), lw=0.5)
                if extent is not None and np.all(extent < 0.02 * half):
                    # a fixed point (or nearly): a line of one point would be invisible
                    ax.scatter(*p[-1], color=method_color(method), s=40, depthshade=False)
                    note += "\nsettles on a point"
            if bad.size:
                note += f"\nnon-finite after step {bad[0]}"
            if note:
                ax.set_title(method_label(method) + note, fontsize=8, color=method_color(method))
        else:
            g = _thin(_project(tr.runs[TRUTH], use_delay, lag))
            ax.plot(g[:, 0], g[:, 1], g[:, 2], color=method_color(TRUTH), lw=0.4)
        ax.set_xlim(centre[0] - half[0], centre[0] + half[0])
        ax.set_ylim(centre[1] - half[1], centre[1] + half[1])
        ax.set_zlim(centre[2] - half[2], centre[2] + half[2])
        ax.set_xlabel(names[0], fontsize=7, labelpad=-4)
        ax.set_ylabel(names[1], fontsize=7, labelpad=-4)
        ax.set_zlabel(names[2], fontsize=7, labelpad=-4)
        ax.tick_params(labelsize=6, pad=-2)
    fig.suptitle(
        f"{system} ({dataset}): grey = {tr.reference_label}; {how}; state units as simulated",
        fontsize=9,
    )
    return fig


def forecast_figure(
    run: Run, dataset: str, system: str, methods: list[str], *, n_contexts: int = 2
):
    """First coordinate of each method's forecast against the truth on the first test
    contexts; time in Lyapunov times since the forecast start (context shaded)."""
    ds = run.dataset_store(dataset, system)
    info = _info(system)
    dt = float(ds["time"].values[1] - ds["time"].values[0])
    tl = info.lyapunov_time
    scale, unit = (1 / tl, "Lyapunov times") if tl else (1.0, "time units (no positive λ_max)")
    truth = np.asarray((ds["x_clean"] if "x_clean" in ds else ds["x"]).values)
    preds, missing = {}, []
    for method in methods:
        if is_truth(method) or method in run.export_only:  # a joined export has no stores
            continue
        try:
            preds[method] = run.predictions(dataset, method, system, _first_seed(run, method))
        except NoData as exc:
            missing.append(str(exc))
    any_pred = next(iter(preds.values()), None)
    if any_pred is None:
        try:
            any_pred = run.predictions(dataset, TRUTH, system, _first_seed(run, TRUTH))
        except NoData:
            raise NoData(f"no forecasts of {system} ({dataset}) in this run") from None
    traj = np.asarray(any_pred["context_trajectory"].values)
    start = np.asarray(any_pred["context_start"].values)
    c_len, horizon = int(any_pred.attrs["context_length"]), int(any_pred.attrs["horizon"])
    k = min(n_contexts, traj.size)
    fig = new_figure(9.5, 2.6 * k + 0.6)
    axes = fig.subplots(k, 1, squeeze=False).ravel()
    for c, ax in enumerate(axes):
        i, s = int(traj[c]), int(start[c])
        t = (np.arange(s - c_len, s + horizon) - s) * dt * scale
        ax.axvspan(t[0], 0, color="#eeeeee", lw=0)
        ax.plot(t, truth[i, s - c_len : s + horizon, 0], color="black", lw=1.6, label="truth")
        tf = (np.arange(horizon)) * dt * scale
        for method, pred in preds.items():
            y = np.asarray(pred["forecast"].values)[c, :, 0]
            ax.plot(tf, y, color=method_color(method), lw=1.1, label=method_label(method))
        lo, hi = truth[i, :, 0].min(), truth[i, :, 0].max()
        pad = 0.3 * (hi - lo + 1e-12)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_ylabel("x₁ (state units)")
        ax.set_title(f"test context {c + 1} (trajectory {i}, forecast from point {s})", fontsize=9)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel(f"time since forecast start ({unit}); shaded: context")
    axes[0].legend(fontsize=7, ncol=min(6, len(preds) + 1), loc="upper left")
    if missing:
        fig.suptitle("missing: " + "; ".join(missing), fontsize=7)
    return fig


def smoothed_spectrum(x: np.ndarray, dt: float, sigma: float = 20) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (cycles per time unit) and the per-coordinate spectra ``(F, D)`` that D_H
    compares (:func:`dsrbench.metrics.attractor.smoothed_power_spectrum`, ``sigma`` bins of
    smoothing; a constant coordinate is a NaN column)."""
    from dsrbench.metrics.attractor import smoothed_power_spectrum

    x = np.asarray(x, dtype=float)
    return np.fft.rfftfreq(x.shape[0], dt), smoothed_power_spectrum(x, smoothing=sigma)


def mean_spectrum(spectra: np.ndarray) -> np.ndarray:
    """The mean over the coordinates that have a spectrum (the curve of the figure);
    ValueError when every coordinate is constant."""
    keep = ~np.isnan(spectra[0])
    if not keep.any():
        raise ValueError("every coordinate is constant")
    return spectra[:, keep].mean(axis=1)


def spectrum_figure(run: Run, dataset: str, system: str, methods: list[str]):
    """Smoothed power spectra of the long free runs against the reference (log scale)."""
    tr = trajectories(run, dataset, system, methods)
    n = tr.reference.shape[0]
    f, spectra_ref = smoothed_spectrum(tr.reference, tr.dt)
    p_ref = mean_spectrum(spectra_ref)
    fig = new_figure(9.5, 4.2)
    ax = fig.subplots()
    ax.plot(f, p_ref, color="black", lw=2.2, label=f"reference: {tr.reference_label}")
    skipped = []
    for method, g in tr.runs.items():
        if is_truth(method):
            continue
        g = g[:n]
        if not np.all(np.isfinite(g)) or g.shape[0] < n:
            skipped.append(f"{method_label(method)} (non-finite run)")
            continue
        try:
            fg, spectra = smoothed_spectrum(g, tr.dt)
            pg = mean_spectrum(spectra)
        except ValueError:
            skipped.append(f"{method_label(method)} (constant run: no spectrum)")
            continue
        ax.plot(fg, pg, color=method_color(method), lw=1.2, label=method_label(method))
    cum = np.cumsum(p_ref)
    fmax = f[min(len(f) - 1, int(np.searchsorted(cum, 0.995 * cum[-1]) * 1.5) + 1)]
    ax.set_xlim(0, fmax)
    ax.set_yscale("log")
    floor_ = max(p_ref[f <= fmax].min(), 1e-12)
    ax.set_ylim(floor_ / 10, p_ref.max() * 5)
    if tr.period:
        ax.axvline(1 / tr.period, color="#777777", ls=":", lw=1, label="1 / dominant period")
    ax.set_xlabel("frequency (cycles per time unit)")
    ax.set_ylabel("normalised power (smoothed, mean over coordinates)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    title = f"{system} ({dataset}): power spectra of the free runs (T = {n})"
    if skipped:
        title += "\nnot drawn: " + ", ".join(skipped)
    ax.set_title(title, fontsize=9)
    return fig


TABLE_KEYS = (
    "vpt_nrmse",
    "vpt_smape",
    "smape200@1",
    "smape200@4",
    "smape200@10",
    "pe20",
    "D_stsp",
    "D_H",
    "lyapunov_qr_rel_error",
    "lyapunov_rel_error",
    "D_frac",
)


def metric_table(run: Run, dataset: str, system: str) -> pd.DataFrame:
    """Methods x metrics (mean over seeds; the spread over seeds in brackets when there are
    several), the truth floor in the last row; diverged runs are marked."""
    table: dict[str, dict[str, str]] = {}
    floors: dict[str, str] = {}
    cols = []
    for key in TABLE_KEYS:
        s = spec(key)
        try:
            sc = run.scores(s.metric, s.horizon, systems=[system], dataset=dataset)
        except NoData:
            continue
        col = f"{s.label} ({s.unit})"
        cols.append(col)
        for method, sub in sc.groupby("method"):
            v = sub["value"].to_numpy()
            text = stats.fmt(float(np.nanmean(v))) if np.isfinite(v).any() else "n/a"
            if np.isfinite(v).sum() > 1:
                text += f" [{stats.fmt(np.nanmin(v))}, {stats.fmt(np.nanmax(v))}]"
            if (sub["status"] == "diverged").any():
                text += " (diverged)"
            table.setdefault(method, {})[col] = text
        if s.has_floor:
            fl = sc["floor"].dropna()
            floors[col] = stats.fmt(float(fl.mean())) if not fl.empty else "n/a"
    if not cols:
        raise NoData(f"no metric of {system} ({dataset}) in this run")
    rows = [{"method": method_label(m), **table[m]} for m in order_methods(table)]
    rows.append({"method": "truth floor", **floors})
    return pd.DataFrame(rows, columns=["method", *cols]).fillna("")


def system_summary(run: Run, system: str) -> pd.DataFrame:
    """The system's properties from the dysts metadata and its dataset settings."""
    info = _info(system)
    rows = [
        ("description", info.description or "—"),
        ("dimension", f"{info.dimension}" + (" (delay embedding)" if info.is_delay else "")),
        (
            "largest Lyapunov exponent (dysts estimate)",
            stats.fmt(info.maximum_lyapunov_estimated or math.nan),
        ),
        ("Lyapunov time (time units)", stats.fmt(info.lyapunov_time or math.nan)),
        ("dominant period (time units)", stats.fmt(info.period)),
        ("correlation dimension (dysts)", stats.fmt(info.correlation_dimension or math.nan)),
        ("citation", info.citation or "—"),
    ]
    for dataset in run.datasets:
        try:
            ds = run.dataset_store(dataset, system)
        except NoData as exc:
            rows.append((f"dataset {dataset}", str(exc)))
            continue
        s = ds.attrs["generation"]["setting"]
        dt = float(ds["time"].values[1] - ds["time"].values[0])
        per_lt = (info.lyapunov_time / dt) if info.lyapunov_time else math.nan
        rows.append(
            (
                f"dataset {dataset}",
                f"{s['pts_per_period']} points per {s['timescale']} time scale "
                f"(dt = {stats.fmt(dt)}, {stats.fmt(per_lt)} points per Lyapunov time), "
                f"{s['length']} points per trajectory, {s['n_train']} train / {s['n_val']} val / "
                f"{s['n_test']} test trajectories",
            )
        )
    return pd.DataFrame(rows, columns=["property", "value"])
