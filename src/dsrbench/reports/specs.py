"""The metrics the pages show, with their labels, units, direction and axis scale."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LONG_TERM", "SHORT_TERM", "MetricSpec", "spec", "worst_value"]


@dataclass(frozen=True)
class MetricSpec:
    """One metric as the pages show it. ``horizon``: the Lyapunov-time horizon of
    ``smape200`` rows; ``log``: values span decades, so axes are logarithmic."""

    metric: str
    label: str
    unit: str
    higher_is_better: bool = False
    log: bool = False
    horizon: float | None = None
    has_floor: bool = False

    @property
    def key(self) -> str:
        return self.metric if self.horizon is None else f"{self.metric}@{self.horizon:g}"

    @property
    def axis_label(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit else self.label

    @property
    def better(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"


SHORT_TERM: tuple[MetricSpec, ...] = (
    MetricSpec("vpt_nrmse", "VPT (NRMSE > 0.5)", "Lyapunov times", higher_is_better=True),
    MetricSpec("vpt_smape", "VPT (cumulative sMAPE > 30)", "Lyapunov times", higher_is_better=True),
    MetricSpec("smape200", "sMAPE at 1 Lyapunov time", "0-200", horizon=1.0),
    MetricSpec("smape200", "sMAPE at 4 Lyapunov times", "0-200", horizon=4.0),
    MetricSpec("smape200", "sMAPE at 10 Lyapunov times", "0-200", horizon=10.0),
)

LONG_TERM: tuple[MetricSpec, ...] = (
    MetricSpec("D_stsp", "D_stsp", "nats", log=True, has_floor=True),
    MetricSpec("D_H", "D_H (power spectra)", "Hellinger, 0-1", has_floor=True),
    MetricSpec(
        "lyapunov_qr_rel_error",
        "λ_max error (QR, model Jacobian)",
        "relative",
        log=True,
        has_floor=True,
    ),
    MetricSpec(
        "lyapunov_rel_error", "λ_max error (Rosenstein)", "relative", log=True, has_floor=True
    ),
    MetricSpec("D_frac", "correlation dimension error", "absolute", log=True, has_floor=True),
)

OTHER: tuple[MetricSpec, ...] = (
    MetricSpec("pe20", "PE(20)", "squared state units", log=True),
    MetricSpec("mase10", "MASE(10)", "ratio", log=True),
    MetricSpec("smape", "sMAPE over the forecast", "0-100"),
    MetricSpec("smape_fixed", "sMAPE, first 200 steps", "0-100"),
    MetricSpec("nrmse", "NRMSE over the forecast", "ratio", log=True),
)

_ALL = {s.key: s for s in (*SHORT_TERM, *LONG_TERM, *OTHER)}


def spec(key: str) -> MetricSpec:
    """The spec of ``key`` (``metric`` or ``metric@horizon``)."""
    return _ALL[key]


def worst_value(metric: str) -> float:
    """What a seed without a finite value of ``metric`` counts as (diverged, or its forecast
    failed): -inf where higher is better (the VPTs), else +inf (the errors, and a metric
    without a spec)."""
    found = _ALL.get(metric)
    return float("-inf") if found is not None and found.higher_is_better else float("inf")
