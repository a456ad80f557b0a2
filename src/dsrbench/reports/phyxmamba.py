"""The PhyxMamba page (Liu et al. 2025, arXiv:2505.23863; ``configs/phyxmamba.yaml``): the
published Lorenz-63 row and Roessler VPT beside ours, ours computed two ways:

* dsrbench's metrics (``metrics.parquet``): VPT and sMAPE@h over the forecast windows,
  D_frac and D_stsp (histograms) between a long free run and a long true run;
* the reference evaluation's variants on the same forecasts
  (:mod:`dsrbench.metrics.forecast_windows`): D_stsp as a Gaussian-mixture KL over 1000
  samples per forecast, D_frac as the RMS difference of Grassberger-Procaccia dimensions,
  VPT by cumulative sMAPE, averaged over all forecasts and over those with D_stsp < 40.

Then the training budget that produced each model, and the learning curves.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from dsrbench.metrics.forecast_windows import (
    STSP_LIMIT,
    WindowScores,
    summarise_windows,
    window_scores,
)
from dsrbench.reports import stats
from dsrbench.reports.papers import present_systems
from dsrbench.reports.published import PHYXMAMBA_PUBLISHED
from dsrbench.reports.results import NoData, Run
from dsrbench.reports.style import method_color, method_label, new_figure, no_data, order_methods

__all__ = [
    "PHYXMAMBA_SYSTEMS",
    "koopman_table",
    "phyxmamba_budget_table",
    "phyxmamba_learning_figure",
    "phyxmamba_missing",
    "phyxmamba_table",
    "paper_budget_text",
    "phyxmamba_verdict",
    "run_window_scores",
]

PHYXMAMBA_SYSTEMS = ("Lorenz", "Rossler")
#: the horizons of the published sMAPE (Lyapunov times)
HORIZONS = (1.0, 4.0, 10.0)
COLUMNS = ["VPT", "sMAPE@1", "sMAPE@4", "sMAPE@10", "D_frac", "D_stsp", "forecasts"]
#: the trained methods the budget table and learning curves show, when present
TRAINED = ("phyxmamba", "koopman_ae")


def _systems(run: Run) -> list[str]:
    return present_systems(run, PHYXMAMBA_SYSTEMS)


def run_window_scores(run: Run, dataset: str, method: str, system: str, seed: int) -> WindowScores:
    """The per-forecast reference variants of one prediction store; both the truth and the
    forecasts are z-scored for D_stsp by the truth windows' pooled mean and standard
    deviation. :class:`NoData` when the prediction is missing."""
    from dsrbench.pipeline.evaluate import steps_per_lyapunov_time
    from dsrbench.truth import true_continuations

    ds = run.dataset_store(dataset, system)
    pred = run.predictions(dataset, method, system, seed)
    traj, start = pred["context_trajectory"].values, pred["context_start"].values
    y_true = true_continuations(ds, traj, start, int(pred.attrs["horizon"]))
    flat = y_true.reshape(-1, y_true.shape[-1])
    return window_scores(
        y_true,
        np.asarray(pred["forecast"].values),
        steps_per_lyapunov_time=steps_per_lyapunov_time(ds),
        mean=flat.mean(axis=0),
        std=flat.std(axis=0),
        horizons=HORIZONS,
        seed=int(seed),
    )


def _ours(run: Run, system: str, method: str) -> dict[str, float]:
    def value(metric: str, horizon: float | None = None) -> float:
        try:
            sc = run.scores(metric, horizon, systems=[system], methods=[method])
        except NoData:
            return math.nan
        return float(np.nanmean(sc["value"].astype(float)))

    out = {"VPT": value("vpt_smape")}
    for h in HORIZONS:
        out[f"sMAPE@{h:g}"] = value("smape200", h)
    out["D_frac"] = value("D_frac")
    out["D_stsp"] = value("D_stsp")
    return out


def _fmt(v: float) -> str:
    return stats.fmt(v) if np.isfinite(v) else "n/a"


def phyxmamba_table(run: Run) -> pd.DataFrame:
    """Per system: the published row, then per method ours by dsrbench's metrics and by the
    reference variants on all forecasts and on those with D_stsp < 40."""
    rows = []
    for system in _systems(run):
        pub = PHYXMAMBA_PUBLISHED.get(system, {})
        rows.append(
            {
                "system": system,
                "method": "PhyxMamba (published)",
                "computed as": "Liu et al. 2025, their evaluation, D_stsp < 40",
                **{c: _fmt(pub.get(c, math.nan)) for c in COLUMNS[:-1]},
                "forecasts": "",
            }
        )
        for method in order_methods(run.methods):
            ours = _ours(run, system, method)
            rows.append(
                {
                    "system": system,
                    "method": method_label(method),
                    "computed as": "dsrbench: D_frac, D_stsp on long free runs (bins)",
                    **{c: _fmt(ours[c]) for c in COLUMNS[:-1]},
                    "forecasts": "",
                }
            )
            scores = []
            for dataset in run.datasets:
                for seed in run.seeds(method):
                    try:
                        scores.append(run_window_scores(run, dataset, method, system, seed))
                    except NoData:
                        continue
            if not scores:
                continue
            for filtered in (False, True):
                s = summarise_windows(scores, filtered=filtered)
                label = (
                    f"reference variants, D_stsp < {STSP_LIMIT:g}"
                    if filtered
                    else ("reference variants, all forecasts")
                )
                rows.append(
                    {
                        "system": system,
                        "method": method_label(method),
                        "computed as": label,
                        "VPT": _fmt(s["vpt"]),
                        **{f"sMAPE@{h:g}": _fmt(s[f"smape@{h:g}"]) for h in HORIZONS},
                        "D_frac": _fmt(s["d_frac"]),
                        "D_stsp": _fmt(s["d_stsp"]),
                        "forecasts": f"{s['n']:.0f} of {s['n_total']:.0f}",
                    }
                )
    return pd.DataFrame(rows, columns=["system", "method", "computed as", *COLUMNS])


def phyxmamba_budget_table(run: Run) -> pd.DataFrame:
    """Per trained model: the epochs run, the training seconds, the device and the settings
    that size the budget (batch size, batches per epoch, the stages' epochs)."""
    rows = []
    keys = (
        "batch_size",
        "batches_per_epoch",
        "pretrain_epochs",
        "probe_epochs",
        "finetune_epochs",
        "epochs",
        "hier_layers",
        "d_model",
    )
    for method in TRAINED:
        if method not in run.methods:
            continue
        try:
            tr = run.training(method)
        except NoData:
            continue
        for r in tr.itertuples():
            hp = json.loads(r.hyperparameters or "{}")
            total = float(r.training_seconds_total)
            rows.append(
                {
                    "system": r.system,
                    "method": method_label(method),
                    "seed": r.seed,
                    "status": r.status,
                    "epochs run": r.epochs_run,
                    "training seconds": _fmt(total if np.isfinite(total) else float(r.fit_seconds)),
                    "device": r.device,
                    "hardware": _hardware_text(r.hardware),
                    **{k: hp.get(k, "") for k in keys},
                }
            )
    if not rows:
        raise NoData("no PhyxMamba or Koopman training records in this run")
    return pd.DataFrame(rows)


def _hardware_text(hw: object) -> str:
    if not isinstance(hw, dict):
        return "not recorded"
    text = f"{hw.get('cpu', '?')}, {hw.get('cores', '?')} cores"
    if hw.get("torch_threads"):
        text += f", {hw['torch_threads']} torch threads"
    return text + (f", GPU {hw['gpu']}" if hw.get("gpu") else "")


def phyxmamba_learning_figure(run: Run):
    """Validation loss against cumulative training time, per trained method and system."""
    methods = [m for m in TRAINED if m in run.methods]
    fig = new_figure(10, 3.6)
    axes = fig.subplots(1, max(1, len(methods)), squeeze=False)[0]
    if not methods:
        no_data(axes[0], "neither phyxmamba nor koopman_ae is in this run")
        return fig
    for ax, method in zip(axes, methods, strict=False):
        try:
            logs = run.epoch_logs(method)
        except NoData as exc:
            no_data(ax, str(exc))
            continue
        for (system, seed), g in logs.groupby(["system", "seed"]):
            minutes = g["seconds"].fillna(0).cumsum() / 60
            col = "val_loss" if "val_loss" in g and g["val_loss"].notna().any() else "loss"
            ax.plot(minutes, g[col], label=f"{system} (seed {seed}, {col})", lw=1.2)
            if "stage" in g:
                for boundary in minutes[g["stage"].diff().fillna(0) != 0]:
                    ax.axvline(boundary, color="#999999", lw=0.7, ls=":")
        ax.set_yscale("log")
        ax.set_xlabel("training time (minutes)")
        ax.set_ylabel("loss")
        ax.set_title(method_label(method), color=method_color(method))
        ax.legend(fontsize=7)
    return fig


def koopman_table(run: Run) -> pd.DataFrame:
    """What the deep Koopman autoencoder reproduces per system: the largest Lyapunov exponent
    of its latent map (QR on its Jacobian) and its relative error, D_stsp and D_H of its
    free run beside the truth floor, and its VPT."""
    if "koopman_ae" not in run.methods:
        raise NoData("koopman_ae is not in this run")
    rows = []

    def value(system: str, metric: str) -> tuple[float, float]:
        try:
            sc = run.scores(metric, systems=[system], methods=["koopman_ae"])
        except NoData:
            return math.nan, math.nan
        v = sc["value"].astype(float)
        fl = sc["floor"].astype(float) if "floor" in sc else pd.Series([math.nan])
        return float(np.nanmean(v)), float(fl.mean())

    for system in run.systems:
        lam, _ = value(system, "lyapunov_qr")
        rel, _ = value(system, "lyapunov_qr_rel_error")
        stsp, stsp_floor = value(system, "D_stsp")
        dh, dh_floor = value(system, "D_H")
        vpt, _ = value(system, "vpt_smape")
        rows.append(
            {
                "system": system,
                "λ_max of the latent map": _fmt(lam),
                "λ_max rel. error": _fmt(rel),
                "D_stsp (floor)": f"{_fmt(stsp)} ({_fmt(stsp_floor)})",
                "D_H (floor)": f"{_fmt(dh)} ({_fmt(dh_floor)})",
                "VPT": _fmt(vpt),
            }
        )
    return pd.DataFrame(rows)


def phyxmamba_missing(run: Run) -> list[str]:
    """Sentences on what the page lacks in this run."""
    out = [
        f"{method_label(m)} ({m}) has no results in this run"
        for m in TRAINED
        if m not in run.methods
    ]
    return out + [f"{s} is not in this run" for s in PHYXMAMBA_SYSTEMS if s not in run.systems]


def phyxmamba_verdict(run: Run) -> str:
    """Whether our Lorenz-63 VPT reaches half the published 5.06 Lyapunov times, and at what
    training time."""
    target = PHYXMAMBA_PUBLISHED["Lorenz"]["VPT"] / 2
    if "phyxmamba" not in run.methods or "Lorenz" not in run.systems:
        return "PhyxMamba on Lorenz-63 is not in this run."
    vpt = _ours(run, "Lorenz", "phyxmamba")["VPT"]
    try:
        tr = run.training("phyxmamba")
        lor = tr[tr["system"] == "Lorenz"]
        total = lor["training_seconds_total"].astype(float)
        secs = float((total.where(np.isfinite(total), lor["fit_seconds"])).max())
    except NoData:
        secs = math.nan
    when = ""
    if np.isfinite(secs):
        when = f"after {secs / 60:.0f} minutes" if secs >= 90 else f"after {secs:.0f} s"
        when += " of training"
    if np.isfinite(vpt) and vpt >= target:
        return (
            f"Our Lorenz-63 VPT is {vpt:.2f} Lyapunov times {when}: at least half the "
            f"published {2 * target:.2f} ({target:.2f})."
        )
    return (
        f"Our Lorenz-63 VPT is {_fmt(vpt)} Lyapunov times {when}, short of half the "
        f"published {2 * target:.2f} ({target:.2f}); the learning curves below show where "
        f"training stood when the budget ended. {paper_budget_text(run)}"
    )


#: the paper's schedule: epochs of each stage, at batches of 512
PAPER_EPOCHS = {"pretrain_epochs": 800, "probe_epochs": 50, "finetune_epochs": 1600}
PAPER_BATCH = 512


def paper_budget_text(run: Run, system: str = "Lorenz") -> str:
    """The paper's training schedule priced at this run's measured seconds per epoch (median
    of each stage), scaled to batches of 512; empty when the run has no PhyxMamba log."""
    try:
        logs = run.epoch_logs("phyxmamba")
        tr = run.training("phyxmamba")
    except NoData:
        return ""
    g = logs[logs["system"] == system]
    rec = tr[tr["system"] == system]
    if g.empty or rec.empty:
        return ""
    hp = json.loads(rec["hyperparameters"].iloc[0] or "{}")
    scale = PAPER_BATCH / float(hp.get("batch_size", PAPER_BATCH))
    per_epoch = {
        "pretrain_epochs": g.loc[g["stage"] == 1, "seconds"].median(),
        "probe_epochs": g.loc[g["stage"] == 1.5, "seconds"].median(),
        "finetune_epochs": g.loc[g["stage"] == 2, "seconds"].median(),
    }
    if not all(np.isfinite(v) for v in per_epoch.values()):
        return ""
    hours = sum(PAPER_EPOCHS[k] * per_epoch[k] * scale for k in PAPER_EPOCHS) / 3600
    return (
        f"The paper's schedule (800 + 50 + 1600 epochs of {hp.get('batches_per_epoch', 50)} "
        f"batches of 512) would take about {hours:.0f} hours at this run's measured "
        "seconds per epoch, scaled to batches of 512 (a lower bound if the paper's epoch is "
        "a full pass over the training windows, which is more batches)."
    )
