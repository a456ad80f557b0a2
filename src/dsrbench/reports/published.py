"""Published figures the paper pages show beside ours, and the truth-against-truth reference
ranges on Lorenz-63 (sources and protocols: docs/protocols.md, "Published figures", and
docs/metrics.md, "Reference ranges"). Nothing here is measured by us."""

from __future__ import annotations

import pandas as pd

__all__ = [
    "DSR_PUBLISHED",
    "GILPIN2023_COUNTERPARTS",
    "GILPIN2023_RANKING",
    "GILPIN2023_TRAINING_SECONDS",
    "dsr_published",
]

#: Gilpin 2023, long-horizon sMAPE ranking (best first; the models ranked
#: between FourTheta and the last two are not listed; Kalman and exponential smoothing came last)
GILPIN2023_RANKING = (
    "NBEATS",
    "NHiTS",
    "NVAR",
    "RandomForest",
    "LSTM",
    "Transformer",
    "NODE",
    "Linear",
    "XGBoost",
    "FourTheta",
)
GILPIN2023_LAST = ("Kalman", "ExponentialSmoothing")

#: Gilpin 2023, median training time per system on one CPU (seconds)
GILPIN2023_TRAINING_SECONDS = {
    "Transformer": 560.0,
    "NBEATS": 380.0,
    "LSTM": 77.0,
    "NHiTS": 63.0,
    "NODE": 25.0,
    "ESN": 0.26,
    "NVAR": 0.21,
}

#: our methods and the Gilpin 2023 model they correspond to
GILPIN2023_COUNTERPARTS = {"nvar": "NVAR", "node": "NODE", "esn": "ESN", "var": "Linear"}

#: (source, model, system, metric, value, protocol): Liu et al. 2025 (PhyxMamba, arXiv:2505.23863),
#: Hemmer & Durstewitz 2025 (DynaMix), and the reference ranges of docs/metrics.md
DSR_PUBLISHED: tuple[tuple[str, str, str, str, float | str, str], ...] = (
    ("PhyxMamba", "PhyxMamba", "Lorenz", "vpt_smape", 5.06, "30 points per Lyapunov time"),
    ("PhyxMamba", "PhyxMamba", "Lorenz", "smape200@1", 3.26, "30 points per Lyapunov time"),
    ("PhyxMamba", "PhyxMamba", "Lorenz", "smape200@4", 22.05, "30 points per Lyapunov time"),
    ("PhyxMamba", "PhyxMamba", "Lorenz", "smape200@10", 67.29, "30 points per Lyapunov time"),
    ("PhyxMamba", "PhyxMamba", "Lorenz", "D_frac", 0.060, "30 points per Lyapunov time"),
    ("PhyxMamba", "PhyxMamba", "Lorenz", "D_stsp", 1.133, "30 points per Lyapunov time"),
    ("PhyxMamba", "NBEATS", "Lorenz", "vpt_smape", 3.66, "baseline in the PhyxMamba paper"),
    ("PhyxMamba", "PLRNN", "Lorenz", "vpt_smape", 0.71, "baseline in the PhyxMamba paper"),
    ("PhyxMamba", "PhyxMamba", "Rossler", "vpt_smape", 9.83, "30 points per Lyapunov time"),
    ("DynaMix", "DynaMix (zero-shot)", "Lorenz", "D_stsp", 0.804, "context 2000, horizon 10 000"),
    ("DynaMix", "DynaMix (zero-shot)", "Lorenz", "D_H", 0.064, "context 2000, horizon 10 000"),
    ("DynaMix", "DynaMix (zero-shot)", "Lorenz", "mase10", 0.285, "context 2000, horizon 10 000"),
    (
        "reference range (docs/metrics.md)",
        "truth vs truth",
        "Lorenz",
        "D_stsp",
        "0.12 to 0.23",
        "30 bins, T = 100 000",
    ),
    (
        "reference range (docs/metrics.md)",
        "truth vs truth",
        "Lorenz",
        "D_H",
        "0.05 to 0.07",
        "sigma = 20 bins",
    ),
    (
        "reference range (docs/metrics.md)",
        "Gaussian noise",
        "Lorenz",
        "D_stsp",
        "about 3.5",
        "30 bins",
    ),
)


def dsr_published() -> pd.DataFrame:
    return pd.DataFrame(
        DSR_PUBLISHED, columns=["source", "model", "system", "metric", "published", "protocol"]
    )
