"""Check the default run (`make run` on config.yaml) against the criteria of issue 10 item 2.

    python benchmarks/tools/check_default_run.py [RESULTS_DIR] [--factor 3]

Reads RESULTS_DIR/metrics.parquet (default results/) and prints

1. D_stsp: per (system, dataset) pair, the best learned method's D_stsp against the truth
   floor; PASS when at least one learned method is within ``factor`` (3) times the floor
   on at least half of the pairs;
2. vpt_nrmse: per pair, the best learned method's valid prediction time against
   persistence's; PASS when a learned method beats persistence on every pair;
3. the headline numbers: per dataset, the median over systems of D_stsp, D_H and
   vpt_nrmse for every method (diverged free runs excluded from the D_stsp median and
   counted), the floors, and the training time of the RNNs.

Exit status 0 when both criteria pass, 1 otherwise. "Learned" = every method except the
references truth, persistence and mean (and the floor rows).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REFERENCES = {"truth", "persistence", "mean", "floor"}


def _floor(df: pd.DataFrame, metric: str) -> pd.Series:
    """Floor of ``metric`` per (system, dataset): the floor rows, else the floor column."""
    rows = df[(df.method == "floor") & (df.metric == metric)]
    if len(rows):
        return rows.groupby(["system", "dataset"])["value"].first()
    sub = df[df.metric == metric].dropna(subset=["floor"])
    return sub.groupby(["system", "dataset"])["floor"].first()


def check(results_dir: Path, factor: float = 3.0) -> bool:
    df = pd.read_parquet(results_dir / "metrics.parquet")
    df = df[df.seed == df.seed.min()] if "seed" in df else df
    methods = [m for m in df.method.unique() if m not in REFERENCES]
    pairs = sorted(df[["system", "dataset"]].drop_duplicates().itertuples(index=False))
    print(
        f"{results_dir}/metrics.parquet: {len(df)} rows, {len(pairs)} (system, dataset) "
        f"pairs, learned methods: {', '.join(sorted(methods))}\n"
    )

    # 1. D_stsp within factor x the floor
    floor = _floor(df, "D_stsp")
    st = df[(df.metric == "D_stsp") & df.method.isin(methods)]
    print(f"1. D_stsp within {factor:g}x the truth floor")
    n_ok = 0
    for system, dataset in pairs:
        f = float(floor.get((system, dataset), np.nan))
        sub = st[(st.system == system) & (st.dataset == dataset) & (st.status == "ok")]
        sub = sub[np.isfinite(sub.value)]
        within = sorted(sub[sub.value <= factor * f].method) if np.isfinite(f) else []
        best = sub.loc[sub.value.idxmin()] if len(sub) else None
        n_ok += bool(within)
        best_txt = (
            f"best {best.method} {best.value:.3g} ({best.value / f:.1f}x)"
            if best is not None
            else "no finite D_stsp"
        )
        print(
            f"   {system:12s} {dataset:8s} floor {f:.3g}  {best_txt:34s} "
            f"{'ok: ' + ', '.join(within) if within else 'none within'}"
        )
    pass1 = n_ok >= len(pairs) / 2
    print(
        f"   -> {n_ok} of {len(pairs)} pairs: {'PASS' if pass1 else 'FAIL'} "
        f"(need {len(pairs) / 2:g})\n"
    )

    # 2. vpt_nrmse: a learned method beats persistence on every pair
    vpt = df[(df.metric == "vpt_nrmse")]
    print("2. vpt_nrmse (Lyapunov times): best learned method against persistence")
    n_beat = 0
    for system, dataset in pairs:
        sub = vpt[(vpt.system == system) & (vpt.dataset == dataset)]
        pers = sub[sub.method == "persistence"].value
        p = float(pers.iloc[0]) if len(pers) else np.nan
        learned = sub[sub.method.isin(methods)].dropna(subset=["value"])
        best = learned.loc[learned.value.idxmax()] if len(learned) else None
        beats = sorted(learned[learned.value > p].method) if np.isfinite(p) else []
        n_beat += bool(beats)
        best_txt = (
            f"best {best.method} {best.value:.3g}" if best is not None else "no learned value"
        )
        print(
            f"   {system:12s} {dataset:8s} persistence {p:.3g}  {best_txt:24s} "
            f"beat it: {', '.join(beats) if beats else 'none'}"
        )
    pass2 = n_beat == len(pairs)
    print(f"   -> {n_beat} of {len(pairs)} pairs: {'PASS' if pass2 else 'FAIL'}\n")

    # 3. headline medians per dataset
    print("3. medians over systems (D_stsp of diverged free runs excluded and counted)")
    for dataset in sorted(df.dataset.unique()):
        d = df[df.dataset == dataset]
        rows = []
        for method in ["floor", *sorted(set(d.method) - {"floor"})]:
            m = d[d.method == method]
            stsp = m[m.metric == "D_stsp"]
            ok = stsp[(stsp.status == "ok") & np.isfinite(stsp.value)]
            rows.append(
                {
                    "method": method,
                    "D_stsp": ok.value.median() if len(ok) else np.nan,
                    "D_H": m[(m.metric == "D_H") & (m.status == "ok")].value.median(),
                    "vpt_nrmse": m[m.metric == "vpt_nrmse"].value.median(),
                    "diverged": int((stsp.status == "diverged").sum()),
                    "n": int(len(stsp)),
                }
            )
        table = pd.DataFrame(rows).set_index("method").sort_values("D_stsp")
        print(f"   dataset {dataset}:")
        print("   " + table.to_string(float_format=lambda v: f"{v:.3g}").replace("\n", "\n   "))
    times = []
    for rec in sorted(results_dir.glob("models/*/*/*/seed*.json")):
        r = json.loads(rec.read_text())
        times.append((rec.parts[-3], rec.parts[-2], rec.parts[-4], r))
    rnn = [(m, s, d, r) for m, s, d, r in times if m in ("shplrnn_gtf", "alrnn")]
    if rnn:
        print("\n   RNN training (record fields epochs_run / stopped_by / wall_time_s):")
        for m, s, d, r in rnn:
            keys = ("epochs_run", "best_epoch", "stopped_by", "wall_time_s", "fit_seconds")
            flat = {**r, **(r.get("training") or {})}
            print(
                f"   {m:12s} {s:12s} {d:8s} "
                + " ".join(f"{k}={flat.get(k)}" for k in keys if k in flat)
            )
    ok = pass1 and pass2
    print(
        f"\nD_stsp criterion: {'PASS' if pass1 else 'FAIL'}; vpt_nrmse criterion: "
        f"{'PASS' if pass2 else 'FAIL'}"
    )
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results_dir", nargs="?", default="results", type=Path)
    ap.add_argument("--factor", type=float, default=3.0, help="D_stsp within factor x floor")
    args = ap.parse_args()
    return 0 if check(args.results_dir, args.factor) else 1


if __name__ == "__main__":
    sys.exit(main())
