"""The zero-shot page (``configs/zeroshot.yaml``; docs/protocols.md, "Zero-shot"): Zhang &
Gilpin, "Zero-shot forecasting of chaotic systems" (ICLR 2025, arXiv:2409.15771) and
"Context parroting" (arXiv:2505.11349).

* which data each method saw (:func:`dsrbench.pipeline.plan.data_seen`) and the flagged systems
  (:func:`dsrbench.systems.lyapunov_time_flag`), left out of every summary;
* sMAPE (0-200) against forecast horizon in Lyapunov times and VPT, every method, zero-shot
  and trained side by side (median over systems, interquartile range);
* attractor statistics (D_stsp, D_H) of the long free runs;
* error against context length for the methods of the sweep: per system, the exponent of
  a power law sMAPE ~ L^-alpha fitted in log-log over the lengths, against the system's
  correlation dimension (dysts' metadata), with Spearman's rho over systems and n (the
  parroting paper relates the scaling to the fractal dimension);
* cost per forecast: fit and forecast seconds per context.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from dsrbench import references
from dsrbench.reports.results import NoData, Run
from dsrbench.reports.style import method_color, method_label, new_figure, order_methods
from dsrbench.systems import get_system_info, lyapunov_time_flag

__all__ = [
    "PTS_PER_LYAPUNOV_TIME",
    "attractor_table",
    "context_scaling",
    "context_length_figure",
    "context_scaling_figure",
    "cost_table",
    "data_seen_table",
    "flagged_systems",
    "horizon_figure",
    "scaling_summary",
    "scored_systems",
    "vpt_table",
]

#: the protocol's granularity (configs/lyapunov.yaml)
PTS_PER_LYAPUNOV_TIME = 30


def flagged_systems(run: Run, pts: float = PTS_PER_LYAPUNOV_TIME) -> pd.DataFrame:
    """The run's systems that are not scored: not chaotic or aliased at ``pts`` points per
    Lyapunov time, with the reason."""
    rows = []
    for s in run.systems:
        flag = lyapunov_time_flag(s, pts)
        if not flag.chaotic:
            rows.append({"system": s, "reason": flag.reason})
    return pd.DataFrame(rows, columns=["system", "reason"])


def scored_systems(run: Run) -> list[str]:
    """The run's systems that the summaries cover (not flagged)."""
    out = set(flagged_systems(run)["system"])
    kept = [s for s in run.systems if s not in out]
    if not kept:
        raise NoData("every system of this run is flagged (not chaotic or aliased)")
    return kept


def data_seen_table(run: Run) -> pd.DataFrame:
    """Per method: the data it saw before forecasting, its pretraining, and whether it is
    multivariate (Chronos forecasts each coordinate separately)."""
    from dsrbench import methods as registry
    from dsrbench.pipeline.plan import data_seen

    rows = []
    for m in run.methods:
        attrs: dict = {}
        for dataset in run.datasets:
            for system in run.systems:
                try:
                    attrs = dict(run.predictions(dataset, m, system, 0).attrs)
                    break
                except Exception:  # noqa: BLE001 - a missing store: try the next
                    continue
            if attrs:
                break
        cfg = {
            "evaluation": {"context_length": int(attrs.get("context_length", 0) or 0)},
            "training": {"refit_on": "context" if attrs.get("fit_on_context") else "train"},
        }
        known = references.is_truth(m) or m in registry.available()
        rows.append(
            {
                "method": method_label(m),
                "data seen": data_seen(cfg, m) if known else "(not installed here)",
                "pretrained on": (
                    "" if references.is_truth(m) else registry.traits(m).pretrained_on
                ),
                "weights": attrs.get("weights", ""),
                "coordinates": "each separately" if m == "chronos" else "jointly",
            }
        )
    return pd.DataFrame(rows)


def _curve(run: Run, methods: list[str], systems: list[str]) -> pd.DataFrame:
    m = run.metrics
    sel = m[(m.metric == "smape200") & m.method.isin(methods) & m.system.isin(systems)]
    if sel.empty:
        raise NoData("no smape200 rows in this run")
    per = sel.groupby(["method", "horizon", "system"], observed=True)["value"].mean().reset_index()
    return per


def _label_with_n(method: str, n: int, of: int) -> str:
    """A method's legend label, with its number of systems where it ran on fewer."""
    return method_label(method) if n == of else f"{method_label(method)} (n = {n})"


def _median_band_figure(per: pd.DataFrame, x: str, n_systems: int, xlabel: str) -> Any:
    """Per method of ``per`` (one value per method, ``x`` and system): the median over
    systems against ``x``, the interquartile range shaded; a method on fewer than
    ``n_systems`` systems has its n in the legend."""
    fig = new_figure(7, 4.5)
    ax = fig.subplots()
    for method in order_methods(per.method.unique()):
        rows = per[per.method == method]
        by_x = rows.groupby(x)["value"]
        med, lo, hi = by_x.median(), by_x.quantile(0.25), by_x.quantile(0.75)
        xs = med.index.values.astype(float)
        label = _label_with_n(method, rows.system.nunique(), n_systems)
        ax.plot(xs, med.values, marker="o", label=label, color=method_color(method))
        ax.fill_between(xs, lo.values, hi.values, alpha=0.15, color=method_color(method))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("sMAPE (0-200), median over systems")
    ax.set_title(f"n = {n_systems} systems (a method on fewer: its n in the legend)")
    ax.legend(fontsize=8)
    return fig


def horizon_figure(run: Run) -> object:
    """Median sMAPE (0-200) over the scored systems against the horizon in Lyapunov times,
    one line per method, the interquartile range shaded."""
    systems = scored_systems(run)
    per = _curve(run, order_methods(run.methods), systems)
    return _median_band_figure(per, "horizon", len(systems), "forecast horizon (Lyapunov times)")


def _summary(run: Run, metric: str, systems: list[str]) -> pd.DataFrame:
    m = run.metrics
    sel = m[(m.metric == metric) & m.system.isin(systems) & (m.method != "floor")]
    if sel.empty:
        raise NoData(f"no {metric} rows in this run")
    per = sel.groupby(["method", "system"])["value"].mean().reset_index()
    g = per.groupby("method")["value"]
    out = pd.DataFrame(
        {
            "median": g.median(),
            "q25": g.quantile(0.25),
            "q75": g.quantile(0.75),
            "n": g.apply(lambda v: int(np.isfinite(v).sum())),
        }
    )
    out = out.loc[[x for x in order_methods(list(out.index)) if x in out.index]]
    out.index = [method_label(x) for x in out.index]
    return out


def vpt_table(run: Run) -> pd.DataFrame:
    """VPT (cumulative sMAPE rule, Lyapunov times) per method: median and IQR over the
    scored systems, n."""
    return _summary(run, "vpt_smape", scored_systems(run))


def attractor_table(run: Run) -> pd.DataFrame:
    """D_stsp and D_H of the long free runs: median over the scored systems, n."""
    systems = scored_systems(run)
    parts = {k: _summary(run, k, systems)[["median", "n"]] for k in ("D_stsp", "D_H")}
    return pd.concat(parts, axis=1)


def context_scaling(run: Run) -> pd.DataFrame:
    """Per (method, system) of the sweep: the exponent alpha of sMAPE ~ L^-alpha (least
    squares in log-log over the context lengths with a finite positive error), the number
    of lengths, and the system's correlation dimension (dysts' metadata)."""
    m = run.metrics
    sel = m[(m.metric == "smape200_context") & m.system.isin(scored_systems(run))]
    if sel.empty:
        raise NoData("no context-length sweep in this run (evaluation.context_lengths)")
    rows = []
    for (method, system), sub in sel.groupby(["method", "system"], observed=True):
        sub = sub.groupby("n_points")["value"].mean()
        ok = np.isfinite(sub.values) & (sub.values > 0)
        alpha = math.nan
        if ok.sum() >= 2:
            slope = np.polyfit(
                np.log(sub.index.values[ok].astype(float)), np.log(sub.values[ok]), 1
            )
            alpha = -float(slope[0])
        rows.append(
            {
                "method": method,
                "system": system,
                "alpha": alpha,
                "lengths": int(ok.sum()),
                "correlation_dimension": get_system_info(system).correlation_dimension,
            }
        )
    return pd.DataFrame(rows)


def scaling_summary(run: Run) -> pd.DataFrame:
    """Per method of the sweep: Spearman's rho between the exponent alpha and the
    correlation dimension over systems, its p-value, n, and the median alpha."""
    from scipy.stats import spearmanr

    df = context_scaling(run)
    rows = []
    for method, sub in df.groupby("method"):
        sub = sub[np.isfinite(sub.alpha) & np.isfinite(sub.correlation_dimension.astype(float))]
        rho, p = (math.nan, math.nan)
        # a forecast that ignores all but the last point (persistence) does not scale:
        # its exponents are 0 up to rounding, and their ranks are noise
        if len(sub) >= 3 and np.abs(sub.alpha).max() > 1e-6:
            res = spearmanr(sub.alpha, sub.correlation_dimension)
            rho, p = float(res.statistic), float(res.pvalue)
        rows.append(
            {
                "method": method_label(method),
                "spearman_rho": rho,
                "p": p,
                "n": len(sub),
                "median_alpha": float(sub.alpha.median()) if len(sub) else math.nan,
            }
        )
    return pd.DataFrame(rows)


def context_length_figure(run: Run) -> object:
    """sMAPE (0-200) over the whole forecast against the context length, log-log: per
    method, the median over the scored systems of each system's mean over its contexts,
    the interquartile range shaded (the parroting paper's error-against-context plot)."""
    m = run.metrics
    systems = scored_systems(run)
    sel = m[(m.metric == "smape200_context") & m.system.isin(systems)]
    if sel.empty:
        raise NoData("no context-length sweep in this run (evaluation.context_lengths)")
    per = sel.groupby(["method", "n_points", "system"], observed=True)["value"].mean().reset_index()
    fig = _median_band_figure(per, "n_points", len(systems), "context length (points)")
    ax = fig.axes[0]
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    return fig


def context_scaling_figure(run: Run) -> object:
    """The exponent alpha against the correlation dimension, one point per system."""
    df = context_scaling(run)
    fig = new_figure(6, 4.5)
    ax = fig.subplots()
    for method, sub in df.groupby("method"):
        ax.scatter(
            sub.correlation_dimension,
            sub.alpha,
            label=method_label(method),
            color=method_color(method),
            s=18,
        )
    ax.set_xlabel("correlation dimension (dysts)")
    ax.set_ylabel("alpha in sMAPE ~ L^-alpha")
    ax.legend(fontsize=8)
    return fig


def cost_table(run: Run) -> pd.DataFrame:
    """Seconds per forecast: fit (per context for the methods fitted on each context,
    the trained model's fit for the others) and forecast, median over systems."""
    rows = []
    for m in run.learned:
        try:
            timing = run.prediction_timing(m)
        except NoData:
            continue
        n_ctx = 1
        for dataset in run.datasets:
            try:
                n_ctx = int(run.predictions(dataset, m, timing.system.iloc[0], 0).sizes["context"])
                break
            except Exception:  # noqa: BLE001
                continue
        fit = math.nan
        try:
            tr = run.training(m)
            fit = float(tr.fit_seconds.median()) / n_ctx
        except NoData:
            fit = 0.0
        rows.append(
            {
                "method": method_label(m),
                "fit s per forecast": fit,
                "forecast s per forecast": float(timing.predict_seconds.median()) / n_ctx,
                "contexts per system": n_ctx,
            }
        )
    if not rows:
        raise NoData("no prediction timings in this run")
    return pd.DataFrame(rows)
