"""What a database run did, system by system and method by method, from its export.

A run over the database (more systems than a run page lists one by one) gets, beside its
page under ``docs/results/<run>/``, a table ``database_<run>.md`` and its CSV (one row per
system and dataset setting), written from the run's export alone
(:func:`write_database_tables`, called by ``python benchmarks/tools/results_pages.py`` for
every shipped run, so CI's ``git diff`` of docs/ checks them):

* per system: whether its dataset store exists (``simulate``: ``ok`` when the export has
  its store hash; a failed simulation writes no store), the status of ``truth`` (its
  long-term rows) and of the truth ``floor``, the integration fallback its true runs
  needed (from the rows' reasons), and the chaos flag (:func:`dsrbench.systems.chaos_flag`);
* per method: rows by status (ok, diverged, failed, skipped), the medians over systems (of
  the seed medians) of D_stsp, D_H and the VPT, and the number of systems within 2x and 5x
  of the D_stsp floor (out of the systems whose floor is positive; a model that is not ok
  counts as outside);
* the training rows' ``stopped_by`` counts;
* the work per method: the seconds of training (``fit_seconds``: a model's share of its
  ``fit_many`` call) and of prediction (``predict_seconds``), summed and as a median per
  model (on a machine shared with other jobs these are inflated alike).

``benchmarks/tools/database_report.py RESULTS`` prints the same for a results directory
(through :func:`dsrbench.reports.export.build_export`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dsrbench.atomic import atomic_path
from dsrbench.references import FLOOR, TRUTH
from dsrbench.systems import chaos_flag

__all__ = [
    "MIN_SYSTEMS",
    "database_tables",
    "database_text",
    "method_table",
    "stopped_by_table",
    "systems_table",
    "work_table",
    "write_database_tables",
]

#: a run of more systems than this gets the database tables
MIN_SYSTEMS = 10
LONG_TERM = ("D_stsp", "D_H", "D_frac")


def _status(rows: pd.DataFrame) -> str:
    if rows.empty:
        return "missing"
    bad = rows[rows["status"] != "ok"]
    return "ok" if bad.empty else ",".join(sorted(set(bad["status"].astype(str))))


def _metrics(export: pd.DataFrame) -> pd.DataFrame:
    metrics = export[export["kind"] == "metric"]
    return metrics.astype({c: str for c in ("system", "dataset", "method", "metric", "status")})


def systems_table(export: pd.DataFrame) -> pd.DataFrame:
    """One row per (system, dataset setting) of the export's metric rows."""
    metrics = _metrics(export)
    out = []
    for (system, dataset), rows in metrics.groupby(["system", "dataset"], sort=True):
        truth = rows[(rows["method"] == TRUTH) & rows["metric"].isin(LONG_TERM)]
        floor = rows[rows["method"] == FLOOR]
        reasons = pd.concat([truth, floor])["reason"].dropna().astype(str)
        found = {r.split("fallback", 1)[1].strip(" :") for r in reasons if "fallback" in r}
        flag = chaos_flag(system)
        out.append(
            {
                "system": system,
                "dataset": dataset,
                "chaotic": flag.chaotic,
                "simulate": "ok" if rows["store_hash"].notna().any() else "missing",
                "truth": _status(truth),
                "floor": _status(floor),
                "fallback": "; ".join(sorted(found)) or "-",
                "chaos_reason": flag.reason,
            }
        )
    return pd.DataFrame(out)


def method_table(export: pd.DataFrame) -> pd.DataFrame:
    """Per method: rows by status, medians over systems and the floor fractions."""
    metrics = _metrics(export)
    floors = (
        metrics[(metrics["method"] == FLOOR) & (metrics["metric"] == "D_stsp")]
        .groupby(["system", "dataset"])["value"]
        .median()
    )
    rows = []
    for method, group in metrics.groupby("method", sort=True):
        counts = group.groupby("status").size().to_dict()
        row = {"method": method, **{f"rows_{k}": v for k, v in sorted(counts.items())}}
        for metric in ("D_stsp", "D_H", "vpt_nrmse"):
            sel = group[(group["metric"] == metric) & (group["status"] == "ok")]
            per_system = sel.groupby(["system", "dataset"])["value"].median()
            row[f"{metric}_median"] = float(per_system.median()) if len(per_system) else np.nan
            row[f"{metric}_systems"] = int(per_system.size)
        d = group[group["metric"] == "D_stsp"]
        if method != FLOOR and len(d):
            per = d.assign(value=d["value"].where(d["status"] == "ok", np.inf))
            per = per.groupby(["system", "dataset"])["value"].median()
            floor = floors.reindex(per.index)
            # a floor <= 0 (the Monte Carlo D_stsp of D > 3 can be) gives no ratio: left out
            ratio = (per / floor)[floor > 0]
            n = int(ratio.size)
            row["within_2x_floor"] = f"{int((ratio <= 2).sum())}/{n}"
            row["within_5x_floor"] = f"{int((ratio <= 5).sum())}/{n}"
        rows.append(row)
    return pd.DataFrame(rows)


def stopped_by_table(export: pd.DataFrame) -> pd.DataFrame:
    """Models per (method, status, stopped_by) from the training rows."""
    training = export[export["kind"] == "training"]
    columns = ["method", "status", "stopped_by"]
    if training.empty:
        return pd.DataFrame(columns=[*columns, "models"])
    table = training[columns].astype(object).astype(str).replace({"nan": "-", "<NA>": "-"})
    return table.groupby(columns, sort=True).size().rename("models").reset_index()


def work_table(export: pd.DataFrame) -> pd.DataFrame:
    """Seconds of training and prediction per method."""
    training = export[(export["kind"] == "training") & (export["status"].astype(str) == "ok")]
    fit = training.groupby(training["method"].astype(str))["fit_seconds"]
    metrics = export[export["kind"] == "metric"]
    keys = ["dataset", "system", "method", "seed"]
    predictions = metrics.drop_duplicates(keys).dropna(subset=["predict_seconds"])
    predict = predictions.groupby(predictions["method"].astype(str))["predict_seconds"]
    fit_total, fit_median = fit.sum(), fit.median()
    pred_total, pred_median, pred_count = predict.sum(), predict.median(), predict.size()
    rows = []
    for method in sorted(set(fit_total.index) | set(pred_total.index)):
        rows.append(
            {
                "method": method,
                "train_s_total": round(float(fit_total.get(method, 0.0)), 1),
                "train_s_median_per_model": round(float(fit_median.get(method, np.nan)), 2),
                "predict_s_total": round(float(pred_total.get(method, 0.0)), 1),
                "predict_s_median_per_model": round(float(pred_median.get(method, np.nan)), 2),
                "predictions": int(pred_count.get(method, 0)),
            }
        )
    return pd.DataFrame(rows)


def database_tables(export: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The four tables of the module doc, by name."""
    return {
        "systems": systems_table(export),
        "methods": method_table(export),
        "stopped_by": stopped_by_table(export),
        "work": work_table(export),
    }


def _summary(systems: pd.DataFrame) -> list[str]:
    not_ok = systems[(systems[["simulate", "truth", "floor"]] != "ok").any(axis=1)]
    fallbacks = systems[systems["fallback"] != "-"]
    return [
        f"systems: {systems['system'].nunique()} ({len(systems)} system x dataset rows); "
        f"simulate ok {int((systems['simulate'] == 'ok').sum())}, "
        f"truth ok {int((systems['truth'] == 'ok').sum())}, "
        f"floor ok {int((systems['floor'] == 'ok').sum())}",
        "not ok: "
        + (", ".join(f"{r.system} ({r.dataset})" for r in not_ok.itertuples()) or "none"),
        "fallbacks: "
        + (
            "; ".join(f"{r.system} ({r.dataset}: {r.fallback})" for r in fallbacks.itertuples())
            or "none"
        ),
        "not chaotic from the default orbit: "
        f"{int((~systems.drop_duplicates('system')['chaotic'].astype(bool)).sum())}",
    ]


def database_text(tables: dict[str, pd.DataFrame], title: str, source: str) -> str:
    """The Markdown document of :func:`database_tables`; ``source`` says where it came from."""
    systems, stops, work = tables["systems"], tables["stopped_by"], tables["work"]
    lines = [
        f"# Database run: {title}",
        "",
        source,
        "",
        "## Summary",
        "",
        *[f"- {line}" for line in _summary(systems)],
        "",
        "## Methods",
        "",
        tables["methods"].to_markdown(index=False, floatfmt=".3g"),
        "",
        "## Training records",
        "",
        stops.to_markdown(index=False) if len(stops) else "(no trained models)",
        "",
        "## Work (seconds from the records)",
        "",
        work.to_markdown(index=False) if len(work) else "(no records)",
        "",
        "## Systems",
        "",
        systems.to_markdown(index=False),
        "",
    ]
    return "\n".join(lines)


def write_database_tables(export: pd.DataFrame, folder: str | Path, run: str) -> list[Path]:
    """Write ``database_<run>.md`` and ``.csv`` into ``folder`` when the export covers more
    than :data:`MIN_SYSTEMS` systems (else remove them); returns the paths written."""
    folder = Path(folder)
    md, csv = folder / f"database_{run}.md", folder / f"database_{run}.csv"
    metrics = export[export["kind"] == "metric"]
    if metrics["system"].nunique() <= MIN_SYSTEMS:
        md.unlink(missing_ok=True)
        csv.unlink(missing_ok=True)
        return []
    tables = database_tables(export)
    source = (
        f"Generated by `python benchmarks/tools/results_pages.py` from `{run}.parquet` in this "
        "folder (dsrbench.reports.database); do not edit by hand."
    )
    with atomic_path(csv) as tmp:
        tables["systems"].to_csv(tmp, index=False)
    with atomic_path(md) as tmp:
        Path(tmp).write_text(database_text(tables, f"`{run}`", source))
    return [md, csv]
