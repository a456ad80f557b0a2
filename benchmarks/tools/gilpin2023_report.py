"""Markdown tables of a gilpin2023 run for the README: per model the medians over systems
of the fixed-horizon and long sMAPE, the mean rank, fit and forecast seconds beside the
paper's training times, failures, the data-limited sweep, and the rank correlation with
the published order (the numbers of the gilpin2023 report page, as text).

    python benchmarks/tools/gilpin2023_report.py results/gilpin2023_cpu
    python benchmarks/tools/gilpin2023_report.py results/gilpin2023_cpu --datasets coarse
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from dsrbench.reports import open_run
from dsrbench.reports import papers as pp
from dsrbench.reports.published import GILPIN2023_COUNTERPARTS, GILPIN2023_TRAINING_SECONDS


def _records(results: Path, stage: str) -> list[dict]:
    rows = []
    for path in sorted((results / stage).rglob("seed*.json")):
        rec = json.loads(path.read_text())
        if "status" in rec and "method" in rec:
            rows.append(rec)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results", type=Path)
    parser.add_argument(
        "--datasets", nargs="+", help="dataset settings to cover (default: every one)"
    )
    args = parser.parse_args()
    run = open_run(args.results, datasets=args.datasets)
    metrics = run.metrics
    print("dataset settings:", run.datasets)
    print("## records")
    for stage in ("models", "predictions"):
        recs = [
            r
            for r in _records(args.results, stage)
            if r.get("dataset") in run.datasets and r.get("system") in run.systems
        ]
        counts = Counter(r["status"] for r in recs)
        print(f"{stage}: {dict(counts)}")
        for r in recs:
            if r["status"] != "ok":
                print(
                    f"  {r['method']} / {r['system']}: {r['status']}: "
                    f"{(r.get('reason') or '')[:120]}"
                )
    print("metric rows:", dict(Counter(metrics["status"])))
    print()
    fixed = metrics[metrics.metric == "smape_fixed"].groupby("method")["value"].median()
    long = metrics[metrics.metric == "smape"].groupby("method")["value"].median()
    div = metrics[metrics.status == "diverged"].groupby("method")["system"].nunique()
    ranks = pp.gilpin_ranking_table(run, n_boot=200)
    rank_of = {r["method"]: r["mean rank [95% CI]"] for _, r in ranks.iterrows()}
    times = pp.training_time_table(run)
    print("## per model")
    print(times.to_markdown(index=False))
    print()
    print(
        "| model | median sMAPE, first 200 | median sMAPE, 5000 "
        "| mean rank (common systems) | systems diverged |"
    )
    print("| --- | --- | --- | --- | --- |")
    for method in fixed.sort_values().index:
        label = pp.method_label(method) if hasattr(pp, "method_label") else method
        print(
            f"| {method} | {fixed[method]:.1f} | {long.get(method, np.nan):.1f} | "
            f"{rank_of.get(label, rank_of.get(method, '—'))} | {int(div.get(method, 0))} |"
        )
    print()
    table, rho, n = pp.gilpin_rank_correlation(run)
    print("## rank correlation")
    print(table.to_markdown(index=False))
    print(f"rho = {rho:.3f} over n = {n} models")
    print(pp.gilpin_rank_correlation_sentence(run))
    print()
    try:
        widest = pp.widest_models(run)
    except pp.NoData as err:
        print("## the models that ran on every system:", err)
    else:
        print("## the models that ran on every system")
        print(pp.widest_ranking_table(run, n_boot=200).to_markdown(index=False))
        print(pp.gilpin_rank_correlation_sentence(run, models=widest))
    print()
    print("## data-limited sweep (median sMAPE 0-200 over systems)")
    rows = []
    for method in run.methods:
        try:
            tr = run.training(method)
        except Exception:  # noqa: BLE001 - untrained references
            continue
        for _, r in tr.iterrows():
            for d in r.get("data_limited") or []:
                rows.append({"method": method, "L": d["train_length"], "smape": d.get("smape")})
    if rows:
        dl = pd.DataFrame(rows).pivot_table(
            index="method", columns="L", values="smape", aggfunc="median"
        )
        print(dl.round(1).to_markdown())
    print()
    print("paper's median training seconds:", GILPIN2023_TRAINING_SECONDS)
    print("counterparts:", {k: v for k, v in GILPIN2023_COUNTERPARTS.items() if k in run.methods})


if __name__ == "__main__":
    main()
