"""The method page: training curves and time, scores against system properties, and for
the AL-RNN its symbolic code drawn as a graph of linear subregions.

System properties come from the dysts metadata: the largest Lyapunov exponent
(``maximum_lyapunov_estimated``, the one the Lyapunov times use) and the correlation
dimension.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.patches import Circle, FancyArrowPatch

from dsrbench.references import is_truth
from dsrbench.reports import stats
from dsrbench.reports.results import NoData, Run, SymbolicCode
from dsrbench.reports.specs import spec
from dsrbench.reports.style import method_color, method_label, new_figure, no_data, system_color
from dsrbench.systems import get_system_info

__all__ = [
    "properties_figure",
    "symbolic_code_figure",
    "symbolic_code_table",
    "training_curves_figure",
    "training_table",
    "training_time_figure",
]

CURVES = (
    ("loss", "training loss", True),
    ("val_stsp", "validation D_stsp (nats)", True),
    ("lr", "learning rate", True),
    ("alpha", "teacher-forcing α", False),
)


def training_table(run: Run, method: str) -> pd.DataFrame:
    """Per dataset: training jobs by status, median fit time, device, hyperparameters."""
    tr = run.training(method)
    rows = []
    for dataset, sub in tr.groupby("dataset"):
        status = ", ".join(f"{n} {s}" for s, n in sub["status"].value_counts().items())
        fails = sub[sub["status"] != "ok"]
        rows.append(
            {
                "dataset": dataset,
                "jobs": status,
                "median fit time (s)": stats.fmt(float(sub["fit_seconds"].median())),
                "device": ", ".join(sorted({str(d) for d in sub["device"].dropna()})) or "—",
                "epochs run (median)": stats.fmt(float(pd.to_numeric(sub["epochs_run"]).median()))
                if sub["epochs_run"].notna().any()
                else "—",
                "hyperparameters": "; ".join(sorted(set(sub["hyperparameters"]))),
                "failures": "; ".join(f"{r.system}: {r.reason}" for r in fails.itertuples()) or "—",
            }
        )
    return pd.DataFrame(rows)


def training_curves_figure(run: Run, method: str):
    """Loss, validation D_stsp, learning rate and α against the epoch, one line per
    (system, dataset, seed), coloured by system."""
    logs = run.epoch_logs(method)
    panels = [c for c in CURVES if c[0] in logs and np.isfinite(logs[c[0]]).any()]
    if not panels:
        raise NoData(f"{method}'s epoch logs hold none of {', '.join(c[0] for c in CURVES)}")
    fig = new_figure(4.3 * len(panels), 3.6)
    axes = fig.subplots(1, len(panels), squeeze=False).ravel()
    groups = list(logs.groupby(["system", "dataset", "seed"]))
    for ax, (col, label, log) in zip(axes, panels, strict=True):
        for (system, dataset, seed), g in groups:
            y = g[col].to_numpy(dtype=float)
            ok = np.isfinite(y)
            if not ok.any():
                continue
            ax.plot(
                g["epoch"].to_numpy()[ok],
                y[ok],
                color=system_color(system),
                lw=1.1,
                marker="o" if ok.sum() < 30 else None,
                ms=3,
                label=f"{system} ({dataset}, seed {seed})",
            )
        if log and np.nanmin(logs[col].where(logs[col] > 0)) > 0:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    if len(groups) <= 12:
        axes[0].legend(fontsize=7)
    fig.suptitle(f"{method_label(method)}: training curves", fontsize=10)
    return fig


def training_time_figure(run: Run, method: str):
    """Fit time per system (median over seeds; log scale)."""
    tr = run.training(method)
    tr = tr[np.isfinite(tr["fit_seconds"])]
    if tr.empty:
        raise NoData(f"{method}'s training records hold no fit time")
    several = tr["dataset"].nunique() > 1
    med = tr.groupby(["dataset", "system"])["fit_seconds"].median().sort_values()
    labels = [f"{s} ({d})" if several else s for d, s in med.index]
    fig = new_figure(7.5, 0.28 * len(med) + 1.6)
    ax = fig.subplots()
    ax.barh(range(len(med)), med.to_numpy(), color=method_color(method))
    ax.set_yticks(range(len(med)), labels, fontsize=7 if len(med) > 30 else 9)
    ax.set_xlabel("training time (s, wall clock of fit)")
    positive = med.to_numpy() > 0
    if positive.all() and med.max() / med.min() > 20:
        ax.set_xscale("log")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(
        f"{method_label(method)}: training time per system; "
        f"median {stats.fmt(float(med.median()))} s",
        fontsize=10,
    )
    return fig


def _properties(systems: list[str]) -> pd.DataFrame:
    rows = []
    for s in systems:
        info = get_system_info(s)
        rows.append(
            {
                "system": s,
                "lyapunov": info.maximum_lyapunov_estimated,
                "corr_dim": info.correlation_dimension,
            }
        )
    return pd.DataFrame(rows).set_index("system").astype(float)


def properties_figure(run: Run, method: str):
    """VPT and D_stsp / floor against the largest Lyapunov exponent and the correlation
    dimension of each system (mean over seeds; points labelled when few)."""
    targets = []
    for key, ratio in (("vpt_nrmse", False), ("D_stsp", True)):
        s = spec(key)
        try:
            sc = run.scores(s.metric, s.horizon, methods=[method])
        except NoData:
            continue
        m = stats.seed_means(sc)
        m["y"] = m["value"] / m["floor"] if ratio else m["value"]
        targets.append((s, ratio, m))
    if not targets:
        raise NoData(f"neither VPT nor D_stsp of {method} is in this run")
    props = _properties(sorted({s for _, _, m in targets for s in m["system"]}))
    fig = new_figure(9.5, 3.6 * len(targets))
    axes = fig.subplots(len(targets), 2, squeeze=False)
    for row, (s, ratio, m) in enumerate(targets):
        m = m.join(props, on="system")
        for col, (prop, xlabel, logx) in enumerate(
            (
                ("lyapunov", "largest Lyapunov exponent (1 / time unit)", True),
                ("corr_dim", "correlation dimension (dysts metadata)", False),
            )
        ):
            ax = axes[row, col]
            ok = np.isfinite(m[prop]) & np.isfinite(m["y"])
            if not ok.any():
                no_data(ax, f"no system with both {prop} and {s.label}")
                continue
            ax.scatter(m.loc[ok, prop], m.loc[ok, "y"], color=method_color(method), s=28)
            if ok.sum() <= 25:
                for r in m[ok].itertuples():
                    ax.annotate(
                        r.system,
                        (getattr(r, prop), r.y),
                        fontsize=7,
                        xytext=(3, 3),
                        textcoords="offset points",
                    )
            if logx and (m.loc[ok, prop] > 0).all():
                ax.set_xscale("log")
            if (ratio or s.log) and (m.loc[ok, "y"] > 0).all():
                ax.set_yscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(f"{s.label} / truth floor" if ratio else s.axis_label)
            if ok.sum() >= 3:
                from scipy.stats import spearmanr

                rho = spearmanr(m.loc[ok, prop], m.loc[ok, "y"]).statistic
                ax.set_title(f"Spearman ρ = {rho:.2f} over {int(ok.sum())} systems", fontsize=9)
            ax.grid(alpha=0.3)
    fig.suptitle(f"{method_label(method)}: scores against system properties", fontsize=10)
    return fig


def _draw_code(ax, code: SymbolicCode, title: str, max_nodes: int = 24) -> None:
    """Nodes on a circle sized by visit frequency; arrows' widths by transition
    probability (self-transitions as the ring's thickness)."""
    order = np.argsort(code.frequencies)[::-1][:max_nodes]
    n = order.size
    angle = 2 * np.pi * np.arange(n) / max(n, 1) + np.pi / 2
    pos = np.c_[np.cos(angle), np.sin(angle)] if n > 1 else np.zeros((1, 2))
    fmax = code.frequencies[order].max() if n else 1.0
    radius = 0.06 + 0.16 * np.sqrt(code.frequencies[order] / fmax)
    if code.transitions is not None:
        t = code.transitions[np.ix_(order, order)]
        for i in range(n):
            for j in range(n):
                if i == j or t[i, j] < 0.01:
                    continue
                ax.add_patch(
                    FancyArrowPatch(
                        pos[i],
                        pos[j],
                        arrowstyle="-|>",
                        mutation_scale=8 + 6 * t[i, j],
                        lw=0.4 + 4.0 * t[i, j],
                        color="#555555",
                        alpha=0.35 + 0.6 * t[i, j],
                        connectionstyle="arc3,rad=0.15",
                        shrinkA=85 * radius[i],
                        shrinkB=85 * radius[j],
                    )
                )
    for k in range(n):
        self_p = code.transitions[order[k], order[k]] if code.transitions is not None else 0.0
        ax.add_patch(
            Circle(
                pos[k],
                radius[k],
                color=method_color("alrnn"),
                alpha=0.85,
                ec="black",
                lw=0.5 + 3 * self_p,
            )
        )
        ax.text(
            pos[k, 0],
            pos[k, 1],
            code.codes[order[k]],
            ha="center",
            va="center",
            fontsize=7,
            color="white",
        )
    ax.set_xlim(-1.35, 1.35)
    ax.set_ylim(-1.35, 1.35)
    ax.set_aspect("equal")
    ax.axis("off")
    more = f" (top {max_nodes} shown)" if code.n_regions > max_nodes else ""
    ax.set_title(f"{title}\n{code.n_regions} subregions{more}", fontsize=9)


def symbolic_code_figure(run: Run, method: str = "alrnn", *, max_graphs: int = 8):
    """One graph per trained model: linear subregions (sign patterns of the ReLU units) as
    nodes sized by visit frequency, edges by transition probability."""
    codes = run.symbolic_codes(method)[:max_graphs]
    ncols = min(4, len(codes))
    nrows = int(math.ceil(len(codes) / ncols))
    fig = new_figure(max(7.0, 3.4 * ncols), 3.6 * nrows + 0.5)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (dataset, system, seed, code) in zip(axes, codes, strict=False):
        _draw_code(ax, code, f"{system} ({dataset}, seed {seed})")
    for ax in axes[len(codes) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"{method_label(method)} symbolic code: node area ∝ visit frequency,\n"
        "arrow width ∝ transition probability, ring width ∝ probability of staying",
        fontsize=9,
    )
    return fig


def symbolic_code_table(run: Run, method: str = "alrnn") -> pd.DataFrame:
    """Per trained model: number of visited subregions, the most visited ones."""
    rows = []
    for dataset, system, seed, code in run.symbolic_codes(method):
        top = np.argsort(code.frequencies)[::-1][:4]
        rows.append(
            {
                "system": system,
                "dataset": dataset,
                "seed": seed,
                "subregions visited": code.n_regions,
                "most visited (frequency)": ", ".join(
                    f"{code.codes[i]} ({code.frequencies[i]:.2f})" for i in top
                ),
                "transition matrix": "yes" if code.transitions is not None else "not saved",
            }
        )
    return pd.DataFrame(rows)


def check_method(method: str) -> None:
    """Raise for a name that is neither a registered method nor the ``truth`` oracle."""
    if not is_truth(method):
        from dsrbench import methods

        methods.get(method)


SCORE_KEYS = (
    "vpt_nrmse",
    "smape200@1",
    "smape200@4",
    "pe20",
    "D_stsp",
    "D_H",
    "lyapunov_rel_error",
)


def scores_table(run: Run, method: str) -> pd.DataFrame:
    """The method's scores on every system (mean over seeds), long-term ones beside their
    floors."""
    cols: dict[str, pd.Series] = {}
    for key in SCORE_KEYS:
        s = spec(key)
        try:
            sc = run.scores(s.metric, s.horizon, methods=[method])
        except NoData:
            continue
        m = stats.seed_means(sc).set_index(["system", "dataset"])
        diverged = sc[sc["status"] == "diverged"].set_index(["system", "dataset"]).index
        text = m["value"].map(stats.fmt)
        text[text.index.isin(diverged)] += " (diverged)"
        cols[f"{s.label} ({s.unit})"] = text
        if s.has_floor:
            cols[f"{s.label} floor"] = m["floor"].map(stats.fmt)
    if not cols:
        raise NoData(f"{method} has no scores in this run")
    table = pd.DataFrame(cols).reset_index()
    return table.sort_values(["system", "dataset"], ignore_index=True).fillna("n/a")
