"""The leaderboard: methods ranked across systems on each metric family, beside the floors.

Every method's score on a system is its mean over seeds. Across systems (each dataset
setting counts separately) the table gives the median with a bootstrap interval over
systems and seeds, the mean rank (1 = best; NaN, e.g. a diverged run, ranks last) with its
interval, and the truth floor: for the long-term metrics the value between two
independent true trajectories, for the short-term ones the oracle ``truth``'s score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.ticker import NullFormatter

from dsrbench.reports import stats
from dsrbench.reports.results import NoData, Run
from dsrbench.reports.specs import MetricSpec
from dsrbench.reports.style import method_color, method_label, new_figure, no_data, order_methods

__all__ = ["floor_ratio_figure", "leaderboard_table", "rank_figure", "scores_figure"]


def _floor_interval(
    run: Run, spec: MetricSpec, scores: pd.DataFrame, n_boot: int
) -> stats.Interval:
    """The floor across systems: floor rows, or the oracle's score for short-term metrics."""
    if spec.has_floor:
        per = scores.drop_duplicates(["dataset", "system"])
        groups = [np.array([v]) for v in per["floor"]]
    else:
        truth = scores[scores["method"] == "truth"]
        groups = [g["value"].to_numpy() for _, g in truth.groupby(["dataset", "system"])]
    return stats.bootstrap_ci(groups, n_boot=n_boot)


def leaderboard_table(
    run: Run, specs: tuple[MetricSpec, ...], *, n_boot: int = 2000
) -> pd.DataFrame:
    """One row per (metric, method), ranked methods first, the oracle last; a metric the
    run lacks gets one row saying so."""
    rows = []
    for spec in specs:
        try:
            scores = run.scores(spec.metric, spec.horizon)
        except NoData as exc:
            rows.append(
                {"metric": spec.label, "method": "—", "median [95% CI]": f"not in this run ({exc})"}
            )
            continue
        floor = _floor_interval(run, spec, scores, n_boot)
        ranked = scores[scores["method"] != "truth"]
        summary = stats.summarize(ranked, higher_is_better=spec.higher_is_better, n_boot=n_boot)
        summary = summary.assign(order=[iv.estimate for iv in summary["rank"]]).sort_values("order")
        truth = scores[scores["method"] == "truth"]
        if not truth.empty:
            t = stats.summarize(truth, higher_is_better=spec.higher_is_better, n_boot=n_boot)
            summary = pd.concat([summary, t.assign(rank=[None])], ignore_index=True)
        for r in summary.itertuples():
            rows.append(
                {
                    "metric": f"{spec.label} ({spec.unit}; {spec.better})",
                    "method": method_label(r.method),
                    "mean rank [95% CI]": r.rank.text(2) if r.rank is not None else "reference",
                    "median [95% CI]": r.value.text(),
                    "truth floor [95% CI]": floor.text(),
                    "systems with a value": f"{r.finite} of {r.systems}",
                }
            )
    table = pd.DataFrame(rows).fillna("")
    table.loc[table["metric"].duplicated(), "metric"] = ""  # name each metric once
    return table


def _positive(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    return v[np.isfinite(v) & (v > 0)]


def scores_figure(run: Run, specs: tuple[MetricSpec, ...], *, n_boot: int = 2000):
    """One panel per metric: each method's median across systems with its bootstrap
    interval, the truth floor as a grey band (its interval) and dashed line (median)."""
    n = len(specs)
    ncols = min(n, 3)
    nrows = int(np.ceil(n / ncols))
    fig = new_figure(4.6 * ncols, 0.35 * max(len(run.methods), 3) * nrows + 1.6 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    any_data = False
    for ax, spec in zip(axes, specs, strict=False):
        ax.set_title(spec.label, fontsize=10)
        try:
            scores = run.scores(spec.metric, spec.horizon)
        except NoData as exc:
            no_data(ax, f"not in this run:\n{exc}")
            continue
        any_data = True
        methods = [m for m in order_methods(scores["method"])]
        ys = np.arange(len(methods))[::-1]
        positives = []
        for y, method in zip(ys, methods, strict=True):
            sub = scores[scores["method"] == method]
            groups = [g["value"].to_numpy() for _, g in sub.groupby(["dataset", "system"])]
            iv = stats.bootstrap_ci(groups, n_boot=n_boot)
            if not np.isfinite(iv.estimate):
                ax.text(
                    0.02,
                    y,
                    "no finite value (diverged or undefined)",
                    transform=ax.get_yaxis_transform(),
                    fontsize=7,
                    va="center",
                    color=method_color(method),
                )
                continue
            positives.extend([iv.estimate, iv.low, iv.high])
            ax.errorbar(
                iv.estimate,
                y,
                xerr=iv.errorbar(),
                fmt="o",
                color=method_color(method),
                capsize=3,
                ms=6,
            )
        floor = _floor_interval(run, spec, scores, n_boot)
        if np.isfinite(floor.estimate):
            ax.axvspan(floor.low, floor.high, color="#cccccc", alpha=0.6, lw=0, label="truth floor")
            ax.axvline(floor.estimate, color="#555555", ls="--", lw=1)
            positives.extend([floor.estimate])
        ax.set_yticks(ys, [method_label(m) for m in methods], fontsize=8)
        ax.set_ylim(-0.7, len(methods) - 0.3)
        ax.set_xlabel(spec.axis_label)
        if spec.log and _positive(np.array(positives)).size and np.all(np.array(positives) > 0):
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(axis="x", alpha=0.3)
    for ax in axes[n:]:
        ax.set_visible(False)
    if not any_data:
        raise NoData("none of " + ", ".join(s.label for s in specs) + " is in this run")
    fig.suptitle("median across systems, 95% bootstrap interval; grey: truth floor", fontsize=10)
    return fig


def _pivot(run: Run, spec: MetricSpec, value: str) -> pd.DataFrame:
    scores = run.scores(spec.metric, spec.horizon)
    scores = scores[scores["method"] != "truth"]
    if value == "rank":
        table = stats.rank_methods(scores, higher_is_better=spec.higher_is_better)
    else:
        table = stats.seed_means(scores)
        table["ratio"] = table["value"] / table["floor"]
    several = table["dataset"].nunique() > 1
    table["column"] = table["system"] + (" (" + table["dataset"] + ")" if several else "")
    piv = table.pivot(index="method", columns="column", values=value)
    return piv.loc[order_methods(piv.index)]


def _heatmap(
    fig, ax, piv: pd.DataFrame, *, norm=None, cmap="viridis", label: str, fmt_cell
) -> None:
    data = piv.to_numpy(dtype=float)
    masked = np.ma.masked_invalid(data)
    im = ax.imshow(masked, aspect="auto", cmap=cmap, norm=norm, interpolation="nearest")
    ax.set_facecolor("#e0e0e0")
    ax.set_yticks(range(len(piv.index)), [method_label(m) for m in piv.index], fontsize=8)
    small = 4 if piv.shape[1] > 120 else 6 if piv.shape[1] > 30 else 8
    ax.set_xticks(range(piv.shape[1]), list(piv.columns), rotation=90, fontsize=small)
    if piv.size <= 400:
        for (i, j), v in np.ndenumerate(data):
            if np.isfinite(v):
                r, g, b, _ = im.cmap(im.norm(v))
                color = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"
            else:
                color = "#555555"
            ax.text(j, i, fmt_cell(v), ha="center", va="center", fontsize=7, color=color)
    fig.colorbar(im, ax=ax, label=label, shrink=0.9)


def rank_figure(run: Run, specs: tuple[MetricSpec, ...]):
    """Rank of each method on each system (1 = best), one panel per metric."""
    panels = []
    for spec in specs:
        try:
            panels.append((spec, _pivot(run, spec, "rank")))
        except NoData:
            continue
    if not panels:
        raise NoData("no ranked metric in this run")
    n_cols = max(p.shape[1] for _, p in panels)
    n_rows = max(p.shape[0] for _, p in panels)
    fig = new_figure(min(30.0, max(6.0, 0.28 * n_cols + 3)), (0.35 * n_rows + 1.8) * len(panels))
    axes = fig.subplots(len(panels), 1, squeeze=False).ravel()
    for ax, (spec, piv) in zip(axes, panels, strict=True):
        _heatmap(
            fig,
            ax,
            piv,
            cmap="viridis_r",
            label="rank (1 = best)",
            fmt_cell=lambda v: f"{v:g}" if np.isfinite(v) else "",
        )
        ax.set_title(f"rank on {spec.label} ({spec.better})", fontsize=10)
        ax.set_xlabel("system")
    return fig


def floor_ratio_figure(run: Run, specs: tuple[MetricSpec, ...]):
    """Each method's long-term score divided by the system's truth floor (1 = as good as a
    second true trajectory), log colour scale; grey: no finite value (diverged, failed)."""
    panels = []
    for spec in specs:
        if not spec.has_floor:
            continue
        try:
            piv = _pivot(run, spec, "ratio")
        except NoData:
            continue
        if _positive(piv.to_numpy()).size:
            panels.append((spec, piv))
    if not panels:
        raise NoData("no long-term metric with a truth floor in this run")
    n_cols = max(p.shape[1] for _, p in panels)
    n_rows = max(p.shape[0] for _, p in panels)
    fig = new_figure(min(30.0, max(6.0, 0.28 * n_cols + 3)), (0.35 * n_rows + 1.8) * len(panels))
    axes = fig.subplots(len(panels), 1, squeeze=False).ravel()
    for ax, (spec, piv) in zip(axes, panels, strict=True):
        pos = _positive(piv.to_numpy())
        lo, hi = min(pos.min(), 0.5), max(pos.max(), 2.0)
        _heatmap(
            fig,
            ax,
            piv.where(piv > 0),
            norm=LogNorm(lo, hi),
            cmap="magma_r",
            label="score / truth floor",
            fmt_cell=lambda v: f"{v:.2g}" if np.isfinite(v) else "×",
        )
        ax.set_title(f"{spec.label}: score / truth floor (1 = at the floor)", fontsize=10)
        ax.set_xlabel("system")
    return fig
