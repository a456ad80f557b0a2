"""Published figures the paper pages show beside ours, and the truth-against-truth reference
ranges on Lorenz-63 (sources and protocols: docs/protocols.md, "Published figures", and
docs/metrics.md, "Reference ranges"). Nothing here is measured by us."""

from __future__ import annotations

import pandas as pd

__all__ = [
    "DSR_PUBLISHED",
    "GILPIN2023_COUNTERPARTS",
    "GILPIN2023_FIGURES",
    "GILPIN2023_LAST",
    "GILPIN2023_POSITIONS",
    "GILPIN2023_RANKING",
    "GILPIN2023_REFERENCE",
    "GILPIN2023_TRAINING_SECONDS",
    "PHYXMAMBA_PUBLISHED",
    "dsr_published",
]

#: Gilpin 2023, the models' sMAPE ranking (best first; the models ranked
#: between FourTheta and the last two are not listed; Kalman and exponential smoothing came last)
GILPIN2023_RANKING = (
    "NBEATS",
    "NHiTS",
    "NVAR",
    "RandomForest",
    "LSTM",
    "Transformer",
    "NODE",
    "LinearRegression",
    "XGBoost",
    "FourTheta",
)
#: the two models the paper places last (given positions 11 and 12 of the rank correlation)
GILPIN2023_LAST = ("KalmanForecaster", "ExponentialSmoothing")

#: the 12 ordered models and the position each gets in the rank correlation with ours
GILPIN2023_POSITIONS = {
    name: i + 1 for i, name in enumerate((*GILPIN2023_RANKING, *GILPIN2023_LAST))
}

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

#: our methods and the Gilpin 2023 model they correspond to; where two of ours share a
#: model (``linear_regression`` and ``var``), the first one present in a run stands for it
GILPIN2023_COUNTERPARTS = {
    "nvar": "NVAR",
    "node": "NODE",
    "esn": "ESN",
    "lstm": "LSTM",
    "rnn": "BlockRNN",
    "nbeats": "NBEATS",
    "nhits": "NHiTS",
    "transformer": "Transformer",
    "tcn": "TCN",
    "dlinear": "DLinear",
    "nlinear": "NLinear",
    "random_forest": "RandomForest",
    "xgboost": "XGBoost",
    "linear_regression": "LinearRegression",
    "var": "LinearRegression",
    "kalman": "KalmanForecaster",
    "exponential_smoothing": "ExponentialSmoothing",
    "arima": "ARIMA",
    "autoarima": "AutoARIMA",
    "theta": "Theta",
    "four_theta": "FourTheta",
    "fft": "FFT",
    "naive_drift": "NaiveDrift",
    "naive_mean": "NaiveMean",
    "naive_seasonal": "NaiveSeasonal",
    "tbats": "TBATS",
}

#: reference forecasters: on the figures, never ranked against the published list
GILPIN2023_REFERENCE = (
    "truth",
    "persistence",
    "mean",
    "naive_drift",
    "naive_mean",
    "naive_seasonal",
)

#: what the paper reports for each figure of the page, in words (no values measured by us)
GILPIN2023_FIGURES = {
    "fixed_horizon": (
        "Published (Gilpin 2023): the models ranked by sMAPE, best first: NBEATS, NHiTS, "
        "NVAR, RandomForest, LSTM, Transformer, NODE, LinearRegression, XGBoost, FourTheta, "
        "..., KalmanForecaster and ExponentialSmoothing last: the large domain-agnostic models "
        "and NVAR lead."
    ),
    "error_vs_horizon": (
        "Published (Gilpin 2023): the error of every model grows with the forecast time; the "
        "best large domain-agnostic models stay accurate for up to about two dozen Lyapunov "
        "times (the paper's abstract)."
    ),
    "error_correlation": (
        "Published (Gilpin 2023): the paper compares the models' per-system errors by their "
        "Spearman correlation; a positive correlation means that the systems that are hard "
        "for one model are hard for the other."
    ),
    "lyapunov_correlation": (
        "Published (Gilpin 2023): the paper follows the Spearman correlation between each "
        "model's error and the system's largest Lyapunov exponent along the forecast; a "
        "positive ρ means that the more chaotic systems are forecast worse."
    ),
    "time_vs_error": (
        "Published (Gilpin 2023): median training time per system on one CPU: Transformer "
        "560 s, NBEATS 380 s, LSTM 77 s, NHiTS 63 s, NODE 25 s, ESN 0.26 s, NVAR 0.21 s; "
        "the reservoir computers (ESN, NVAR) train in well under a second, three orders of "
        "magnitude faster than the large deep models."
    ),
    "invariants": (
        "Published (Gilpin 2023): the paper also ranks the models on how well their "
        "forecasts reproduce invariant properties of the attractor (power spectrum, "
        "largest Lyapunov exponent, correlation dimension)."
    ),
    "data_limited": (
        "Published (Gilpin 2023): with shorter training series the physics-informed models "
        "(neural ODE, reservoir computers) are more data-efficient than the large "
        "domain-agnostic models (the paper's abstract)."
    ),
}

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


#: DSR_PUBLISHED's PhyxMamba rows by system, keyed as the PhyxMamba page's columns
PHYXMAMBA_PUBLISHED: dict[str, dict[str, float]] = {}
for _src, _model, _system, _metric, _value, _ in DSR_PUBLISHED:
    if _src == "PhyxMamba" and _model == "PhyxMamba":
        _key = {"vpt_smape": "VPT"}.get(_metric, _metric.replace("smape200", "sMAPE"))
        PHYXMAMBA_PUBLISHED.setdefault(_system, {})[_key] = float(_value)


def dsr_published() -> pd.DataFrame:
    return pd.DataFrame(
        DSR_PUBLISHED, columns=["source", "model", "system", "metric", "published", "protocol"]
    )
