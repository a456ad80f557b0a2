"""The Gilpin 2023 page ("Model scale versus domain knowledge in statistical forecasting of
chaotic systems"): the paper's seven figures on this run, the ranking and its Spearman rank
correlation with the published order, the tuned hyperparameters and the training times
(docs/protocols.md, "Published figures").

The error at the fixed horizon is ``smape_fixed`` (sMAPE, 0-100, over the first 200
forecast steps; ``smape`` over the whole forecast where a run has no ``_fixed`` rows); the
error against forecast time is ``smape200`` (cumulative sMAPE, 0-200) at the run's horizons
in Lyapunov times. Figures 1-3 and the ranking compare every model on the same systems:
those where each model has a finite error (seeds aggregated by their median first); the
figures say how many, and how many each model's non-finite forecasts took out.
"""

from __future__ import annotations

import importlib.resources
import json
import math
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from io import StringIO

import numpy as np
import pandas as pd

from dsrbench.references import FLOOR, NAMES, TRUTH
from dsrbench.reports import stats
from dsrbench.reports.published import (
    GILPIN2023_COUNTERPARTS,
    GILPIN2023_LAST,
    GILPIN2023_POSITIONS,
    GILPIN2023_RANKING,
    GILPIN2023_REFERENCE,
    GILPIN2023_TRAINING_SECONDS,
    published_table,
)
from dsrbench.reports.results import NoData, Run
from dsrbench.reports.specs import spec
from dsrbench.reports.style import method_color, method_label, new_figure, no_data, order_methods
from dsrbench.systems import UnknownSystemError, get_system_info

__all__ = [
    "CUMULATIVE_SMAPE",
    "FIXED_SMAPE",
    "INVARIANTS",
    "Common",
    "common_systems",
    "data_limited_figure",
    "error_correlation_figure",
    "error_vs_horizon_figure",
    "fixed_horizon_figure",
    "fixed_metric",
    "gilpin_rank_correlation",
    "gilpin_rank_correlation_sentence",
    "gilpin_rank_correlation_table",
    "gilpin_ranking_figure",
    "gilpin_ranking_table",
    "invariant_ranks",
    "invariants_figure",
    "lyapunov_correlation_figure",
    "scope_sentence",
    "time_vs_error_figure",
    "training_time_table",
    "tuned_hyperparameters_table",
    "widest_models",
    "widest_ranking_table",
    "per_system_comparison",
    "per_system_summary",
    "per_system_table",
    "per_system_figure",
    "per_system_missing_sentence",
    "fine_scores",
    "published_hyperparameters",
    "hyperparameter_agreement",
    "hyperparameter_agreement_table",
    "tuned_choices",
]

FIXED_SMAPE = "smape_fixed"
CUMULATIVE_SMAPE = "smape200"
LONG_SMAPE = spec("smape")

#: (metric, label) of the invariant-property errors of figure 6 (the last one is optional)
INVARIANTS = (
    ("D_H", "power spectrum (D_H)"),
    ("lyapunov_rel_error", "largest Lyapunov exponent (|rel. error|)"),
    ("D_frac", "correlation dimension (error)"),
    ("D_stsp", "state-space geometry (D_stsp)"),
    ("lyapunov_spectrum_error", "Lyapunov spectrum (error)"),
)


def _label(metric: str) -> str:
    return {
        FIXED_SMAPE: "sMAPE, first 200 steps (0-100)",
        "smape": "sMAPE, whole forecast (0-100)",
        CUMULATIVE_SMAPE: "cumulative sMAPE (0-200)",
    }.get(metric, metric)


def _fallback(metric: str) -> str:
    if metric == FIXED_SMAPE:
        return ""
    return " [no smape_fixed rows in this run: sMAPE over the whole forecast instead]"


def _has(run: Run, metric: str) -> bool:
    m = run.metrics
    v = m.loc[(m["metric"] == metric) & (m["method"] != FLOOR), "value"].astype(float)
    return bool(np.isfinite(v).any())


def fixed_metric(run: Run) -> str:
    """``smape_fixed`` when the run has it, else ``smape`` (NoData when neither)."""
    for metric in (FIXED_SMAPE, LONG_SMAPE.metric):
        if _has(run, metric):
            return metric
    raise NoData("no sMAPE at the fixed horizon (smape_fixed) or over the forecast (smape)")


# ------------------------------------------------------------------- common systems
@dataclass
class Common:
    """Seed medians of one metric on the systems where every model has a finite value.

    ``values``: (dataset, system) x models; ``total``: systems with a row of the metric;
    ``lost``: per model, the systems its non-finite (diverged, failed) or missing values
    took out; ``dropped``: models with no finite value at all (left out)."""

    metric: str
    horizon: float | None
    values: pd.DataFrame
    total: int
    lost: dict[str, int] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def models(self) -> list[str]:
        return list(self.values.columns)

    @property
    def ranks(self) -> pd.DataFrame:
        """Rank of each model within each system (1 = lowest error, ties averaged)."""
        return self.values.rank(axis=1, method="average")

    @property
    def mean_rank(self) -> pd.Series:
        """Mean rank across the common systems, best first."""
        return self.ranks.mean().sort_values(kind="stable")

    def text(self) -> str:
        """``n = .. of .. systems`` and what took the others out."""
        out = f"n = {self.n} of {self.total} systems (those where every model has a finite value"
        if self.lost:
            worst = sorted(self.lost.items(), key=lambda kv: -kv[1])[:4]
            out += "; not finite or missing: " + ", ".join(
                f"{method_label(m)} on {k}" for m, k in worst
            )
        out += ")"
        if self.dropped:
            out += "; no finite value, left out: " + ", ".join(map(method_label, self.dropped))
        return out


def common_systems(
    run: Run, metric: str, horizon: float | None = None, *, models: list[str] | None = None
) -> Common:
    """The :class:`Common` systems of ``metric`` (at ``horizon`` for ``smape200``) of
    ``models`` (default: every model but the ``truth`` oracle with a finite value)."""
    sc = run.scores(metric, horizon)
    sc = sc[sc["method"] != TRUTH]
    if models is not None:
        sc = sc[sc["method"].isin(models)]
    med = stats.seed_medians(sc)
    wide = med.set_index(["dataset", "system", "method"])["value"].unstack("method")
    finite = np.isfinite(wide.astype(float))
    present = [m for m in order_methods(wide.columns) if finite[m].any()]
    wanted = list(models) if models is not None else order_methods([*wide.columns, *run.learned])
    dropped = [m for m in wanted if m not in present]
    if not present:
        raise NoData(f"no model has a finite {metric} in this run")
    keep = finite[present].all(axis=1)
    lost = {m: int((~finite[m]).sum()) for m in present if (~finite[m]).any()}
    values = wide.loc[keep, present].astype(float)
    name = metric if horizon is None else f"{metric} at {horizon:g} Lyapunov times"
    if values.empty:
        raise NoData(
            f"no system where every model ({', '.join(map(method_label, present))}) has a "
            f"finite {name}"
        )
    common = Common(metric, horizon, values, len(wide), lost, dropped)
    common.values = values[list(common.mean_rank.index)]
    return common


def _horizons(run: Run) -> list[float]:
    m = run.metrics
    sel = m[(m["metric"] == CUMULATIVE_SMAPE) & np.isfinite(m["value"].astype(float))]
    return sorted({float(h) for h in sel["horizon"].astype(float) if np.isfinite(h)})


def _by_horizon(run: Run) -> dict[float, Common]:
    out = {}
    for h in _horizons(run):
        try:
            out[h] = common_systems(run, CUMULATIVE_SMAPE, h)
        except NoData:
            continue
    if not out:
        raise NoData(f"no {CUMULATIVE_SMAPE} (cumulative sMAPE in Lyapunov times) in this run")
    return out


def _lyapunov(systems) -> np.ndarray:
    out = []
    for s in systems:
        try:
            lam = get_system_info(s).maximum_lyapunov_estimated
        except UnknownSystemError:
            lam = None
        out.append(math.nan if lam is None else float(lam))
    return np.asarray(out, dtype=float)


def _title(fig, text: str) -> None:
    width = int(fig.get_size_inches()[0] * 15)
    fig.suptitle(textwrap.fill(text, width), fontsize=8)


# ------------------------------------------------------------------- 1. fixed horizon
def fixed_horizon_figure(run: Run, *, n_boot: int = 2000):
    """Figure 1: per-system sMAPE at the fixed horizon, one swarm per model (ordered by
    the median), with the median and its 95% bootstrap interval."""
    common = common_systems(run, fixed_metric(run))
    med = common.values.median().sort_values(kind="stable")
    fig = new_figure(max(6.0, 0.55 * len(med) + 2.5), 4.8)
    ax = fig.subplots()
    rng = np.random.default_rng(0)
    for i, model in enumerate(med.index):
        v = common.values[model].to_numpy()
        ax.scatter(
            i + rng.uniform(-0.28, 0.28, size=v.size),
            v,
            s=9,
            color=method_color(model),
            alpha=0.55,
            lw=0,
        )
        iv = stats.bootstrap_ci([np.array([x]) for x in v], n_boot=n_boot)
        ax.errorbar(i, iv.estimate, yerr=iv.errorbar(), fmt="_", color="black", ms=18, capsize=5)
    ax.set_xticks(
        range(len(med)), [method_label(m) for m in med.index], rotation=45, ha="right", fontsize=8
    )
    if (common.values.to_numpy() > 0).all():
        ax.set_yscale("log")
    ax.set_ylabel(_label(common.metric))
    ax.grid(axis="y", alpha=0.3)
    _title(
        fig,
        f"per-system error, median and 95% interval (black); {common.text()}"
        + _fallback(common.metric),
    )
    return fig


# ------------------------------------------------------------------- 2. error vs horizon
def error_vs_horizon_figure(run: Run):
    """Figure 2: cumulative sMAPE against forecast time (Lyapunov times), median over the
    common systems of each horizon; the legend ordered by mean rank across horizons and
    systems."""
    per = _by_horizon(run)
    ranks = pd.concat([c.ranks.stack() for c in per.values()])
    order = list(ranks.groupby(level=-1).mean().sort_values(kind="stable").index)
    fig = new_figure(8, 4.8)
    ax = fig.subplots()
    for model in order:
        pts = [(h, float(c.values[model].median())) for h, c in per.items() if model in c.models]
        x, y = zip(*pts, strict=True)
        ax.plot(x, y, "-o", ms=4, color=method_color(model), label=method_label(model))
    hs = list(per)
    if min(hs) > 0:
        ax.set_xscale("log")
    ax.set_xticks(hs, [f"{h:g}\n{per[h].n}" for h in hs], fontsize=7)
    ax.minorticks_off()
    ax.set_xlabel("forecast time (Lyapunov times); below: systems n at that time")
    ax.set_ylabel("cumulative sMAPE (0-200), median over systems")
    ax.grid(alpha=0.3)
    ax.legend(
        fontsize=7,
        title="by mean rank",
        title_fontsize=7,
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
    )
    _title(fig, "every model on the same systems at each time (those where all are finite)")
    return fig


# ------------------------------------------------------------------- 3. error correlation
def error_correlation_figure(run: Run):
    """Figure 3: Spearman correlation between the models' per-system errors at the fixed
    horizon (models ordered by mean rank)."""
    common = common_systems(run, fixed_metric(run))
    if common.n < 3 or len(common.models) < 2:
        raise NoData(f"fewer than 3 common systems or 2 models for a correlation ({common.text()})")
    corr = common.values.corr(method="spearman").to_numpy()
    labels = [method_label(m) for m in common.models]
    k = len(labels)
    fig = new_figure(max(5.0, 0.45 * k + 2.5), max(4.2, 0.45 * k + 1.8))
    ax = fig.subplots()
    im = ax.imshow(corr, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(k), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), labels, fontsize=8)
    if k <= 16:
        for i in range(k):
            for j in range(k):
                if np.isfinite(corr[i, j]):
                    ax.text(j, i, f"{corr[i, j]:.2f}", ha="center", va="center", fontsize=6)
    fig.colorbar(im, ax=ax, label="Spearman ρ across systems", shrink=0.8)
    _title(fig, f"{_label(common.metric)}; {common.text()}{_fallback(common.metric)}")
    return fig


# ------------------------------------------------------------------- 4. error vs lambda_max
def lyapunov_correlation_figure(run: Run):
    """Figure 4: Spearman correlation across systems between each model's cumulative sMAPE
    and the system's largest Lyapunov exponent (dysts estimate), against forecast time."""
    from scipy.stats import spearmanr

    per = _by_horizon(run)
    curves: dict[str, list[tuple[float, float]]] = {}
    for h, c in per.items():
        lam = _lyapunov(c.values.index.get_level_values("system"))
        for model in c.models:
            v = c.values[model].to_numpy()
            ok = np.isfinite(lam) & np.isfinite(v)
            if ok.sum() < 3 or np.unique(v[ok]).size < 2 or np.unique(lam[ok]).size < 2:
                continue
            curves.setdefault(model, []).append((h, float(spearmanr(v[ok], lam[ok]).statistic)))
    if not curves:
        raise NoData("fewer than 3 systems with a λ_max and a varying error at every time")
    fig = new_figure(8, 4.5)
    ax = fig.subplots()
    ranks = pd.concat([c.ranks.stack() for c in per.values()])
    for model in ranks.groupby(level=-1).mean().sort_values(kind="stable").index:
        if model not in curves:
            continue
        x, y = zip(*curves[model], strict=True)
        ax.plot(x, y, "-o", ms=4, color=method_color(model), label=method_label(model))
    hs = list(per)
    if min(hs) > 0:
        ax.set_xscale("log")
    ax.set_xticks(hs, [f"{h:g}\n{per[h].n}" for h in hs], fontsize=7)
    ax.minorticks_off()
    ax.axhline(0, color="#555555", lw=0.8)
    ax.set_ylim(-1, 1)
    ax.set_xlabel("forecast time (Lyapunov times); below: systems n at that time")
    ax.set_ylabel("Spearman ρ (cumulative sMAPE, λ_max)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    _title(fig, "correlation across systems of each model's error with λ_max")
    return fig


# ------------------------------------------------------------------- 5. time vs error
def _median_seconds(frame: pd.DataFrame, column: str) -> float:
    per = frame.groupby(["dataset", "system"])[column].median()
    per = per[np.isfinite(per) & (per > 0)]
    return float(per.median()) if len(per) else math.nan


def time_vs_error_figure(run: Run):
    """Figure 5: median training time (left) and inference time (right) per system against
    the median error at the fixed horizon (common systems); hollow markers: the paper's
    median training time of the same model, at our error."""
    common = common_systems(run, fixed_metric(run))
    error = common.values.median()
    fig = new_figure(12.5, 4.6)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, kind in zip(axes, ("training", "inference"), strict=True):
        drawn = 0
        for model in common.models:
            try:
                if kind == "training":
                    t = _median_seconds(run.training(model), "fit_seconds")
                else:
                    t = _median_seconds(run.prediction_timing(model), "predict_seconds")
            except NoData:
                continue
            if not np.isfinite(t):
                continue
            color = method_color(model)
            ax.scatter(t, error[model], s=50, color=color, label=method_label(model), zorder=3)
            drawn += 1
            pub = GILPIN2023_TRAINING_SECONDS.get(GILPIN2023_COUNTERPARTS.get(model, ""))
            if kind == "training" and pub is not None:
                ax.scatter(pub, error[model], s=50, facecolors="none", edgecolors=color, zorder=3)
                ax.plot([t, pub], [error[model]] * 2, ":", color=color, lw=1)
        if not drawn:
            no_data(ax, f"no {kind} times in this run")
            continue
        if kind == "training":
            ours = {GILPIN2023_COUNTERPARTS.get(m) for m in common.models}
            for name, secs in GILPIN2023_TRAINING_SECONDS.items():
                if name in ours:
                    continue
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
        ax.set_xlabel(
            "median training time per system (s); hollow / dotted: Gilpin 2023's medians"
            if kind == "training"
            else "median inference time per system (s)"
        )
        ax.grid(alpha=0.3)
    # One legend beside both panels: inside either it hides the points of up to 26 models.
    handles, labels = max(
        (ax.get_legend_handles_labels() for ax in axes), key=lambda hl: len(hl[1])
    )
    if labels:
        fig.legend(handles, labels, fontsize=7, loc="outside right center")
    axes[0].set_ylabel(f"median {_label(common.metric)}")
    _title(fig, common.text() + _fallback(common.metric))
    return fig


# ------------------------------------------------------------------- 6. invariants
def invariant_ranks(run: Run) -> pd.DataFrame:
    """Mean rank (1 = best) of each model on each invariant-property error, models x
    properties. On each property: the models with a finite value somewhere, on the
    systems where each of them has a row; a non-finite value (a diverged free run) ranks
    last. ``attrs``: per property, the number of systems and of models ranked."""
    cols, info = {}, {}
    for metric, label in INVARIANTS:
        try:
            sc = run.scores(metric)
        except NoData:
            continue
        sc = sc[sc["method"] != TRUTH].copy()
        if metric.startswith("lyapunov"):
            sc["value"] = sc["value"].abs()
        med = stats.seed_medians(sc)
        models = [
            m for m, g in med.groupby("method") if np.isfinite(g["value"].astype(float)).any()
        ]
        med = med[med["method"].isin(models)]
        counts = med.groupby(["dataset", "system"])["method"].nunique()
        full = counts[counts == len(models)].index
        med = med.set_index(["dataset", "system"]).loc[full].reset_index()
        if med.empty or len(models) < 2:
            continue
        ranked = stats.rank_methods(med.assign(seed=0, floor=math.nan), higher_is_better=False)
        cols[label] = ranked.groupby("method")["rank"].mean()
        info[label] = {"systems": len(full), "models": len(models)}
    if not cols:
        raise NoData(
            "no invariant-property error (D_H, lyapunov_rel_error, D_frac, D_stsp) with two "
            "models in this run"
        )
    table = pd.DataFrame(cols)
    table = table.loc[table.mean(axis=1).sort_values(kind="stable").index]
    table.attrs["info"] = info
    return table


def invariants_figure(run: Run):
    """Figure 6: mean rank of each model on each invariant-property error (heat map)."""
    table = invariant_ranks(run)
    info = table.attrs["info"]
    k, p = table.shape
    fig = new_figure(max(5.5, 1.6 * p + 3), max(3.5, 0.4 * k + 2.2))
    ax = fig.subplots()
    im = ax.imshow(table.to_numpy(), cmap="viridis_r", aspect="auto")
    ax.set_yticks(range(k), [method_label(m) for m in table.index], fontsize=8)
    ax.set_xticks(
        range(p),
        [f"{c}\n{info[c]['models']} models, n = {info[c]['systems']}" for c in table.columns],
        fontsize=7,
        rotation=20,
        ha="right",
    )
    mid = float(np.nanmean(table.to_numpy()))
    for i in range(k):
        for j in range(p):
            v = table.iat[i, j]
            ax.text(
                j,
                i,
                "—" if not np.isfinite(v) else f"{v:.1f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if np.isfinite(v) and v > mid else "black",
            )
    fig.colorbar(im, ax=ax, label="mean rank across systems (1 = best)", shrink=0.8)
    _title(fig, "non-finite (diverged) values rank last; — : no value of that model")
    return fig


# ------------------------------------------------------------------- 7. data limited
def _data_limited_records(run: Run) -> pd.DataFrame:
    rows = []
    for method in run.learned:
        try:
            tr = run.training(method)
        except NoData:
            continue
        if "data_limited" not in tr:
            continue
        for r in tr.itertuples():
            for rec in r.data_limited or []:
                if not isinstance(rec, dict):
                    continue
                rows.append(
                    {
                        "method": method,
                        "dataset": r.dataset,
                        "system": r.system,
                        "seed": r.seed,
                        "train_length": rec.get("train_length"),
                        "smape": rec.get("smape"),
                        "fit_seconds": rec.get("fit_seconds"),
                    }
                )
    df = pd.DataFrame(
        rows,
        columns=["method", "dataset", "system", "seed", "train_length", "smape", "fit_seconds"],
    )
    for c in ("train_length", "smape", "fit_seconds"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    return df[np.isfinite(df["train_length"]) & np.isfinite(df["smape"])]


def data_limited_figure(run: Run):
    """Figure 7: sMAPE against the training length, from the ``data_limited`` records of
    ``training.json`` (median over systems, one line per model); else from dataset
    settings that differ only in their trajectory length (an older sweep)."""
    recs = _data_limited_records(run)
    if recs.empty:
        return _data_limited_sweep_figure(run)
    per = recs.groupby(["method", "train_length", "dataset", "system"], as_index=False)[
        "smape"
    ].median()
    fig = new_figure(8, 4.5)
    ax = fig.subplots()
    ns = []
    for method in order_methods(per["method"]):
        sub = per[per["method"] == method]
        curve = sub.groupby("train_length")["smape"].agg(["median", "size"])
        ns += list(curve["size"])
        ax.plot(
            curve.index,
            curve["median"],
            "-o",
            ms=4,
            color=method_color(method),
            label=method_label(method),
        )
    ax.set_xscale("log")
    ax.set_xlabel("training length (points)")
    ax.set_ylabel("sMAPE over the first 200 steps (0-200), median over systems")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    _title(fig, f"systems per point: {min(ns)} to {max(ns)}")
    return fig


def _data_limited_sweep_figure(run: Run):
    settings = {}
    for dataset in run.datasets:
        for system in run.systems:
            try:
                ds = run.dataset_store(dataset, system)
            except (NoData, TypeError):
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
            "no data-limited records (training.json's data_limited) and no data-limited sweep "
            "(dataset settings that differ only in length) in this run"
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


# ------------------------------------------------------------------- the ranking
def _ranked(run: Run, n_boot: int, models: list[str] | None = None) -> tuple[pd.DataFrame, Common]:
    common = common_systems(run, fixed_metric(run), models=models)
    keys = set(common.values.index)
    sc = run.scores(common.metric, methods=common.models)
    sc = sc[[k in keys for k in zip(sc["dataset"], sc["system"], strict=True)]]
    summary = stats.summarize(sc, higher_is_better=False, n_boot=n_boot)
    summary["order"] = [iv.estimate for iv in summary["rank"]]
    return summary.sort_values("order", ignore_index=True), common


def gilpin_ranking_table(
    run: Run, *, n_boot: int = 2000, models: list[str] | None = None
) -> pd.DataFrame:
    """Our ranking at the fixed horizon (mean rank across the common systems of ``models``,
    default all), with the published position of each method's Gilpin 2023 counterpart."""
    summary, common = _ranked(run, n_boot, models)
    n_pub = len(GILPIN2023_POSITIONS)
    rows = []
    for i, r in enumerate(summary.itertuples()):
        counterpart = GILPIN2023_COUNTERPARTS.get(r.method)
        if r.method in GILPIN2023_REFERENCE:
            pub = "reference forecaster (not ranked against the paper)"
        elif counterpart is None:
            pub = "—"
        elif counterpart in GILPIN2023_POSITIONS:
            pub = f"{counterpart}: {GILPIN2023_POSITIONS[counterpart]} of {n_pub}"
        else:
            pub = f"{counterpart}: not among the {n_pub} the paper orders"
        rows.append(
            {
                "our rank": i + 1,
                "method": method_label(r.method),
                "mean rank [95% CI]": r.rank.text(2),
                f"median {_label(common.metric)} [95% CI]": r.value.text(),
                "systems": r.systems,
                "published (Gilpin 2023)": pub,
            }
        )
    return pd.DataFrame(rows)


def scope_sentence(run: Run) -> str:
    """What the page covers: the dataset settings (granularities) with their systems, and
    the models that ran on only some of them. Every (setting, system) pair counts as one
    system in the figures and the rankings."""
    m = run.metrics[~run.metrics["method"].isin(NAMES)]
    per = m.groupby("dataset")["system"].nunique()
    text = "Dataset settings on this page: " + ", ".join(
        f"{d} ({n} systems)" for d, n in per.items()
    )
    if len(per) > 1:
        text += (
            ". Each (setting, system) pair counts as one system in the figures and rankings below"
        )
        where = m.groupby("method")["dataset"].unique().map(lambda d: ", ".join(sorted(d)))
        partial = where[where != ", ".join(per.index)]
        if not partial.empty:
            text += "; " + "; ".join(
                f"{', '.join(method_label(x) for x in order_methods(group.index))} only on {ds}"
                for ds, group in partial.groupby(partial)
            )
    return text + "."


def widest_models(run: Run) -> list[str]:
    """The models (the oracle aside) run on the most systems, counting every (dataset,
    system) with a row of any status, when some other model ran on fewer (a budget that
    limits the costly models to a subset). Raises :class:`NoData` when every model ran on
    the same systems, so that the common-systems ranking already covers them all."""
    m = run.metrics
    m = m[~m["method"].isin(NAMES)]
    counts = m.drop_duplicates(["method", "dataset", "system"]).groupby("method").size()
    if counts.empty or counts.nunique() == 1:
        raise NoData("every model ran on the same systems: the ranking above covers them all")
    top = [x for x in order_methods(counts.index) if counts[x] == counts.max()]
    if len(top) < 2:
        raise NoData(f"only {method_label(top[0])} ran on all {counts.max()} systems")
    return top


def widest_ranking_table(run: Run, *, n_boot: int = 2000) -> pd.DataFrame:
    """:func:`gilpin_ranking_table` of the :func:`widest_models` alone, over their common
    systems: the whole-database result that the ranking of every model, limited to the
    systems all of them ran on, cannot show."""
    return gilpin_ranking_table(run, n_boot=n_boot, models=widest_models(run))


def gilpin_ranking_figure(run: Run, *, n_boot: int = 2000):
    """Mean rank at the fixed horizon with its bootstrap interval, beside the published
    order."""
    summary, common = _ranked(run, n_boot)
    names = [*GILPIN2023_RANKING, "…", *GILPIN2023_LAST]
    fig = new_figure(10, 0.4 * max(len(summary), len(names)) + 1.8)
    ax, ax_pub = fig.subplots(1, 2, width_ratios=[3, 2])
    ys = np.arange(len(summary))[::-1]
    for y, r in zip(ys, summary.itertuples(), strict=True):
        iv = r.rank
        ax.errorbar(
            iv.estimate, y, xerr=iv.errorbar(), fmt="o", color=method_color(r.method), capsize=3
        )
    ax.set_yticks(ys, [method_label(m) for m in summary["method"]])
    ax.set_xlabel(f"mean rank on {_label(common.metric)} (1 = best)")
    ax.set_title(f"this run, 95% bootstrap interval; n = {common.n} systems", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    present = set(summary["method"])
    for i, name in enumerate(names):
        ours = [m for m, c in GILPIN2023_COUNTERPARTS.items() if c == name and m in present]
        m = ours[0] if ours else None
        ax_pub.text(
            0.05,
            1 - (i + 0.5) / len(names),
            f"{GILPIN2023_POSITIONS.get(name, '')}  {name}"
            + (f"  ← {method_label(m)}" if m else ""),
            fontsize=9,
            va="center",
            fontweight="bold" if m else "normal",
            color=method_color(m) if m else "black",
            transform=ax_pub.transAxes,
        )
    ax_pub.axis("off")
    ax_pub.set_title("published order (Gilpin 2023)", fontsize=9)
    return fig


def _published_models(run: Run, metric: str) -> dict[str, str]:
    """Published name -> our method standing for it (the first counterpart with a finite
    value of ``metric``; reference forecasters never)."""
    m = run.metrics
    sel = m[(m["metric"] == metric) & np.isfinite(m["value"].astype(float))]
    have = set(sel["method"])
    out: dict[str, str] = {}
    for ours, name in GILPIN2023_COUNTERPARTS.items():
        if name in GILPIN2023_POSITIONS and ours in have and ours not in GILPIN2023_REFERENCE:
            out.setdefault(name, ours)
    return out


def gilpin_rank_correlation(
    run: Run, models: list[str] | None = None
) -> tuple[pd.DataFrame, float, int]:
    """Spearman rank correlation between our order (mean rank at the fixed horizon over
    the systems where each compared model is finite) and the published one, over the 12
    models the paper orders (KalmanForecaster and ExponentialSmoothing at 11 and 12) that
    this run has (among ``models`` when given). Returns (table, rho, n); rho is NaN when
    fewer than 3 models are present. The table has one row per published model (``our
    position`` empty when the run lacks it) and ``attrs["systems"]``."""
    from scipy.stats import spearmanr

    metric = fixed_metric(run)
    chosen = _published_models(run, metric)
    if models is not None:
        chosen = {name: ours for name, ours in chosen.items() if ours in models}
    ranks: dict[str, float] = {}
    n_systems = 0
    if chosen:
        common = common_systems(run, metric, models=list(chosen.values()))
        ranks = common.mean_rank.to_dict()
        n_systems = common.n
    order = sorted(ranks, key=ranks.get)
    rows = []
    for name, pos in GILPIN2023_POSITIONS.items():
        ours = chosen.get(name)
        ok = ours in ranks
        rows.append(
            {
                "published model": name,
                "published position": pos,
                "our method": f"{method_label(ours)} ({ours})" if ours else "not in this run",
                "our mean rank": ranks[ours] if ok else math.nan,
                "our position": order.index(ours) + 1 if ok else math.nan,
            }
        )
    table = pd.DataFrame(rows)
    table.attrs["systems"] = n_systems
    table.attrs["metric"] = metric
    present = table[np.isfinite(table["our mean rank"])]
    n = len(present)
    rho = math.nan
    if n >= 3:
        rho = float(spearmanr(present["published position"], present["our mean rank"]).statistic)
    return table, rho, n


def gilpin_rank_correlation_table(run: Run) -> pd.DataFrame:
    """:func:`gilpin_rank_correlation`'s table, formatted for the page."""
    table, _, _ = gilpin_rank_correlation(run)
    out = table.copy()
    out["our mean rank"] = [stats.fmt(v, 3) for v in table["our mean rank"]]
    out["our position"] = [
        "—" if not np.isfinite(v) else str(int(v)) for v in table["our position"]
    ]
    return out


def gilpin_rank_correlation_sentence(run: Run, models: list[str] | None = None) -> str:
    """The rank correlation (over ``models`` when given) in one sentence, also when it
    cannot be computed."""
    try:
        table, rho, n = gilpin_rank_correlation(run, models)
    except NoData as exc:
        return f"The rank correlation with the published order cannot be computed: {exc}."
    last = " and ".join(GILPIN2023_LAST)
    basis = (
        f"the {len(GILPIN2023_POSITIONS)} models the paper orders (its top "
        f"{len(GILPIN2023_RANKING)}, then {last}, which it places last, given positions "
        f"{len(GILPIN2023_RANKING) + 1} and {len(GILPIN2023_POSITIONS)})"
    )
    if n < 3:
        return (
            f"The Spearman rank correlation with the published order cannot be computed: "
            f"only {n} of {basis} are in this run (3 are needed)."
        )
    return (
        f"Spearman rank correlation between our order ({_label(table.attrs['metric'])}, mean "
        f"rank over n = {table.attrs['systems']} systems where every compared model is "
        f"finite) and the published one: **ρ = {rho:.2f}** over n = {n} of {basis}."
        + _fallback(table.attrs["metric"])
    )


# ------------------------------------------------------------------- tables
def training_time_table(run: Run) -> pd.DataFrame:
    """Our median training and inference time per system beside Gilpin 2023's training
    time for the same model."""
    rows = []
    for method in run.learned:
        try:
            train = _median_seconds(run.training(method), "fit_seconds")
        except NoData:
            train = math.nan
        try:
            infer = _median_seconds(run.prediction_timing(method), "predict_seconds")
        except NoData:
            infer = math.nan
        if not (np.isfinite(train) or np.isfinite(infer)):
            continue
        counterpart = GILPIN2023_COUNTERPARTS.get(method)
        pub = GILPIN2023_TRAINING_SECONDS.get(counterpart) if counterpart else None
        rows.append(
            {
                "method": method_label(method),
                "median training time per system (s), this run": stats.fmt(train),
                "median inference time per system (s), this run": stats.fmt(infer),
                "Gilpin 2023 counterpart": counterpart or "—",
                "published median training time (s, one CPU)": stats.fmt(pub)
                if pub is not None
                else "—",
            }
        )
    named = {GILPIN2023_COUNTERPARTS.get(m) for m in run.learned}
    for name, secs in GILPIN2023_TRAINING_SECONDS.items():
        if name not in named:
            rows.append(
                {
                    "method": "not in this run",
                    "median training time per system (s), this run": "—",
                    "median inference time per system (s), this run": "—",
                    "Gilpin 2023 counterpart": name,
                    "published median training time (s, one CPU)": stats.fmt(secs),
                }
            )
    if not rows:
        raise NoData("no training records in this run")
    return pd.DataFrame(rows)


def _values(grid) -> dict[str, list]:
    """A tuning grid as parameter -> candidate values (a dict of lists or a list of dicts)."""
    if isinstance(grid, dict):
        return {k: list(v) if isinstance(v, list | tuple) else [v] for k, v in grid.items()}
    out: dict[str, list] = {}
    if isinstance(grid, list):
        for point in grid:
            if isinstance(point, dict):
                for k, v in point.items():
                    if v not in out.setdefault(k, []):
                        out[k].append(v)
    return out


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def tuned_hyperparameters_table(run: Run) -> pd.DataFrame:
    """Per model and grid parameter: the most frequent best value across systems (from
    ``tuning.best`` of ``training.json``), how often it won and the grid. A model without
    tuning records gets one row: the most frequent set of hyperparameters it was fitted
    with."""
    rows = []
    for method in run.learned:
        try:
            tr = run.training(method)
        except NoData:
            continue
        tunings = [t for t in tr.get("tuning", pd.Series(dtype=object)) if isinstance(t, dict)]
        bests = [t["best"] for t in tunings if isinstance(t.get("best"), dict)]
        if not bests:
            votes = Counter(h for h in tr["hyperparameters"] if isinstance(h, str) and h != "{}")
            if votes:
                value, count = votes.most_common(1)[0]
                rows.append(
                    {
                        "method": method_label(method),
                        "parameter": "all (no tuning record: the values it was fitted with)",
                        "most frequent value": value,
                        "systems": f"{count} of {sum(votes.values())}",
                        "grid": "—",
                        "source": "training.json hyperparameters",
                    }
                )
            continue
        grid: dict[str, list] = {}
        for t in tunings:
            for k, v in _values(t.get("grid")).items():
                grid.setdefault(k, [])
                grid[k] += [x for x in v if x not in grid[k]]
        params = list(grid) or sorted({k for b in bests for k in b})
        for param in params:
            votes = Counter(_text(b[param]) for b in bests if param in b)
            if not votes:
                continue
            value, count = votes.most_common(1)[0]
            rows.append(
                {
                    "method": method_label(method),
                    "parameter": param,
                    "most frequent value": value,
                    "systems": f"{count} of {sum(votes.values())}",
                    "grid": ", ".join(_text(v) for v in grid.get(param, [])) or "—",
                    "source": f"tuning.best ({tunings[0].get('metric', 'score')})",
                }
            )
    if not rows:
        raise NoData("no tuning records or hyperparameters in this run's training records")
    return pd.DataFrame(rows)


# ------------------------------------------------------------------- per system, against the paper
#: the dataset setting of configs/gilpin2023.yaml that matches the published per-system
#: sMAPE (100 points per period, 1000 training points, the first 200 forecast steps)
FINE = "fine"
#: the published rows' ``variant`` marks the systems dysts changed since the paper's commit
CHANGED_MARK = "not like-for-like"
#: how many systems the summary names as disagreeing most (largest |log ratio|)
TOP_DISAGREEING = 5
#: (published model, published hyperparameter) -> ours, where the names differ: the
#: reservoirpy NVAR's delay is our NG-RC's k, the neural ODE's tau our seq_len (Gilpin 2023's
#: ``tau_val``, same grids); darts' lags and input_chunk_length and the ESN leak rate match
HYPERPARAMETER_NAMES = {("NVAR", "delay"): "k", ("NODE", "tau"): "seq_len"}
_HYPERPARAMETERS_CSV = "data/published/gilpin2023_hyperparameters.csv"


def _published_rows(published: pd.DataFrame | None) -> pd.DataFrame:
    """The Gilpin 2023 per-system ``smape_fixed`` rows of :func:`published_table` (or of a
    frame with its columns): published_method, system, published, changed_system."""
    if published is None:
        published = published_table()
    pub = published
    if "paper" in pub:
        pub = pub[pub["paper"] == "Gilpin 2023"]
    if "metric" in pub:
        pub = pub[pub["metric"] == FIXED_SMAPE]
    if "found" in pub:
        pub = pub[pub["found"].astype(bool)]
    variant = pub["variant"] if "variant" in pub else pd.Series("", index=pub.index)
    out = pd.DataFrame(
        {
            "published_method": pub["published_method"].astype(str),
            "system": pub["system"].astype(str),
            "published": pd.to_numeric(pub["value"], errors="coerce").astype(float),
            "changed_system": variant.astype(str).str.contains(CHANGED_MARK, regex=False),
        }
    )
    return out[np.isfinite(out["published"])].reset_index(drop=True)


def _counterpart(published_method: str, present: set[str]) -> tuple[str, bool]:
    """Our method for a published model: the first of GILPIN2023_COUNTERPARTS' names present
    (else the first name), and whether one is present."""
    names = [o for o, t in GILPIN2023_COUNTERPARTS.items() if t == published_method]
    for name in names:
        if name in present:
            return name, True
    return (names[0] if names else ""), False


def per_system_comparison(
    scores: pd.DataFrame, published: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Our per-system sMAPE against Gilpin 2023's, one row per (model, system) where both
    are finite: method, published_method, system, ours, published, ratio (ours /
    published), log_ratio (natural log; NaN where either is 0) and changed_system (the
    published row's ``variant`` says the system changed in dysts since the paper).

    ``scores``: our rows (method, system, value; seeds, if any, aggregated by their median),
    on the published scale: ``smape_fixed`` of the ``fine`` setting (0-100, first 200 steps
    after 1000 training points). ``published``: :func:`published_table` (default) or a frame
    with its columns published_method, system, value and variant (``value`` already on 0-100,
    the paper's 0-200 halved). Published names map to ours by GILPIN2023_COUNTERPARTS."""
    pub = _published_rows(published)
    ours = (
        scores.assign(value=pd.to_numeric(scores["value"], errors="coerce").astype(float))
        .groupby(["method", "system"], observed=True)["value"]
        .median()
        .rename("ours")
        .reset_index()
    )
    present = set(ours["method"])
    pub["method"] = [_counterpart(m, present)[0] for m in pub["published_method"]]
    out = pub.merge(ours, on=["method", "system"], how="inner")
    out = out[np.isfinite(out["ours"]) & np.isfinite(out["published"])]
    out = out[(out["published"] > 0) | (out["ours"] > 0)]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ratio"] = out["ours"] / out["published"]
        out["log_ratio"] = np.log(out["ratio"].where(out["ratio"] > 0))
    out["log_ratio"] = out["log_ratio"].where(np.isfinite(out["log_ratio"]))
    cols = ["method", "published_method", "system", "ours", "published", "ratio", "log_ratio"]
    return out[[*cols, "changed_system"]].sort_values(["method", "system"]).reset_index(drop=True)


def _rho(a: pd.Series, b: pd.Series) -> float:
    from scipy.stats import spearmanr

    if len(a) < 3 or a.nunique() < 2 or b.nunique() < 2:
        return math.nan
    return float(spearmanr(a, b).statistic)


def per_system_summary(
    comparison: pd.DataFrame, published: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per published model of :func:`per_system_comparison`: method, published_method, n,
    rho (Spearman's rho over systems, ours against published), median_ratio (ours /
    published), the same without the systems dysts changed since the paper (n_like,
    rho_like, median_ratio_like), changed (those systems) and disagreeing (the
    TOP_DISAGREEING systems with the largest |log ratio|, as "system (ratio)"). With
    ``published``, its models that have no row in ``comparison`` get a row with n = 0 and
    ``status`` "no run on this page"; the others "compared"."""
    rows = []
    for (method, pm), sub in comparison.groupby(["method", "published_method"], sort=False):
        like = sub[~sub["changed_system"].astype(bool)]
        worst = sub.loc[sub["log_ratio"].abs().dropna().sort_values(ascending=False).index]
        rows.append(
            {
                "method": method,
                "published_method": pm,
                "status": "compared",
                "n": len(sub),
                "rho": _rho(sub["ours"], sub["published"]),
                "median_ratio": float(sub["ratio"].median()),
                "n_like": len(like),
                "rho_like": _rho(like["ours"], like["published"]),
                "median_ratio_like": float(like["ratio"].median()) if len(like) else math.nan,
                "changed": sorted(sub.loc[sub["changed_system"].astype(bool), "system"]),
                "disagreeing": [
                    f"{r.system} ({r.ratio:.3g})" for r in worst.head(TOP_DISAGREEING).itertuples()
                ],
            }
        )
    if published is not None:
        done = {r["published_method"] for r in rows}
        present = set(comparison["method"])
        for pm in sorted(set(_published_rows(published)["published_method"]) - done):
            rows.append(
                {
                    "method": _counterpart(pm, present)[0],
                    "published_method": pm,
                    "status": "no run on this page",
                    "n": 0,
                    "rho": math.nan,
                    "median_ratio": math.nan,
                    "n_like": 0,
                    "rho_like": math.nan,
                    "median_ratio_like": math.nan,
                    "changed": [],
                    "disagreeing": [],
                }
            )
    return pd.DataFrame(rows, columns=_SUMMARY_COLUMNS)


_SUMMARY_COLUMNS = [
    "method",
    "published_method",
    "status",
    "n",
    "rho",
    "median_ratio",
    "n_like",
    "rho_like",
    "median_ratio_like",
    "changed",
    "disagreeing",
]


def fine_scores(run: Run, dataset: str = FINE) -> pd.DataFrame:
    """Our ``smape_fixed`` rows of the ``fine`` setting (the published numbers' protocol),
    the ``truth`` oracle left out; :class:`NoData` when the run has none."""
    if dataset not in run.datasets:
        raise NoData(
            f"no '{dataset}' dataset setting on this page (it has "
            f"{', '.join(run.datasets) or 'none'}): the published per-system sMAPE is at 100 "
            "points per period"
        )
    sc = run.scores(FIXED_SMAPE, dataset=dataset)
    return sc[sc["method"] != TRUTH]


def _fmt(value: float) -> str:
    return stats.fmt(value) if np.isfinite(value) else "—"


def per_system_table(run: Run, published: pd.DataFrame | None = None) -> pd.DataFrame:
    """The page's table of :func:`per_system_summary` on this run's ``fine`` setting: per
    published model, n, rho and the median ratio with and without the changed systems, the
    changed systems and the most disagreeing; models without a run say so."""
    if published is None:
        published = published_table()
    comp = per_system_comparison(fine_scores(run), published)
    summary = per_system_summary(comp, published)
    rows = []
    for r in summary.itertuples():
        ran = r.status == "compared"
        rows.append(
            {
                "Gilpin 2023 model": r.published_method,
                "ours": method_label(r.method) if r.method else "—",
                "n systems": r.n if ran else "no run on this page",
                "Spearman ρ": _fmt(r.rho) if ran else "—",
                "median ratio (ours / published)": _fmt(r.median_ratio) if ran else "—",
                "without changed systems: n, ρ, median ratio": (
                    f"{r.n_like}, {_fmt(r.rho_like)}, {_fmt(r.median_ratio_like)}" if ran else "—"
                ),
                "changed systems (not like-for-like)": ", ".join(r.changed) or "—",
                f"disagree most (ratio; top {TOP_DISAGREEING})": ", ".join(r.disagreeing) or "—",
            }
        )
    return pd.DataFrame(rows)


def per_system_missing_sentence(run: Run, published: pd.DataFrame | None = None) -> str:
    """Which published models have no run on this page (empty string when all ran)."""
    pub = _published_rows(published)
    try:
        present = set(fine_scores(run)["method"])
    except NoData:
        present = set()
    missing = []
    for pm in sorted(set(pub["published_method"])):
        ours, ran = _counterpart(pm, present)
        if not ran:
            missing.append(f"{pm} ({ours or 'no counterpart'})")
    if not missing:
        return ""
    return (
        "Published per-system scores, but no run of ours on this page (the fine setting): "
        + ", ".join(missing)
        + "."
    )


def per_system_figure(run: Run, published: pd.DataFrame | None = None):
    """Our per-system sMAPE against Gilpin 2023's, one panel per model with published scores
    and a run, one point per system, both on 0-100 and log axes; the diagonal is agreement,
    crosses are systems dysts changed since the paper (not like-for-like)."""
    comp = per_system_comparison(fine_scores(run), published)
    if comp.empty:
        raise NoData("no model of this run has published per-system scores (Gilpin 2023)")
    summary = per_system_summary(comp).set_index("published_method")
    models = order_methods(comp["method"].unique())
    k = len(models)
    cols = min(4, k)
    rows = math.ceil(k / cols)
    fig = new_figure(3.2 * cols + 0.4, 3.2 * rows + 0.6)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, method in zip(axes, models, strict=False):
        sub = comp[comp["method"] == method]
        pm = sub["published_method"].iloc[0]
        s = summary.loc[pm]
        changed = sub["changed_system"].astype(bool)
        color = method_color(method)
        ax.scatter(
            sub.loc[~changed, "published"],
            sub.loc[~changed, "ours"],
            s=12,
            color=color,
            alpha=0.7,
            lw=0,
            label="like-for-like",
        )
        if changed.any():
            ax.scatter(
                sub.loc[changed, "published"],
                sub.loc[changed, "ours"],
                s=22,
                marker="x",
                color="black",
                lw=1,
                label="system changed since the paper",
            )
        pos = sub[["published", "ours"]].to_numpy()
        pos = pos[pos > 0]
        lo, hi = (pos.min() / 1.5, pos.max() * 1.5) if pos.size else (0.1, 100)
        ax.plot([lo, hi], [lo, hi], color="#777777", lw=0.8, ls="--")
        if (sub[["published", "ours"]].to_numpy() > 0).all():
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_title(
            f"{method_label(method)} vs {pm}\nn = {s.n}, ρ = {_fmt(s.rho)}, "
            f"median ratio {_fmt(s.median_ratio)}",
            fontsize=8,
        )
        ax.set_xlabel("published sMAPE (0-100)", fontsize=7)
        ax.set_ylabel("our sMAPE (0-100)", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if changed.any():
            ax.legend(fontsize=6, loc="upper left")
    for ax in axes[k:]:
        ax.set_visible(False)
    _title(
        fig,
        "sMAPE over the first 200 steps at 100 points per period after 1000 training points, "
        "ours (fine setting) against Gilpin 2023's per system; dashed: equal",
    )
    return fig


# ------------------------------------------------------------------- hyperparameters vs the paper
def published_hyperparameters() -> pd.DataFrame:
    """Gilpin 2023's chosen hyperparameters per model and system (the shipped
    ``gilpin2023_hyperparameters.csv``, values parsed from JSON): model, system,
    hyperparameter, value."""
    text = importlib.resources.files("dsrbench").joinpath(_HYPERPARAMETERS_CSV).read_text()
    df = pd.read_csv(StringIO(text), keep_default_na=False, dtype=str)
    df["value"] = [json.loads(v) if v else None for v in df["value"]]
    return df


def _same(a, b) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def _in(value, grid: list) -> bool:
    return any(_same(value, g) for g in grid)


def hyperparameter_agreement(
    chosen: pd.DataFrame, published: pd.DataFrame, grids: dict[str, dict[str, list]]
) -> pd.DataFrame:
    """Per (our method, parameter): how often our tuned choice equals Gilpin 2023's, counted
    only on systems where the published choice is in our grid (else we could not choose it).

    ``chosen``: method, system, parameter, value (ours: ``tuning.best``). ``published``:
    model, system, hyperparameter, value (:func:`published_hyperparameters`); names map by
    GILPIN2023_COUNTERPARTS and :data:`HYPERPARAMETER_NAMES`. ``grids``: our method ->
    parameter -> candidate values (``training.grids``); only parameters in them compare.
    Columns: method, published_method, parameter, published_parameter, n (systems compared),
    agree, fraction, published (systems with a published choice and ours), not_in_grid."""
    present = set(chosen["method"])
    ours = {(r.method, r.system, r.parameter): r.value for r in chosen.itertuples()}
    counts: dict[tuple[str, str, str, str], list[int]] = {}
    for r in published.itertuples():
        method, _ = _counterpart(r.model, present)
        param = HYPERPARAMETER_NAMES.get((r.model, r.hyperparameter), r.hyperparameter)
        grid = grids.get(method, {}).get(param)
        if grid is None:
            continue
        c = counts.setdefault((method, r.model, param, r.hyperparameter), [0, 0, 0, 0])
        key = (method, r.system, param)
        if key not in ours:
            continue
        c[2] += 1
        if not _in(r.value, grid):
            c[3] += 1
            continue
        c[0] += 1
        c[1] += int(_same(ours[key], r.value))
    rows = [
        {
            "method": method,
            "published_method": pm,
            "parameter": param,
            "published_parameter": pub_param,
            "n": n,
            "agree": agree,
            "fraction": agree / n if n else math.nan,
            "published": both,
            "not_in_grid": outside,
        }
        for (method, pm, param, pub_param), (n, agree, both, outside) in counts.items()
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "method",
            "published_method",
            "parameter",
            "published_parameter",
            "n",
            "agree",
            "fraction",
            "published",
            "not_in_grid",
        ],
    )


def tuned_choices(run: Run, dataset: str = FINE) -> tuple[pd.DataFrame, dict[str, dict]]:
    """Our tuned choices on the ``fine`` setting (method, system, parameter, value from
    ``training.json``'s ``tuning.best``) and each method's grid (from its tuning records:
    the config's ``training.grids``)."""
    rows, grids = [], {}
    for method in run.learned:
        try:
            tr = run.training(method)
        except NoData:
            continue
        tr = tr[tr["dataset"] == dataset]
        for r in tr.itertuples():
            t = r.tuning if isinstance(r.tuning, dict) else None
            if not t or not isinstance(t.get("best"), dict):
                continue
            for k, v in _values(t.get("grid")).items():
                g = grids.setdefault(method, {}).setdefault(k, [])
                g += [x for x in v if x not in g]
            rows.extend(
                {"method": method, "system": r.system, "parameter": k, "value": v}
                for k, v in t["best"].items()
            )
    return pd.DataFrame(rows, columns=["method", "system", "parameter", "value"]), grids


def hyperparameter_agreement_table(run: Run) -> pd.DataFrame:
    """The page's table of :func:`hyperparameter_agreement` on this run's ``fine`` setting."""
    chosen, grids = tuned_choices(run)
    if chosen.empty:
        raise NoData(f"no tuning records (training.json tuning.best) on the '{FINE}' setting")
    agree = hyperparameter_agreement(chosen, published_hyperparameters(), grids)
    if agree.empty:
        raise NoData("no tuned model of this run has published choices (Gilpin 2023)")
    return pd.DataFrame(
        {
            "ours": [method_label(m) for m in agree["method"]],
            "parameter": agree["parameter"],
            "Gilpin 2023": agree["published_method"] + " " + agree["published_parameter"],
            "same choice": [
                f"{a} of {n} ({_fmt(f * 100)}%)" if n else "—"
                for a, n, f in zip(agree["agree"], agree["n"], agree["fraction"], strict=True)
            ],
            "published choice outside our grid": agree["not_in_grid"],
        }
    )
