"""The paper pages: Gilpin 2023 ("Model scale versus domain knowledge"; its functions live in
:mod:`.gilpin` and are re-exported here) and the DSR papers (shPLRNN with generalized
teacher forcing, Hess et al. 2023; AL-RNN, Brenner et al. 2024), our figures beside the
published ones (docs/protocols.md, "Published figures").
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from dsrbench.references import TRUTH
from dsrbench.reports import gilpin, stats
from dsrbench.reports.gilpin import *  # noqa: F403  (the Gilpin 2023 page, re-exported)
from dsrbench.reports.published import GILPIN2023_FIGURES, dsr_published, published_table
from dsrbench.reports.results import NoData, Run
from dsrbench.reports.specs import spec
from dsrbench.reports.style import method_color, method_label, new_figure, no_data, order_methods

__all__ = [
    "DSR_METHODS",
    "DSR_SYSTEMS",
    "GILPIN2023_FIGURES",
    "dsr_bars_figure",
    "dsr_missing",
    "dsr_published_table",
    "dsr_reproduction_table",
    "dsr_symbolic_claims_table",
    "dsr_table",
    "present_systems",
    *gilpin.__all__,
]

DSR_METHODS = ("shplrnn_gtf", "alrnn")
DSR_SYSTEMS = ("Lorenz", "Rossler")


# ------------------------------------------------------------------------------- DSR page
def present_systems(run: Run, systems: tuple[str, ...]) -> list[str]:
    """Those of a page's ``systems`` that are in the run; :class:`NoData` when none is."""
    present = [s for s in systems if s in run.systems]
    if not present:
        raise NoData(f"neither {' nor '.join(systems)} is in this run")
    return present


def _dsr_systems(run: Run) -> list[str]:
    return present_systems(run, DSR_SYSTEMS)


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
        for method in ("shplrnn_gtf", "alrnn", TRUTH):
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


def _dsr_papers(published: pd.DataFrame) -> list[str]:
    """The papers whose numbers the DSR setting reproduces (their rows stand in ``dsr``)."""
    from dsrbench.reports.reproductions import PAPER_DATASETS

    return [
        p
        for p in dict.fromkeys(published["paper"])
        if PAPER_DATASETS.get(p) == "dsr" or str(p).startswith(("Hess et al.", "Brenner et al."))
    ]


def dsr_reproduction_table(run: Run) -> pd.DataFrame:
    """Every published DSR number (the papers' rows, the authors' AL-RNN checkpoint scored by
    our metrics, the reference ranges) beside this run's median and interquartile range over
    seeds, with its status and cause (:func:`dsrbench.reports.reproductions.reproductions`)."""
    from dsrbench.reports.reproductions import display, reproductions

    published = published_table()
    papers = _dsr_papers(published)
    table = reproductions({p: run.results_dir for p in papers}, published=published)
    table = table[table["paper"].isin(papers)]
    return display(table, method_label)


def dsr_symbolic_claims_table(run: Run) -> pd.DataFrame:
    """The AL-RNN's visited linear subregions per system (median and range over seeds) beside
    the published claims (``subregions_visited`` rows of the published table)."""
    pub = published_table()
    pub = pub[(pub["metric"] == "subregions_visited") & pub["found"]]
    ours: dict[str, list[int]] = {}
    for _dataset, system, _seed, code in run.symbolic_codes("alrnn"):
        ours.setdefault(system, []).append(code.n_regions)
    rows = []
    for system in sorted(set(ours) | set(pub["system"])):
        n = ours.get(system, [])
        claims = pub[pub["system"] == system]
        rows.append(
            {
                "system": system,
                "published": "; ".join(
                    f"{r.published_value} ({r.published_method}; {r.where})"
                    for r in claims.itertuples()
                )
                or "no published count",
                "ours: median (range) over seeds": (
                    f"{np.median(n):g} ({min(n)} to {max(n)}), {len(n)} seeds" if n else "not run"
                ),
            }
        )
    return pd.DataFrame(rows)


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
