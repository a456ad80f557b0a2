"""The dsr page's published-against-ours tables (dsrbench.reports.papers)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dsrbench import layout
from dsrbench.pipeline.evaluate import COLUMNS
from dsrbench.reports import open_run
from dsrbench.reports import papers as pp
from dsrbench.reports.published import published_table


def _metrics(tmp_path, rows):
    table = pd.DataFrame([{**{c: None for c in COLUMNS}, **r} for r in rows], columns=COLUMNS)
    path = layout.merged_metrics(tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(path, index=False)
    return open_run(tmp_path)


def test_the_dsr_page_sets_each_published_number_beside_our_seeds(tmp_path) -> None:
    ref = published_table()
    ckpt = ref[ref["paper"].str.contains("lorenz_m20_p2") & (ref["metric"] == "D_stsp")]
    d_ckpt = float(ckpt["value"].iloc[0])  # the authors' checkpoint under our metrics
    base = {"system": "Lorenz", "dataset": "dsr", "metric": "D_stsp", "horizon": np.nan}
    rows = [  # five AL-RNN seeds around the checkpoint's value, five shPLRNN far from 0.26
        {**base, "method": "alrnn", "seed": s, "value": d_ckpt * f, "status": "ok"}
        for s, f in enumerate((0.8, 0.95, 1.0, 1.05, 1.3))
    ] + [
        {**base, "method": "shplrnn_gtf", "seed": s, "value": v, "status": st}
        for s, (v, st) in enumerate(
            ((2.0, "ok"), (2.5, "ok"), (3.0, "ok"), (np.nan, "diverged"), (4.0, "ok"))
        )
    ]
    table = pp.dsr_reproduction_table(_metrics(tmp_path, rows))
    by = {(r.paper, r.system, r.metric): r for r in table.itertuples()}
    m20 = next(r for (p, _, m), r in by.items() if "lorenz_m20_p2" in p and m == "D_stsp")
    assert m20.status == "reproduced"
    assert m20[6].startswith(f"{d_ckpt:.3g}")  # ours: the median of the five seeds
    hess = by[("Hess et al. 2023 (shPLRNN + GTF)", "Lorenz", "D_stsp")]
    assert hess.status == "differs", hess
    assert "diverged on 1 of 5 seeds" in hess.cause
    assert hess[6].endswith("(5)")  # the diverged seed is counted
    not_found = by[("Hess et al. 2023 (shPLRNN + GTF)", "Lorenz", "D_H")]
    assert not_found.status == "not run" and "not found" in not_found.cause
