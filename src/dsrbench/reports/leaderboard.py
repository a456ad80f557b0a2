"""The leaderboard: methods ranked across systems on each metric family, beside the floors.

Every method's score on a system is its median over seeds (seeds first, then systems).
Across systems (each dataset setting counts separately) the table gives the median with a
bootstrap interval over systems and seeds, the mean rank (1 = best; NaN, e.g. a diverged
run, ranks last) with its interval, and the truth floor: for the long-term metrics the
value between two independent true trajectories, for the short-term ones the oracle
``truth``'s score. :func:`seed_spread_table` sets the spread over seeds beside the spread
over systems; :func:`system_matrix` / :func:`systems_heatmap_figure` show every system
(rows) against every method (columns); :func:`chaos_selection` keeps or drops the systems
that are not chaotic (:func:`dsrbench.systems.chaos_flag`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.ticker import FuncFormatter, NullFormatter

from dsrbench import systems as registry
from dsrbench.references import TRUTH
from dsrbench.reports import stats
from dsrbench.reports.results import NoData, Run
from dsrbench.reports.specs import MetricSpec
from dsrbench.reports.style import method_color, method_label, new_figure, no_data, order_methods

__all__ = [
    "chaos_selection",
    "floor_ratio_figure",
    "leaderboard_table",
    "rank_figure",
    "scores_figure",
    "seed_spread_table",
    "system_matrix",
    "systems_heatmap_figure",
]


def _floor_interval(
    run: Run, spec: MetricSpec, scores: pd.DataFrame, n_boot: int
) -> stats.Interval:
    """The floor across systems: floor rows, or the oracle's score for short-term metrics."""
    if spec.has_floor:
        per = scores.drop_duplicates(["dataset", "system"])
        groups = [np.array([v]) for v in per["floor"]]
    else:
        truth = scores[scores["method"] == TRUTH]
        groups = [g["value"].to_numpy() for _, g in truth.groupby(["dataset", "system"])]
    return stats.bootstrap_ci(groups, within="median", n_boot=n_boot)


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
        ranked = scores[scores["method"] != TRUTH]
        summary = stats.summarize(ranked, higher_is_better=spec.higher_is_better, n_boot=n_boot)
        summary = summary.assign(order=[iv.estimate for iv in summary["rank"]]).sort_values("order")
        truth = scores[scores["method"] == TRUTH]
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
            iv = stats.bootstrap_ci(groups, within="median", n_boot=n_boot)
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
    scores = scores[scores["method"] != TRUTH]
    if value == "rank":
        table = stats.rank_methods(scores, higher_is_better=spec.higher_is_better)
    else:
        table = stats.seed_medians(scores)
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


# ------------------------------------------------------------------ non-chaotic systems
def chaos_selection(
    systems: list[str],
    *,
    exclude_nonchaotic: bool,
    flags: Mapping[str, Any] | None = None,
) -> tuple[list[str], pd.DataFrame]:
    """The systems to rank and the table of the non-chaotic ones among ``systems``.

    ``flags``: system name -> a flag with ``chaotic``, ``reason`` and ``max_lyapunov``
    (:func:`dsrbench.systems.chaos_flags`; looked up there when None or when it lacks a
    system). Returns ``systems`` without the non-chaotic ones when ``exclude_nonchaotic``,
    else all of them, and one row per non-chaotic system (system, largest Lyapunov
    exponent, reason, whether it was excluded).
    """
    flags = dict(flags or {})
    rows = []
    for name in systems:
        flag = flags.get(name)
        if flag is None:
            flag = registry.chaos_flag(name)
        if not flag.chaotic:
            rows.append(
                {
                    "system": name,
                    "largest Lyapunov exponent": stats.fmt(flag.max_lyapunov),
                    "why it is not counted as chaotic": flag.reason,
                    "excluded from the ranking": "yes" if exclude_nonchaotic else "no",
                }
            )
    table = pd.DataFrame(
        rows,
        columns=[
            "system",
            "largest Lyapunov exponent",
            "why it is not counted as chaotic",
            "excluded from the ranking",
        ],
    )
    nonchaotic = set(table["system"])
    kept = [s for s in systems if not (exclude_nonchaotic and s in nonchaotic)]
    return kept, table


# ------------------------------------------------------------------ seeds against systems
def seed_spread_table(
    run: Run, specs: tuple[MetricSpec, ...], *, methods: list[str] | None = None
) -> pd.DataFrame:
    """Per metric and method: the spread over seeds (median over systems of the per-system
    seed std and IQR) beside the spread over systems (IQR over systems of the per-system
    seed medians), from :func:`dsrbench.reports.stats.seed_spread`."""
    rows = []
    for spec in specs:
        try:
            scores = run.scores(spec.metric, spec.horizon, methods=methods)
        except NoData:
            continue
        spread = stats.seed_spread(scores)
        spread = spread.set_index("method").loc[order_methods(spread["method"])]
        for method, r in spread.iterrows():
            rows.append(
                {
                    "metric": spec.label,
                    "method": method_label(method),
                    "median over systems": stats.fmt(r["median"]),
                    "IQR over systems (of seed medians)": stats.fmt(r["system_iqr"]),
                    "seed std (median over systems)": stats.fmt(r["seed_std"]),
                    "seed IQR (median over systems)": stats.fmt(r["seed_iqr"]),
                    "systems with ≥ 2 finite seeds": (
                        f"{int(r['systems_with_seeds'])} of {int(r['systems'])}"
                    ),
                }
            )
    if not rows:
        raise NoData("none of " + ", ".join(s.label for s in specs) + " is in this run")
    table = pd.DataFrame(rows)
    table.loc[table["metric"].duplicated(), "metric"] = ""
    return table


# ------------------------------------------------------------------ systems x methods
def system_matrix(scores: pd.DataFrame, *, value: str = "value") -> pd.DataFrame:
    """Systems (rows; ``system (dataset)`` when the table holds several dataset settings)
    x methods (columns, display order; the ``truth`` oracle left out) of the seed median
    (``value="value"``) or of the seed median divided by the system's truth floor
    (``value="ratio"``; 1 = as good as a second true trajectory). ``scores``: rows of one
    metric as :meth:`Run.scores` returns them. NaN: no finite seed."""
    if value not in ("value", "ratio"):
        raise ValueError(f"value must be 'value' or 'ratio' (got {value!r})")
    sc = scores[scores["method"] != TRUTH]
    if sc.empty:
        raise NoData("no learned method in this table")
    table = stats.seed_medians(sc)
    if value == "ratio":
        table["value"] = table["value"] / table["floor"]
    several = table["dataset"].nunique() > 1
    table["row"] = table["system"] + (" (" + table["dataset"] + ")" if several else "")
    piv = table.pivot(index="row", columns="method", values="value")
    piv = piv[order_methods(piv.columns)]
    piv.index.name, piv.columns.name = "system", "method"
    return piv.sort_index()


def systems_heatmap_figure(
    run: Run,
    specs: tuple[MetricSpec, ...],
    *,
    order_by: str | None = None,
):
    """One panel per metric, systems as rows and methods as columns, side by side with a
    shared row order: long-term metrics with a truth floor as score / floor on a log
    scale (1 = at the floor), the others as the seed median. Rows sorted by the median
    over methods of ``order_by``'s panel (default the first; best reconstructed first).
    The height grows with the number of systems, so 135 rows stay readable."""
    panels = []
    for spec in specs:
        try:
            scores = run.scores(spec.metric, spec.horizon)
            piv = system_matrix(scores, value="ratio" if spec.has_floor else "value")
        except NoData:
            continue
        panels.append((spec, piv))
    if not panels:
        raise NoData("none of " + ", ".join(s.label for s in specs) + " is in this run")
    rows = sorted(set().union(*(p.index for _, p in panels)))
    key_spec, key = next(((s, p) for s, p in panels if s.key == order_by), panels[0])
    med = key.reindex(rows).median(axis=1, skipna=True)
    med = -med if key_spec.higher_is_better else med
    rows = list(med.sort_values(na_position="last", kind="stable").index)
    n = len(rows)
    label_size = 8 if n <= 30 else 6.5 if n <= 80 else 5.5
    row_h = 0.3 if n <= 30 else 0.16 if n <= 80 else 0.12
    width = sum(max(2.6, 0.42 * p.shape[1] + 1.6) for _, p in panels) + 1.6
    fig = new_figure(width, row_h * n + 2.4)
    axes = fig.subplots(1, len(panels), squeeze=False).ravel()
    for i, (ax, (spec, piv)) in enumerate(zip(axes, panels, strict=True)):
        piv = piv.reindex(rows)
        data = piv.to_numpy(dtype=float)
        pos = _positive(data)
        if spec.has_floor and pos.size:
            norm = LogNorm(min(pos.min(), 0.5), max(pos.max(), 2.0))
            shown = np.where(data > 0, data, np.nan)
            cmap, label = "magma_r", "score / truth floor (log)"
        else:
            norm, shown = None, data
            cmap = "viridis" if spec.higher_is_better else "viridis_r"
            label = spec.axis_label
        im = ax.imshow(
            np.ma.masked_invalid(shown),
            aspect="auto",
            cmap=cmap,
            norm=norm,
            interpolation="nearest",
        )
        ax.set_facecolor("#e0e0e0")
        ax.set_xticks(
            range(piv.shape[1]),
            [method_label(m) for m in piv.columns],
            rotation=60,
            ha="right",
            fontsize=8,
        )
        if i == 0:
            ax.set_yticks(range(n), rows, fontsize=label_size)
        else:
            ax.set_yticks(range(n), [""] * n)
        ax.xaxis.set_ticks_position("top")
        ax.xaxis.set_label_position("top")
        ax.tick_params(axis="x", bottom=False, top=True, labelbottom=False, labeltop=True)
        if piv.size <= 300:
            for (r, c), v in np.ndenumerate(shown):
                if not np.isfinite(v) and np.isfinite(data[r, c]):  # floor <= 0: no ratio
                    ax.text(c, r, "–", ha="center", va="center", fontsize=6.5, color="#555")
                elif np.isfinite(v):
                    ax.text(
                        c,
                        r,
                        f"{v:.2g}",
                        ha="center",
                        va="center",
                        fontsize=6.5,
                        color="white" if _dark(im, v) else "black",
                    )
                else:
                    ax.text(c, r, "×", ha="center", va="center", fontsize=6.5, color="#555")
        ax.set_title(f"{spec.label}\n({spec.better})", fontsize=9)
        bar = fig.colorbar(
            im,
            ax=ax,
            label=label,
            shrink=min(0.9, 6 / max(row_h * n, 1) + 0.3),
            location="bottom",
            pad=0.02,
        )
        if norm is not None:  # log: label 1, 2, 5 x 10^k only (no overlapping labels)
            bar.ax.xaxis.set_minor_formatter(FuncFormatter(_one_two_five))
            bar.ax.xaxis.set_major_formatter(FuncFormatter(_one_two_five))
    fig.suptitle(
        f"{n} systems, median over seeds; grey ×: no finite value (diverged, failed); "
        "grey –: a truth floor ≤ 0, no ratio",
        fontsize=9,
    )
    return fig


def _one_two_five(v: float, _pos: int | None = None) -> str:
    """A log axis label at 1, 2 and 5 times a power of ten, blank elsewhere."""
    if not (np.isfinite(v) and v > 0):
        return ""
    lead = v / 10 ** np.floor(np.log10(v) + 1e-9)
    return f"{v:g}" if any(np.isclose(lead, (1, 2, 5), rtol=1e-6)) else ""


def _dark(im, v: float) -> bool:
    r, g, b, _ = im.cmap(im.norm(v))
    return 0.299 * r + 0.587 * g + 0.114 * b < 0.5
