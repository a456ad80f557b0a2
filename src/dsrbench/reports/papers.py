"""The paper pages: Gilpin 2023 ("Model scale versus domain knowledge") and the DSR papers
(shPLRNN with generalized teacher forcing, Hess et al. 2023; AL-RNN, Brenner et al. 2024),
our figures beside the published ones (docs/protocols.md, "Published figures").
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from dsrbench.reports import stats
from dsrbench.reports.published import (
    GILPIN2023_COUNTERPARTS,
    GILPIN2023_LAST,
    GILPIN2023_RANKING,
    GILPIN2023_TRAINING_SECONDS,
    dsr_published,
)
from dsrbench.reports.results import NoData, Run
from dsrbench.reports.specs import spec
from dsrbench.reports.style import method_color, method_label, new_figure, no_data, order_methods

__all__ = [
    "DSR_METHODS",
    "DSR_SYSTEMS",
    "data_limited_figure",
    "dsr_bars_figure",
    "dsr_published_table",
    "dsr_table",
    "error_vs_time_figure",
    "gilpin_ranking_figure",
    "gilpin_ranking_table",
    "horizon_figure",
    "training_time_table",
    "vpt_lyapunov_figure",
    "vpt_lyapunov_table",
]

DSR_METHODS = ("shplrnn_gtf", "alrnn")
DSR_SYSTEMS = ("Lorenz", "Rossler")
LONG_SMAPE = spec("smape")


def _ranking(run: Run, n_boot: int) -> pd.DataFrame:
    sc = run.scores(LONG_SMAPE.metric)
    sc = sc[sc["method"] != "truth"]
    summary = stats.summarize(sc, higher_is_better=False, n_boot=n_boot)
    summary["order"] = [iv.estimate for iv in summary["rank"]]
    return summary.sort_values("order", ignore_index=True)


def gilpin_ranking_table(run: Run, *, n_boot: int = 2000) -> pd.DataFrame:
    """Our ranking on sMAPE over the whole forecast (mean rank across systems), with the
    published position of each method's Gilpin 2023 counterpart."""
    summary = _ranking(run, n_boot)
    published = {name: i + 1 for i, name in enumerate(GILPIN2023_RANKING)}
    rows = []
    for i, r in enumerate(summary.itertuples()):
        counterpart = GILPIN2023_COUNTERPARTS.get(r.method)
        if counterpart is None:
            pub = "—"
        elif counterpart in published:
            pub = f"{counterpart}: {published[counterpart]} of the listed {len(GILPIN2023_RANKING)}"
        else:
            pub = f"{counterpart}: not in the published order we list"
        rows.append(
            {
                "our rank": i + 1,
                "method": method_label(r.method),
                "mean rank [95% CI]": r.rank.text(2),
                "median sMAPE [95% CI] (0-100)": r.value.text(),
                "systems": r.systems,
                "published (Gilpin 2023)": pub,
            }
        )
    return pd.DataFrame(rows)


def gilpin_ranking_figure(run: Run, *, n_boot: int = 2000):
    """Mean rank on long-horizon sMAPE with its bootstrap interval, beside the published order."""
    summary = _ranking(run, n_boot)
    fig = new_figure(10, 0.4 * max(len(summary), len(GILPIN2023_RANKING)) + 1.8)
    ax, ax_pub = fig.subplots(1, 2, width_ratios=[3, 2])
    ys = np.arange(len(summary))[::-1]
    for y, r in zip(ys, summary.itertuples(), strict=True):
        iv = r.rank
        ax.errorbar(
            iv.estimate,
            y,
            xerr=iv.errorbar(),
            fmt="o",
            color=method_color(r.method),
            capsize=3,
            ms=7,
        )
    ax.set_yticks(ys, [method_label(m) for m in summary["method"]])
    ax.set_xlabel("mean rank across systems on sMAPE over the forecast (1 = best)")
    ax.set_title("this run (95% bootstrap interval)", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    names = [*GILPIN2023_RANKING, "…", *GILPIN2023_LAST]
    ours = {v: k for k, v in GILPIN2023_COUNTERPARTS.items()}
    for i, name in enumerate(names):
        m = ours.get(name)
        weight = "bold" if m in set(summary["method"]) else "normal"
        ax_pub.text(
            0.05,
            1 - (i + 0.5) / len(names),
            f"{i + 1 if name != '…' else ''}  {name}" + (f"  ← {method_label(m)}" if m else ""),
            fontsize=9,
            va="center",
            fontweight=weight,
            color=method_color(m) if m else "black",
            transform=ax_pub.transAxes,
        )
    ax_pub.axis("off")
    ax_pub.set_title("published order (Gilpin 2023)", fontsize=10)
    return fig


def horizon_figure(run: Run, *, n_boot: int = 2000):
    """sMAPE at 1, 4 and 10 Lyapunov times (median across systems, bootstrap interval)."""
    horizons = (1.0, 4.0, 10.0)
    data = {}
    for h in horizons:
        try:
            data[h] = run.scores("smape200", h)
        except NoData:
            continue
    if not data:
        raise NoData("no sMAPE at 1, 4 or 10 Lyapunov times in this run")
    methods = order_methods(set().union(*(set(d["method"]) for d in data.values())))
    fig = new_figure(8, 4.5)
    ax = fig.subplots()
    for method in methods:
        xs, ys, lo, hi = [], [], [], []
        for h, d in data.items():
            sub = d[d["method"] == method]
            iv = stats.bootstrap_ci(
                [g["value"].to_numpy() for _, g in sub.groupby(["dataset", "system"])],
                n_boot=n_boot,
            )
            if np.isfinite(iv.estimate):
                xs.append(h), ys.append(iv.estimate), lo.append(iv.low), hi.append(iv.high)
        if xs:
            ax.plot(xs, ys, "-o", color=method_color(method), label=method_label(method))
            ax.fill_between(xs, lo, hi, color=method_color(method), alpha=0.12, lw=0)
    missing = [
        f"{h:g}" for h in horizons if h not in data or not np.isfinite(data[h]["value"]).any()
    ]
    ax.set_xscale("log")
    ax.set_xticks(horizons, [f"{h:g}" for h in horizons])
    ax.set_xlabel("forecast horizon (Lyapunov times)")
    ax.set_ylabel("sMAPE (0-200), median across systems")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if missing:
        ax.set_title(
            f"no values at {', '.join(missing)} Lyapunov times (forecast horizon shorter)",
            fontsize=9,
        )
    return fig


def training_time_table(run: Run) -> pd.DataFrame:
    """Our median training time per system beside Gilpin 2023's for the same model."""
    rows = []
    for method in run.learned:
        try:
            tr = run.training(method)
        except NoData:
            continue
        counterpart = GILPIN2023_COUNTERPARTS.get(method)
        pub = GILPIN2023_TRAINING_SECONDS.get(counterpart) if counterpart else None
        rows.append(
            {
                "method": method_label(method),
                "median training time per system (s), this run": stats.fmt(
                    float(tr["fit_seconds"].median())
                ),
                "Gilpin 2023 counterpart": counterpart or "—",
                "published median (s, one CPU)": stats.fmt(pub) if pub is not None else "—",
            }
        )
    for name, secs in GILPIN2023_TRAINING_SECONDS.items():
        if name not in GILPIN2023_COUNTERPARTS.values():
            rows.append(
                {
                    "method": "—",
                    "median training time per system (s), this run": "—",
                    "Gilpin 2023 counterpart": name,
                    "published median (s, one CPU)": stats.fmt(secs),
                }
            )
    if not rows:
        raise NoData("no training records in this run")
    return pd.DataFrame(rows)


def error_vs_time_figure(run: Run, *, n_boot: int = 2000):
    """Median sMAPE over the forecast against median training time per system (log scale),
    with the published training times of Gilpin 2023 marked on the time axis."""
    sc = run.scores(LONG_SMAPE.metric)
    fig = new_figure(8, 4.8)
    ax = fig.subplots()
    drawn = 0
    for method in run.learned:
        try:
            tr = run.training(method)
        except NoData:
            continue
        t = float(tr["fit_seconds"].median())
        sub = sc[sc["method"] == method]
        iv = stats.bootstrap_ci(
            [g["value"].to_numpy() for _, g in sub.groupby(["dataset", "system"])], n_boot=n_boot
        )
        if not (np.isfinite(t) and t > 0 and np.isfinite(iv.estimate)):
            continue
        ax.errorbar(
            t,
            iv.estimate,
            yerr=iv.errorbar(),
            fmt="o",
            color=method_color(method),
            capsize=3,
            ms=8,
            label=method_label(method),
        )
        drawn += 1
    if not drawn:
        raise NoData("no method with both a training time and sMAPE in this run")
    for name, secs in GILPIN2023_TRAINING_SECONDS.items():
        ax.axvline(secs, color="#bbbbbb", lw=0.8, ls=":")
        ax.text(
            secs,
            1.0,
            name,
            rotation=90,
            fontsize=7,
            color="#777777",
            va="top",
            transform=ax.get_xaxis_transform(),
        )
    ax.set_xscale("log")
    ax.set_xlabel("median training time per system (s); dotted: Gilpin 2023's medians")
    ax.set_ylabel("median sMAPE over the forecast (0-100)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    return fig


def _vpt_lyapunov(run: Run) -> pd.DataFrame:
    from dsrbench.systems import get_system_info

    sc = run.scores("vpt_nrmse")
    m = stats.seed_means(sc)
    m["lyapunov"] = [get_system_info(s).maximum_lyapunov_estimated or math.nan for s in m["system"]]
    return m


def vpt_lyapunov_figure(run: Run):
    """VPT (Lyapunov times) against the system's largest Lyapunov exponent, per method."""
    m = _vpt_lyapunov(run)
    fig = new_figure(8, 4.8)
    ax = fig.subplots()
    for method in order_methods(m["method"]):
        sub = m[(m["method"] == method) & np.isfinite(m["value"]) & np.isfinite(m["lyapunov"])]
        if sub.empty:
            continue
        ax.scatter(
            sub["lyapunov"],
            sub["value"],
            color=method_color(method),
            s=24,
            label=method_label(method),
            alpha=0.85,
        )
    if (m["lyapunov"] > 0).all():
        ax.set_xscale("log")
    ax.set_xlabel("largest Lyapunov exponent λ_max (1 / time unit, dysts estimate)")
    ax.set_ylabel("VPT (NRMSE > 0.5) (Lyapunov times)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def vpt_lyapunov_table(run: Run) -> pd.DataFrame:
    """Spearman correlation of VPT with λ_max across systems, per method."""
    from scipy.stats import spearmanr

    m = _vpt_lyapunov(run)
    rows = []
    for method in order_methods(m["method"]):
        sub = m[(m["method"] == method) & np.isfinite(m["value"]) & np.isfinite(m["lyapunov"])]
        n = len(sub)
        if n >= 3 and sub["value"].nunique() > 1:
            res = spearmanr(sub["lyapunov"], sub["value"])
            rho, p = stats.fmt(res.statistic, 2), stats.fmt(res.pvalue, 2)
        else:
            rho, p = "n/a (fewer than 3 systems or constant VPT)", "n/a"
        rows.append({"method": method_label(method), "systems": n, "Spearman ρ": rho, "p-value": p})
    return pd.DataFrame(rows)


def data_limited_figure(run: Run):
    """sMAPE against the training length, when the run has dataset settings that differ
    only in their trajectory length (Gilpin 2023's data-limited sweep)."""
    settings = {}
    for dataset in run.datasets:
        for system in run.systems:
            try:
                ds = run.dataset_store(dataset, system)
            except NoData:
                continue
            settings[dataset] = dict(ds.attrs["generation"]["setting"])
            break
    groups: dict[tuple, list[str]] = {}
    for name, s in settings.items():
        key = tuple(sorted((k, v) for k, v in s.items() if k != "length"))
        groups.setdefault(key, []).append(name)
    sweep = max(groups.values(), key=len, default=[])
    if len(sweep) < 2:
        raise NoData(
            "the run has no data-limited sweep (dataset settings that differ only in length)"
        )
    sc = run.scores(LONG_SMAPE.metric)
    sc = sc[sc["dataset"].isin(sweep)]
    lengths = {d: settings[d]["length"] for d in sweep}
    fig = new_figure(8, 4.5)
    ax = fig.subplots()
    for method in order_methods(sc["method"]):
        pts = []
        for d in sorted(sweep, key=lengths.get):
            sub = sc[(sc["method"] == method) & (sc["dataset"] == d)]
            v = stats.seed_means(sub)["value"]
            if np.isfinite(v).any():
                pts.append((lengths[d], float(np.nanmedian(v))))
        if pts:
            x, y = zip(*pts, strict=True)
            ax.plot(x, y, "-o", color=method_color(method), label=method_label(method))
    ax.set_xscale("log")
    ax.set_xlabel("trajectory length (points per trajectory)")
    ax.set_ylabel("median sMAPE over the forecast (0-100)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


# ------------------------------------------------------------------------------- DSR page
def _dsr_systems(run: Run) -> list[str]:
    present = [s for s in DSR_SYSTEMS if s in run.systems]
    if not present:
        raise NoData(f"neither {' nor '.join(DSR_SYSTEMS)} is in this run")
    return present


def _dsr_methods(run: Run) -> list[str]:
    return order_methods(run.methods)


def _lyapunov_key(run: Run, system: str, method: str) -> str:
    m = run.metrics
    has_qr = m[
        (m["metric"] == "lyapunov_qr_rel_error") & (m["system"] == system) & (m["method"] == method)
    ]
    return "lyapunov_qr_rel_error" if np.isfinite(has_qr["value"]).any() else "lyapunov_rel_error"


def dsr_table(run: Run) -> pd.DataFrame:
    """The reconstruction table: D_stsp and D_H beside their floors, PE(20) and the relative
    error of λ_max (QR on the model's Jacobian where it has one, else Rosenstein) per
    system and method (mean over seeds, range over seeds in brackets)."""
    rows = []

    def cell(metric: str, system: str, method: str) -> tuple[str, str, float]:
        try:
            sc = run.scores(metric, systems=[system], methods=[method])
        except NoData:
            return "n/a", "n/a", math.nan
        v = sc["value"].to_numpy()
        text = stats.fmt(float(np.nanmean(v))) if np.isfinite(v).any() else "n/a"
        if np.isfinite(v).sum() > 1:
            text += f" [{stats.fmt(np.nanmin(v))}, {stats.fmt(np.nanmax(v))}]"
        if (sc["status"] == "diverged").any():
            text += " (diverged)"
        floor = stats.fmt(float(sc["floor"].mean())) if sc["floor"].notna().any() else "n/a"
        return text, floor, float(sc["n_points"].max()) if "n_points" in sc else math.nan

    for system in _dsr_systems(run):
        for method in _dsr_methods(run):
            stsp, stsp_floor, t = cell("D_stsp", system, method)
            dh, dh_floor, _ = cell("D_H", system, method)
            pe, _, _ = cell("pe20", system, method)
            lkey = _lyapunov_key(run, system, method)
            lyap, _, _ = cell(lkey, system, method)
            rows.append(
                {
                    "system": system,
                    "method": method_label(method),
                    "D_stsp (nats)": stsp,
                    "D_stsp floor": stsp_floor,
                    "T": f"{t:.0f}" if np.isfinite(t) else "n/a",
                    "D_H": dh,
                    "D_H floor": dh_floor,
                    "PE(20)": pe,
                    "λ_max rel. error": lyap
                    + (" (QR)" if lkey.startswith("lyapunov_qr") else " (Rosenstein)"),
                }
            )
    return pd.DataFrame(rows)


def dsr_published_table(run: Run) -> pd.DataFrame:
    """The published DSR figures and the reference ranges (docs/protocols.md, docs/metrics.md)
    beside this run's value of the same metric and system for the DSR methods and the oracle."""
    pub = dsr_published()
    ours = []
    for r in pub.itertuples():
        s = spec(r.metric)
        vals = []
        for method in ("shplrnn_gtf", "alrnn", "truth"):
            try:
                sc = run.scores(s.metric, s.horizon, systems=[r.system], methods=[method])
            except NoData:
                continue
            vals.append(f"{method_label(method)} {stats.fmt(float(np.nanmean(sc['value'])))}")
        if s.has_floor and not vals:
            floor = run.floor(s.metric)
            fl = floor[floor.index.get_level_values("system") == r.system]
            if not fl.empty:
                vals.append(f"floor {stats.fmt(float(fl.mean()))}")
        ours.append("; ".join(vals) or "not in this run")
    pub["metric"] = [spec(m).label for m in pub["metric"]]
    pub["this run"] = ours
    return pub


def dsr_bars_figure(run: Run):
    """D_stsp (log) and D_H per method on Lorenz and Rossler; dashed: the truth floor."""
    systems = _dsr_systems(run)
    methods = [m for m in _dsr_methods(run)]
    fig = new_figure(4.8 * len(systems), 7.2)
    axes = fig.subplots(2, len(systems), squeeze=False)
    for col, system in enumerate(systems):
        for row, key in enumerate(("D_stsp", "D_H")):
            ax = axes[row, col]
            s = spec(key)
            try:
                sc = run.scores(key, systems=[system])
            except NoData as exc:
                no_data(ax, str(exc))
                continue
            m = stats.seed_means(sc).set_index("method")
            present = [x for x in methods if x in m.index]
            vals = m.loc[present, "value"].to_numpy(dtype=float)
            bars = np.where(np.isfinite(vals), vals, 0)
            ax.bar(range(len(present)), bars, color=[method_color(x) for x in present])
            for i, v in enumerate(vals):
                if not np.isfinite(v):
                    ax.text(
                        i,
                        0.5,
                        "diverged / n/a",
                        rotation=90,
                        ha="center",
                        va="bottom",
                        fontsize=7,
                        transform=ax.get_xaxis_transform(),
                    )
            floor = float(np.nanmean(m["floor"])) if np.isfinite(m["floor"]).any() else math.nan
            if np.isfinite(floor):
                ax.axhline(floor, color="#555555", ls="--", lw=1, label="truth floor")
                ax.legend(fontsize=7)
            ax.set_xticks(
                range(len(present)),
                [method_label(x) for x in present],
                rotation=45,
                ha="right",
                fontsize=8,
            )
            if s.log and (bars > 0).all():
                ax.set_yscale("log")
            ax.set_ylabel(s.axis_label)
            ax.set_title(
                f"{system}: {s.label} (T = {stats.fmt(float(sc['n_points'].max()))})", fontsize=9
            )
            ax.grid(axis="y", alpha=0.3)
    return fig


def dsr_missing(run: Run) -> list[str]:
    """Sentences on what the DSR page lacks in this run."""
    out = [
        f"{method_label(m)} ({m}) has no results in this run"
        for m in DSR_METHODS
        if m not in run.methods
    ]
    out += [f"{s} is not among this run's systems" for s in DSR_SYSTEMS if s not in run.systems]
    return out
