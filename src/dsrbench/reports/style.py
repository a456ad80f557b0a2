"""One look for every page: a fixed colour and label per method, figure helpers.

Colours come from :data:`METHOD_COLORS` (every method of the suite, the ``truth`` oracle
and the truth ``floor``); a method outside it gets a colour from :data:`EXTRA_COLORS`
chosen by a hash of its name, so it is the same on every page and in every run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402  (after selecting the backend)

__all__ = [
    "METHOD_COLORS",
    "METHOD_ORDER",
    "method_color",
    "method_label",
    "new_figure",
    "no_data",
    "order_methods",
    "system_color",
]

#: display order of the known methods (others follow alphabetically)
METHOD_ORDER = (
    "truth",
    "phyxmamba",
    "koopman_ae",
    "shplrnn_gtf",
    "alrnn",
    "node",
    "esn",
    "nvar",
    "sindy",
    "edmd",
    "var",
    "persistence",
    "mean",
)

METHOD_COLORS: dict[str, str] = {
    "truth": "#000000",
    "floor": "#7f7f7f",
    "shplrnn_gtf": "#d62728",
    "alrnn": "#9467bd",
    "phyxmamba": "#c51b8a",
    "koopman_ae": "#7a0177",
    "node": "#1f77b4",
    "esn": "#2ca02c",
    "nvar": "#ff7f0e",
    "sindy": "#e377c2",
    "edmd": "#17becf",
    "var": "#8c564b",
    "persistence": "#bcbd22",
    "mean": "#393b79",
    # the darts forecasters of Gilpin 2023
    "lstm": "#3182bd",
    "rnn": "#6baed6",
    "nbeats": "#e6550d",
    "nhits": "#fd8d3c",
    "transformer": "#005a32",
    "tcn": "#74c476",
    "dlinear": "#756bb1",
    "nlinear": "#9e9ac8",
    "random_forest": "#843c39",
    "xgboost": "#d6616b",
    "linear_regression": "#8c6d31",
    "kalman": "#637939",
    "exponential_smoothing": "#b5cf6b",
    "arima": "#7b4173",
    "autoarima": "#a55194",
    "theta": "#ce6dbd",
    "four_theta": "#de9ed6",
    "fft": "#525252",
    "naive_drift": "#969696",
    "naive_mean": "#737373",
    "naive_seasonal": "#bdbdbd",
    "tbats": "#e7ba52",
}

METHOD_LABELS: dict[str, str] = {
    "truth": "truth (oracle)",
    "floor": "truth floor",
    "shplrnn_gtf": "shPLRNN+GTF",
    "alrnn": "AL-RNN",
    "phyxmamba": "PhyxMamba",
    "koopman_ae": "deep Koopman AE",
    "node": "neural ODE",
    "esn": "ESN",
    "nvar": "NG-RC (NVAR)",
    "sindy": "SINDy",
    "edmd": "EDMD",
    "var": "ridge VAR",
    "persistence": "persistence",
    "mean": "mean",
    "lstm": "LSTM",
    "rnn": "RNN",
    "nbeats": "N-BEATS",
    "nhits": "N-HiTS",
    "transformer": "Transformer",
    "tcn": "TCN",
    "dlinear": "DLinear",
    "nlinear": "NLinear",
    "random_forest": "random forest",
    "xgboost": "XGBoost",
    "linear_regression": "linear regression",
    "kalman": "Kalman filter",
    "exponential_smoothing": "exponential smoothing",
    "arima": "ARIMA",
    "autoarima": "AutoARIMA",
    "theta": "Theta",
    "four_theta": "FourTheta",
    "fft": "FFT",
    "naive_drift": "naive drift",
    "naive_mean": "naive mean",
    "naive_seasonal": "naive seasonal",
    "tbats": "TBATS",
}

#: colours for methods not in :data:`METHOD_COLORS` (tab20's darker half, then others)
EXTRA_COLORS = (
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
    "#3182bd",
    "#e6550d",
    "#31a354",
    "#756bb1",
    "#636363",
)

#: colours of systems where several systems share a panel (method pages)
SYSTEM_COLORS = (
    "#1b9e77",
    "#d95f02",
    "#7570b3",
    "#e7298a",
    "#66a61e",
    "#e6ab02",
    "#a6761d",
    "#666666",
    "#1f78b4",
    "#b2df8a",
)


def _stable_index(name: str, n: int) -> int:
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % n


def method_color(name: str) -> str:
    """The colour of ``name`` on every page."""
    return METHOD_COLORS.get(name) or EXTRA_COLORS[_stable_index(name, len(EXTRA_COLORS))]


def method_label(name: str) -> str:
    """Display name of a method (its registry name when it has no other)."""
    return METHOD_LABELS.get(name, name)


def system_color(name: str) -> str:
    """A stable colour for a system (method pages draw one line per system)."""
    return SYSTEM_COLORS[_stable_index(name, len(SYSTEM_COLORS))]


def order_methods(names: Iterable[str]) -> list[str]:
    """Known methods in :data:`METHOD_ORDER`, then the others alphabetically."""
    names = list(dict.fromkeys(names))
    known = [m for m in METHOD_ORDER if m in names]
    return known + sorted(m for m in names if m not in METHOD_ORDER)


def new_figure(width: float, height: float) -> Figure:
    """A figure outside pyplot (no global state), laid out without overlaps."""
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def no_data(ax: Any, message: str) -> None:
    """Mark an axes as empty with the reason, instead of leaving it blank."""
    ax.text(
        0.5,
        0.5,
        message,
        ha="center",
        va="center",
        wrap=True,
        fontsize=9,
        color="#555555",
        transform=ax.transAxes,
    )
    ax.set_xticks([])
    ax.set_yticks([])
