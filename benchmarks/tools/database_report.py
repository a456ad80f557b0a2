"""What a database run (a workflow results directory) did, system by system and method by method.

Reads the run's dataset records, training and prediction records and ``metrics.parquet``
and prints (and with ``--doc`` writes as Markdown and CSV):

* per system: the status of ``simulate``, of ``truth`` (its long-term rows) and of the
  truth ``floor``, the integration fallback a true run or the dataset needed (from the
  records and the rows' reasons), and the chaos flag (:func:`dsrbench.systems.chaos_flag`);
* per method: rows by status (ok, diverged, failed, skipped), and the medians over systems
  (of the seed medians) of D_stsp, D_H and the VPT, plus the fraction of systems within 2x
  and 5x of the D_stsp floor (out of the systems whose floor is positive; a diverged
  model counts as outside);
* the training records' ``stopped_by`` counts;
* the work per method: the records' seconds of training (a chunk's ``fit_many`` call
  shared by its models, counted once per call) and of prediction, summed and as a median
  per model (on a machine shared with other jobs these are inflated alike).

    python benchmarks/tools/database_report.py results/gilpin2023_database \
        [--doc docs/results/database/database_gilpin2023]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

LONG_TERM = ("D_stsp", "D_H", "D_frac")


def _status(rows: pd.DataFrame) -> str:
    if rows.empty:
        return "missing"
    bad = rows[rows.status != "ok"]
    return "ok" if bad.empty else ",".join(sorted(set(bad.status)))


def systems_table(results: Path, metrics: pd.DataFrame) -> pd.DataFrame:
    from dsrbench.systems import chaos_flag

    out = []
    for path in sorted((results / "data").glob("*/*.json")):
        rec = json.loads(path.read_text())
        system, dataset = rec["system"], rec["dataset"]
        rows = metrics[(metrics.system == system) & (metrics.dataset == dataset)]
        truth = rows[(rows.method == "truth") & rows.metric.isin(LONG_TERM)]
        floor = rows[rows.method == "floor"]
        notes = {r for r in pd.concat([truth, floor]).reason.dropna() if "fallback" in str(r)}
        gen_fallback = ((rec.get("generation") or {}).get("integration_fallback")) or ""
        found = {n.split("fallback", 1)[1].strip(" :") for n in notes}
        if gen_fallback:
            found.add(f"dataset: {gen_fallback}")
        fallback = "; ".join(sorted(found))
        flag = chaos_flag(system)
        out.append(
            {
                "system": system,
                "dataset": dataset,
                "chaotic": flag.chaotic,
                "simulate": rec["status"],
                "truth": _status(truth),
                "floor": _status(floor),
                "fallback": fallback or "-",
                "chaos_reason": flag.reason,
            }
        )
    return pd.DataFrame(out)


def method_table(metrics: pd.DataFrame) -> pd.DataFrame:
    rows = []
    floors = (
        metrics[(metrics.method == "floor") & (metrics.metric == "D_stsp")]
        .groupby(["system", "dataset"])
        .value.median()
    )
    for method, group in metrics.groupby("method"):
        counts = group.groupby("status").size().to_dict()
        row = {"method": method, **{f"rows_{k}": v for k, v in sorted(counts.items())}}
        for metric in ("D_stsp", "D_H", "vpt_nrmse"):
            sel = group[(group.metric == metric) & (group.status == "ok")]
            per_system = sel.groupby(["system", "dataset"]).value.median()
            row[f"{metric}_median"] = float(per_system.median()) if len(per_system) else np.nan
            row[f"{metric}_systems"] = int(per_system.size)
        d = group[group.metric == "D_stsp"]
        if method != "floor" and len(d):
            per = d.assign(value=d.value.where(d.status == "ok", np.inf))
            per = per.groupby(["system", "dataset"]).value.median()
            floor = floors.reindex(per.index)
            # a floor <= 0 (the Monte Carlo D_stsp of D > 3 can be) gives no ratio: left out
            ratio = (per / floor)[floor > 0]
            n = int(ratio.size)
            row["within_2x_floor"] = f"{int((ratio <= 2).sum())}/{n}"
            row["within_5x_floor"] = f"{int((ratio <= 5).sum())}/{n}"
        rows.append(row)
    return pd.DataFrame(rows)


def stopped_by(results: Path) -> pd.DataFrame:
    rows = []
    for path in (results / "models").glob("*/*/*/seed*.json"):
        rec = json.loads(path.read_text())
        rows.append(
            {
                "method": rec.get("method"),
                "status": rec.get("status"),
                "stopped_by": rec.get("stopped_by", "-"),
            }
        )
    if not rows:
        return pd.DataFrame(columns=["method", "status", "stopped_by", "models"])
    table = pd.DataFrame(rows).fillna("-")
    return table.groupby(["method", "status", "stopped_by"]).size().rename("models").reset_index()


def work_table(results: Path) -> pd.DataFrame:
    """Seconds of training and prediction per method, from the records."""
    train: dict[str, dict[tuple, float]] = {}
    per_model: dict[str, list[float]] = {}
    for path in (results / "models").glob("*/*/*/seed*.json"):
        rec = json.loads(path.read_text())
        if rec.get("status") != "ok":
            continue
        method = rec.get("method")
        calls = train.setdefault(method, {})
        # the models of one fit_many call share its seconds: count each call once
        key = (rec.get("fit_many_seconds"), rec.get("fit_many_models"))
        calls[key] = float(rec.get("fit_many_seconds") or rec.get("fit_seconds") or 0.0)
        per_model.setdefault(method, []).append(float(rec.get("fit_seconds") or 0.0))
    pred: dict[str, list[float]] = {}
    for path in (results / "predictions").glob("*/*/*/seed*.json"):
        rec = json.loads(path.read_text())
        timing = rec.get("timing") or {}
        pred.setdefault(rec.get("method"), []).append(
            float(rec.get("wall_time_s") or sum(timing.values()) or 0.0)
        )
    rows = []
    for method in sorted(set(train) | set(pred)):
        t, p = per_model.get(method, []), pred.get(method, [])
        rows.append(
            {
                "method": method,
                "train_s_total": round(sum(train.get(method, {}).values()), 1),
                "train_s_median_per_model": round(float(np.median(t)), 2) if t else np.nan,
                "predict_s_total": round(sum(p), 1),
                "predict_s_median_per_model": round(float(np.median(p)), 2) if p else np.nan,
                "predictions": len(p),
            }
        )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path)
    ap.add_argument("--doc", type=Path, default=None, help="write <doc>.md and <doc>.csv")
    ap.add_argument("--note", default="", help="a paragraph for the document: the run itself")
    args = ap.parse_args(argv)
    metrics = pd.read_parquet(args.results / "metrics.parquet")
    systems = systems_table(args.results, metrics)
    methods = method_table(metrics)
    stops = stopped_by(args.results)
    stops = stops[stops.method.isin(set(metrics.method))]  # models this table evaluated
    work = work_table(args.results)
    work = work[work.method.isin(set(metrics.method))]
    not_ok = systems[(systems[["simulate", "truth", "floor"]] != "ok").any(axis=1)]
    fallbacks = systems[systems.fallback != "-"]
    summary = [
        f"systems: {len(systems)}; simulate ok {int((systems.simulate == 'ok').sum())}, "
        f"truth ok {int((systems.truth == 'ok').sum())}, "
        f"floor ok {int((systems.floor == 'ok').sum())}",
        "not ok: " + (", ".join(not_ok.system) if len(not_ok) else "none"),
        "fallbacks: "
        + (
            "; ".join(f"{r.system} ({r.fallback})" for r in fallbacks.itertuples())
            if len(fallbacks)
            else "none"
        ),
        f"not chaotic from the default orbit: {int((~systems.chaotic).sum())}",
    ]
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print("\n".join(summary))
        print(methods.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
        print(stops.to_string(index=False))
        print(work.to_string(index=False))
    if args.doc is not None:
        args.doc.parent.mkdir(parents=True, exist_ok=True)
        systems.to_csv(args.doc.with_suffix(".csv"), index=False)
        text = [
            f"# Database run: {args.results}",
            "",
            "Command: `python benchmarks/tools/database_report.py "
            f"{args.results} --doc {args.doc}`.",
            "",
            *([args.note, ""] if args.note else []),
            "## Summary",
            "",
            *[f"- {line}" for line in summary],
            "",
            "## Methods",
            "",
            methods.to_markdown(index=False, floatfmt=".3g"),
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
        args.doc.with_suffix(".md").write_text("\n".join(text))
        print(f"-> {args.doc.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
