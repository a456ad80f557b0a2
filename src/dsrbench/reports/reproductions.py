"""One page of reproductions: every published number (:func:`published_table`) with ours
beside it and a status (docs/protocols.md, "Reproductions").

:func:`reproductions` reads runs (results directories, run exports or folders of exports)
per paper and gives one row per published number:

* ours: the median over seeds of the matching metric rows (same system, method, metric and
  horizon, in the dataset setting of :data:`PAPER_DATASETS`), the 25th and 75th percentiles
  over seeds, the number of seeds. Seeds are counted, never dropped: a seed whose value is
  not finite (diverged, failed) counts as the worst value, +inf for a lower-is-better
  metric and -inf for a higher-is-better one (VPT). Seeds of two runs given for one paper
  count as distinct seeds. ``fit_seconds`` (median over systems) is, per seed, the median
  over systems of the training records' ``fit_seconds`` (failed fits have no time and are
  left out of that median).
* ``status``: ``reproduced`` when the published value lies inside our IQR (``rule`` IQR)
  or within the tolerance (``rule`` tolerance: |ours - published| <= tolerance x
  |published|; where the row's ``tolerance_reason`` asks for "a factor of", ours / published
  within [1 / (1 + tolerance), 1 + tolerance]); ``differs`` otherwise, with a ``cause``
  from the data (the ``variant``'s "not like-for-like" clause, the seeds that diverged or
  failed, else "outside tolerance", with both numbers); ``not run`` when the number was not
  found, we have no counterpart method, no run was given for the paper or the run has no
  such rows.

:func:`summary` counts the statuses per (paper, method), with the rank criterion of the
Gilpin 2023 per-system rows (Spearman rho >= 0.5 across systems, medians within 0.25).
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dsrbench import layout
from dsrbench.reports.stats import fmt

__all__ = [
    "COLUMNS",
    "PAPER_DATASETS",
    "STATUSES",
    "ReproductionError",
    "Runs",
    "cli",
    "display",
    "export_rows",
    "figure",
    "headline",
    "load_sources",
    "parse_runs",
    "quartiles",
    "read_published",
    "reproductions",
    "resolve_paper",
    "summary",
    "table_html",
    "text_report",
]

#: the dataset setting whose rows stand for each paper's numbers (configs/*.yaml); a paper
#: not listed takes the run's dataset setting when it has only one
PAPER_DATASETS: dict[str, str] = {
    "Gilpin 2023": "fine",
    "Liu et al. 2025 (PhyxMamba)": "lyap30",
    "Hemmer & Durstewitz 2025 (DynaMix)": "dsr",
    "reference range (docs/metrics.md)": "dsr",
    "Hess et al. 2023 (shPLRNN + GTF)": "dsr",
    "Brenner et al. 2024 (AL-RNN)": "dsr",
}
STATUSES = ("reproduced", "differs", "not run")
#: metrics where higher is better (a failed seed counts as -inf there, +inf elsewhere)
HIGHER_IS_BETTER = frozenset({"vpt_smape", "vpt_nrmse"})
#: the rank criterion of rows whose tolerance_reason names it (Gilpin 2023 per system)
RANK_RHO, RANK_MEDIAN = 0.5, 0.25
_METRIC_COLS = ["run", "dataset", "system", "method", "seed", "metric", "horizon", "value"]
_METRIC_COLS += ["status", "reason"]
_TRAIN_COLS = ["run", "dataset", "system", "method", "seed", "status", "fit_seconds"]
COLUMNS = [
    "paper",
    "system",
    "method",
    "published_method",
    "metric",
    "dataset",
    "published",
    "ours",
    "q25",
    "q75",
    "n_seeds",
    "n_failed",
    "tolerance",
    "status",
    "rule",
    "cause",
    "published_value",
    "variant",
    "where",
    "runs",
    "rank_criterion",
]


class ReproductionError(ValueError):
    """Bad input (an unknown paper, a path that is no run); the message says the fix."""


# ----------------------------------------------------------------------------- reading runs
@dataclass
class Runs:
    """The metric rows (:data:`_METRIC_COLS`) and training rows (:data:`_TRAIN_COLS`) of
    the runs given for one paper; ``paths`` label them."""

    metrics: pd.DataFrame
    training: pd.DataFrame
    paths: list[str] = field(default_factory=list)


def _plain(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """``cols`` of ``df`` (missing ones null) as plain object / float columns."""
    out = pd.DataFrame(index=df.index)
    for c in cols:
        s = df[c] if c in df else pd.Series(None, index=df.index, dtype=object)
        if c in ("horizon", "value", "fit_seconds"):
            out[c] = pd.to_numeric(s, errors="coerce").astype(float)
        elif c == "seed":
            out[c] = pd.to_numeric(s, errors="coerce").astype(float)
        else:
            out[c] = s.astype(object).where(s.notna(), None)
    return out.reset_index(drop=True)


def _from_export(path: Path, label: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    from dsrbench.reports.export import ExportError, read_export

    try:
        df = read_export(path)
    except ExportError as exc:
        raise ReproductionError(str(exc)) from exc
    return export_rows(df, label)


def export_rows(df: pd.DataFrame, label: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The metric and training rows of a read export, labelled ``label``."""
    kind = df["kind"].astype(str)
    metrics = df[kind == "metric"].assign(run=label)
    training = df[kind == "training"].assign(run=label)
    return _plain(metrics, _METRIC_COLS), _plain(training, _TRAIN_COLS)


def _from_results(path: Path, label: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    from dsrbench.reports.results import open_run, with_symbolic_rows

    metrics = with_symbolic_rows(path, open_run(path).metrics).assign(run=label)
    rows = []
    for record, names in layout.find(path, "model_record"):
        rec = json.loads(record.read_text())
        info = layout.model_dir(path, **names) / "training.json"
        info = json.loads(info.read_text()) if info.is_file() else {}
        seconds = info.get("fit_seconds", rec.get("fit_seconds"))
        rows.append({**names, "status": rec.get("status"), "fit_seconds": seconds})
    training = pd.DataFrame(rows).assign(run=label)
    return _plain(metrics, _METRIC_COLS), _plain(training, _TRAIN_COLS)


def _read(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Metric and training rows of one results directory, export, or folder of exports."""
    path = Path(path)
    label = str(path)
    if path.is_file():
        return _from_export(path, label)
    if path.is_dir() and layout.merged_metrics(path).is_file():
        return _from_results(path, label)
    exports = sorted(path.glob("*.parquet")) if path.is_dir() else []
    if not exports:
        raise ReproductionError(
            f"{path} is neither a results directory (no {layout.merged_metrics(path).name}), "
            "a run export (.parquet) nor a folder of exports (docs/results/<run>/); pass one "
            "of those (`dsrbench results export <results_dir>` writes an export)"
        )
    parts = [_from_export(p, f"{label}/{p.name}") for p in exports]
    return (
        pd.concat([m for m, _ in parts], ignore_index=True),
        pd.concat([t for _, t in parts], ignore_index=True),
    )


def load_sources(sources: Mapping[str, Any]) -> dict[str, Runs]:
    """paper -> its :class:`Runs`; a value is a path or a list of paths."""
    out = {}
    for paper, paths in sources.items():
        paths = [paths] if isinstance(paths, str | Path) else list(paths)
        parts = [_read(p) for p in paths]
        out[paper] = Runs(
            pd.concat([m for m, _ in parts], ignore_index=True),
            pd.concat([t for _, t in parts], ignore_index=True),
            [str(p) for p in paths],
        )
    return out


def resolve_paper(name: str, papers: Iterable[str]) -> str:
    """The paper ``name`` means: an exact name, else the one paper containing it (any
    case, e.g. ``gilpin``, ``phyxmamba``); :class:`ReproductionError` listing them else."""
    papers = list(dict.fromkeys(papers))
    if name in papers:
        return name
    hits = [p for p in papers if name.strip().lower() in p.lower()] if name.strip() else []
    if len(hits) == 1:
        return hits[0]
    listing = "; ".join(repr(p) for p in papers)
    what = f"matches {len(hits)} papers" if hits else "is not a paper of the published table"
    raise ReproductionError(
        f"{name!r} {what}; give one of {listing} (or a unique part of one, e.g. 'Gilpin')"
    )


def parse_runs(runs: Sequence[str], papers: Iterable[str]) -> dict[str, list[str]]:
    """``PAPER=PATH`` arguments -> {paper: [paths]}; the paper resolved by
    :func:`resolve_paper`, every path checked to exist."""
    papers = list(papers)
    out: dict[str, list[str]] = {}
    for arg in runs:
        name, sep, path = arg.partition("=")
        if not sep or not name or not path:
            raise ReproductionError(
                f"--run {arg!r} is not PAPER=PATH; e.g. --run 'Gilpin 2023=results/gilpin2023'"
            )
        paper = resolve_paper(name, papers)
        if not Path(path).exists():
            raise ReproductionError(
                f"{path} (given for {paper!r}) does not exist; pass a results directory, a "
                "run export (.parquet) or a folder of exports"
            )
        out.setdefault(paper, []).append(path)
    return out


# ----------------------------------------------------------------------------- the table
def _quantile(values: np.ndarray, q: float) -> float:
    """Linear-interpolation quantile of finite or infinite values: between a finite and an
    infinite neighbour it is the infinite one (numpy's would be NaN)."""
    v = np.sort(values)
    pos = q * (len(v) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    if lo == hi or v[lo] == v[hi]:
        return float(v[lo])
    if not np.isfinite(v[lo]) or not np.isfinite(v[hi]):  # an infinite neighbour wins
        return float(v[hi] if np.isinf(v[hi]) else v[lo])
    return float(v[lo] + (v[hi] - v[lo]) * (pos - lo))


def quartiles(values: np.ndarray) -> tuple[float, float, float]:
    """The 25th, 50th and 75th percentiles of finite or infinite values (:func:`_quantile`)."""
    return _quantile(values, 0.25), _quantile(values, 0.5), _quantile(values, 0.75)


def display(table: pd.DataFrame, label=str) -> pd.DataFrame:
    """The rows of :func:`reproductions` as pages show them: paper, system, method (through
    ``label``), metric, published, ours as median [IQR] (seeds), status and cause."""
    return pd.DataFrame(
        {
            "paper": table["paper"],
            "system": table["system"],
            "method": [label(m) if m else "" for m in table["method"]],
            "metric": table["metric"],
            "published": [fmt(v) for v in table["published"]],
            "ours: median [IQR] (seeds)": [
                f"{fmt(r.ours)} [{fmt(r.q25)}, {fmt(r.q75)}] ({r.n_seeds})" if r.n_seeds else ""
                for r in table.itertuples()
            ],
            "status": table["status"],
            "cause": table["cause"].fillna(""),
        }
    ).reset_index(drop=True)


def _key(metric: str) -> tuple[str, float | None]:
    """``smape200@4`` -> ("smape200", 4.0); other metrics carry no horizon."""
    name, sep, horizon = metric.partition("@")
    return (name, float(horizon)) if sep else (name, None)


def _seed_values(rows: pd.DataFrame, metric: str) -> tuple[np.ndarray, int, str]:
    """Per (run, seed): the value (non-finite -> the worst), the number of seeds that
    diverged or failed, and the cause text for them."""
    worst = -math.inf if metric in HIGHER_IS_BETTER else math.inf
    values, diverged, failed, reasons = [], 0, 0, []
    for _, seed in rows.groupby(["run", "seed"], sort=True, dropna=False):
        v = seed["value"].to_numpy(float)
        status = set(seed["status"].dropna().astype(str)) - {"ok"}
        if np.isfinite(v).all():
            values.append(float(np.median(v)))
        else:
            values.append(worst)
        if not status and np.isfinite(v).all():
            continue
        if "diverged" in status:
            diverged += 1
        else:
            failed += 1
            reasons += [str(r) for r in seed["reason"].dropna()][:1] or ["no finite value"]
    parts = []
    if diverged:
        parts.append(f"diverged on {diverged} of {len(values)} seeds")
    if failed:
        why = f" ({reasons[0][:80]})" if reasons else ""
        parts.append(f"failed on {failed} of {len(values)} seeds{why}")
    return np.array(values), diverged + failed, "; ".join(parts)


def _timing_values(runs: Runs, dataset: str, method: str) -> np.ndarray:
    """Per (run, seed): the median over systems of the finite ``fit_seconds``."""
    t = runs.training
    t = t[(t["dataset"] == dataset) & (t["method"] == method) & np.isfinite(t["fit_seconds"])]
    if "status" in t:
        t = t[t["status"].isna() | (t["status"] == "ok")]
    per = t.groupby(["run", "seed"], dropna=False)["fit_seconds"].median()
    return per.to_numpy(float)


def _within(ours: float, pub: float, tol: float, reason: str) -> bool:
    if not (math.isfinite(ours) and math.isfinite(pub) and math.isfinite(tol)):
        return False
    if "factor of" in reason and pub > 0:
        return pub / (1 + tol) <= ours <= pub * (1 + tol)
    return abs(ours - pub) <= tol * abs(pub)


def _not_like_for_like(variant: str) -> str:
    return "; ".join(p.strip() for p in variant.split(";") if "not like-for-like" in p)


def reproductions(
    sources: Mapping[str, Any],
    *,
    published: pd.DataFrame | None = None,
    datasets: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One row per row of ``published`` (default :func:`published_table`) with ours beside
    it: columns :data:`COLUMNS`. ``sources``: paper -> a results directory, a run export, a
    folder of exports, or a list of them (or paper -> :class:`Runs`). ``datasets``: paper
    -> dataset setting, over :data:`PAPER_DATASETS`. The status rule is the module doc's."""
    if published is None:
        from dsrbench.reports.published import published_table

        published = published_table()
    unknown = [p for p in sources if p not in set(published["paper"])]
    if unknown:
        raise ReproductionError(
            f"no published numbers for {unknown}; the papers are "
            + "; ".join(repr(p) for p in dict.fromkeys(published["paper"]))
        )
    loaded = {
        p: (r if isinstance(r, Runs) else load_sources({p: r})[p]) for p, r in sources.items()
    }
    dsets = {**PAPER_DATASETS, **(datasets or {})}
    groups = {
        p: dict(tuple(r.metrics.groupby(["dataset", "system", "method", "metric"])))
        for p, r in loaded.items()
    }
    rows = []
    for pub in published.to_dict("records"):
        paper, metric, method = pub["paper"], str(pub["metric"]), str(pub["method"] or "")
        dataset = dsets.get(paper, "")
        if not dataset and paper in loaded:
            have = set(loaded[paper].metrics["dataset"].dropna())
            dataset = have.pop() if len(have) == 1 else ""
        out = {
            "paper": paper,
            "system": pub["system"],
            "method": method,
            "published_method": pub["published_method"],
            "metric": metric,
            "dataset": dataset,
            "published": float(pub["value"]),
            "ours": math.nan,
            "q25": math.nan,
            "q75": math.nan,
            "n_seeds": 0,
            "n_failed": 0,
            "tolerance": float(pub["tolerance"]),
            "status": "not run",
            "rule": "",
            "cause": "",
            "published_value": pub["published_value"],
            "variant": pub["variant"],
            "where": pub["where"],
            "runs": ", ".join(loaded[paper].paths) if paper in loaded else "",
            "rank_criterion": "Spearman" in str(pub["tolerance_reason"]),
        }
        rows.append(out)
        if not bool(pub["found"]):
            out["cause"] = f"published number not found: {pub['tolerance_reason']}"
            continue
        if not method:
            out["cause"] = f"no method of ours stands for {pub['published_method']}"
            continue
        if paper not in loaded:
            out["cause"] = f"no run given for {paper}"
            continue
        runs = loaded[paper]
        name, horizon = _key(metric)
        cause = ""
        if name == "fit_seconds":
            values = _timing_values(runs, dataset, method)
            what = f"no training records of {method} ({dataset})"
        else:
            sel = groups[paper].get((dataset, pub["system"], method, name))
            if sel is not None and horizon is not None:
                sel = sel[np.isclose(sel["horizon"], horizon)]
            what = f"no {metric} of {method} on {pub['system']} ({dataset})"
            values = np.array([])
            if sel is not None and not sel.empty:
                values, out["n_failed"], cause = _seed_values(sel, name)
        if values.size == 0:
            have = sorted(set(runs.metrics["dataset"].dropna()))
            out["cause"] = what + (
                "" if dataset in have else f"; the run has dataset settings {have}"
            )
            continue
        ours, lo, hi = (_quantile(values, q) for q in (0.5, 0.25, 0.75))
        out.update(ours=ours, q25=lo, q75=hi, n_seeds=int(values.size))
        value, tol, reason = out["published"], out["tolerance"], str(pub["tolerance_reason"])
        if lo <= value <= hi:
            out.update(status="reproduced", rule="IQR")
        elif _within(ours, value, tol, reason):
            out.update(status="reproduced", rule="tolerance")
        else:
            causes = [c for c in (_not_like_for_like(str(pub["variant"])), cause) if c]
            out["status"] = "differs"
            out["cause"] = (
                "; ".join(causes or ["outside tolerance"])
                + f" (ours {fmt(ours)}, published {fmt(value)}, tolerance {tol:g})"
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def _rank_check(rows: pd.DataFrame) -> dict[str, Any]:
    """Spearman rho across systems and the relative difference of the medians."""
    ok = rows[np.isfinite(rows["published"]) & rows["ours"].notna()]
    if len(ok) < 3:
        return {"systems": len(ok), "spearman_rho": math.nan, "median_rel_diff": math.nan}
    rho = ok["ours"].rank().corr(ok["published"].rank())
    diff = float(np.median(ok["ours"]) / np.median(ok["published"]) - 1)
    return {"systems": len(ok), "spearman_rho": float(rho), "median_rel_diff": diff}


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Counts of each status per (paper, method, published_method), and for the rows whose
    tolerance reason names the rank criterion (``rank_criterion``: Gilpin 2023 per system):
    ``spearman_rho`` across systems, ``median_rel_diff`` (median of ours over median
    published, minus 1) and ``rank_criterion`` (holds: rho >= 0.5 and |median_rel_diff| <= 0.25)."""
    keys = ["paper", "method", "published_method"]
    counts = (
        table.groupby(keys, sort=False)["status"]
        .value_counts()
        .unstack(fill_value=0)
        .reindex(columns=list(STATUSES), fill_value=0)
    )
    counts["total"] = counts.sum(axis=1)
    out = counts.reset_index()
    out.columns.name = None
    rank = table["rank_criterion"].astype(bool) & table["ours"].notna()
    checks = []
    for key, rows in table[rank].groupby(keys, sort=False):
        c = _rank_check(rows)
        holds = c["spearman_rho"] >= RANK_RHO and abs(c["median_rel_diff"]) <= RANK_MEDIAN
        c["rank_criterion"] = "" if math.isnan(c["spearman_rho"]) else "holds" if holds else "fails"
        checks.append({**dict(zip(keys, key, strict=True)), **c})
    if not checks:  # no rank criterion among these rows: no rank columns
        return out
    out = out.merge(pd.DataFrame(checks), on=keys, how="left")
    out["systems"] = out["systems"].astype("Int64")
    out["rank_criterion"] = out["rank_criterion"].fillna("")
    return out


# ----------------------------------------------------------------------------- showing it
def read_published(path: str | Path) -> pd.DataFrame:
    """A published table written as CSV (``published_table().to_csv(index=False)``)."""
    df = pd.read_csv(path, keep_default_na=False, na_values=[""])
    df["found"] = df["found"].astype(str).str.lower().isin(["true", "1"])
    return df


def headline(table: pd.DataFrame, sources: Mapping[str, Any]) -> str:
    """One line: the count of each status, and the runs read per paper."""
    counts = table["status"].value_counts().reindex(list(STATUSES), fill_value=0)
    runs = "; ".join(
        f"{paper}: " + ", ".join(f"`{p}`" for p in ([v] if isinstance(v, str | Path) else v))
        for paper, v in sources.items()
    )
    return (
        ", ".join(f"**{n}** {s}" for s, n in counts.items())
        + f" of {len(table)} published numbers. Runs read: {runs or 'none given'}."
    )


def _shown(table: pd.DataFrame) -> pd.DataFrame:
    """The table as read: numbers formatted, the IQR as one column."""
    iqr = [
        "" if math.isnan(lo) else f"[{fmt(lo)}, {fmt(hi)}]"
        for lo, hi in zip(table["q25"], table["q75"], strict=True)
    ]
    return pd.DataFrame(
        {
            "paper": table["paper"],
            "system": table["system"],
            "method": table["method"].where(table["method"] != "", "–"),
            "published method": table["published_method"],
            "metric": table["metric"],
            "published": [fmt(v) for v in table["published"]],
            "ours (median)": ["" if math.isnan(v) else fmt(v) for v in table["ours"]],
            "IQR": iqr,
            "seeds": table["n_seeds"],
            "tolerance": ["" if math.isnan(v) else f"{v:g}" for v in table["tolerance"]],
            "status": table["status"],
            "cause": table["cause"],
        }
    )


def text_report(table: pd.DataFrame, fmt: str = "table") -> tuple[str, str]:
    """(summary, table) as text (``fmt`` table) or the summary as text and the full table
    as CSV (``fmt`` csv)."""
    summ = summary(table)
    counts = table["status"].value_counts().reindex(list(STATUSES), fill_value=0)
    head = ", ".join(f"{n} {s}" for s, n in counts.items()) + f" of {len(table)} published numbers"
    summ = summ.astype(object).where(summ.notna(), "")
    summ_text = head + "\n\n" + summ.to_string(index=False)
    if fmt == "csv":
        return summ_text, table.to_csv(index=False)
    shown = _shown(table)
    width = int(shown["cause"].str.len().max() or 1)
    body = shown.to_string(index=False, formatters={"cause": lambda s: f"{s:<{width}}"})
    return summ_text, body


def figure(table: pd.DataFrame) -> Any:
    """Ours against published (log-log), one point per number we ran, coloured by status."""
    from dsrbench.reports.results import NoData
    from dsrbench.reports.style import new_figure

    ran = table[(table["status"] != "not run") & (table["published"] > 0)]
    ran = ran[np.isfinite(ran["ours"]) & (ran["ours"] > 0)]
    if ran.empty:
        raise NoData("no published number has a finite positive value of ours to plot")
    fig = new_figure(6, 5)
    ax = fig.subplots()
    colours = {"reproduced": "#1b9e77", "differs": "#d95f02"}
    for status, rows in ran.groupby("status"):
        ax.scatter(rows["published"], rows["ours"], s=14, label=status, c=colours[status])
    lo = float(min(ran["published"].min(), ran["ours"].min())) / 1.5
    hi = float(max(ran["published"].max(), ran["ours"].max())) * 1.5
    ax.plot([lo, hi], [lo, hi], color="#777", lw=0.8, ls="--", label="ours = published")
    ax.set(xscale="log", yscale="log", xlabel="published (our scale)", ylabel="ours (median)")
    ax.legend(fontsize=8)
    return fig


_STATUS_COLOURS = {"reproduced": "#e6f4ea", "differs": "#fdecea", "not run": "#f3f3f3"}


def table_html(table: pd.DataFrame) -> str:
    """The full table as sortable, filterable HTML (the index's systems-table script and
    style: click a header to sort, type to filter by paper, system, method, metric or
    status)."""
    from dsrbench.reports.index import _SCRIPT, _STYLE

    shown = _shown(table)
    numeric = {"published", "ours (median)", "seeds", "tolerance"}
    out = [f"<style>{_STYLE}</style>", '<div class="dsrbench-controls">']
    out.append(
        '<label>Filter: <input id="dsrbench-filter" type="search" '
        'placeholder="e.g. Lorenz, nbeats or differs" autocomplete="off"></label>'
    )
    out.append(' <span id="dsrbench-count" class="nb"></span></div>')
    out.append('<div class="dsrbench-wrap"><table id="dsrbench-systems" class="dsrbench-systems">')
    out.append("<thead><tr>")
    for col in shown.columns:
        kind = "num" if col in numeric else "text"
        out.append(f'<th data-type="{kind}" data-col="{html.escape(col)}">{html.escape(col)}</th>')
    out.append("</tr></thead><tbody>")
    for raw, row in zip(table.to_dict("records"), shown.to_dict("records"), strict=True):
        name = " ".join(
            str(raw[k]) for k in ("paper", "system", "method", "published_method", "metric")
        )
        colour = _STATUS_COLOURS.get(raw["status"], "")
        out.append(
            f'<tr data-name="{html.escape(name + " " + raw["status"])}" '
            f'data-status="{html.escape(raw["status"])}" style="background:{colour}">'
        )
        for col, text in row.items():
            sort = {"published": raw["published"], "ours (median)": raw["ours"]}.get(col, text)
            cls = ' class="name"' if col not in numeric else ""
            out.append(f'<td{cls} data-v="{html.escape(str(sort))}">{html.escape(str(text))}</td>')
        out.append("</tr>")
    out.append("</tbody></table></div>")
    out.append(f"<script>{_SCRIPT.replace('systems shown', 'rows shown')}</script>")
    return "\n".join(out)


def cli(runs: Sequence[str], fmt: str = "table") -> tuple[str, str]:
    """What ``dsrbench reproductions --run PAPER=PATH ...`` prints: (summary, table);
    :class:`ReproductionError` for an unknown paper or a path that is no run."""
    from dsrbench.reports.published import published_table

    published = published_table()
    sources = parse_runs(runs, published["paper"])
    return text_report(reproductions(sources, published=published), fmt)
