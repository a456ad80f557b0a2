"""Metrics of dsrbench: short-term forecast scores and long-term attractor statistics.

Definitions: ``docs/metrics.md`` (and each function's docstring):

* :mod:`dsrbench.metrics.forecast`: the 17 metrics of ``dysts.metrics.compute_metrics``
  (same values as dysts 0.96, corrected where it is wrong), valid prediction time,
  sMAPE at Lyapunov-time horizons, PE(n), MASE(n);
* :mod:`dsrbench.metrics.attractor`: state-space divergence D_stsp, power-spectrum
  distance D_H, correlation dimension, Rosenstein's largest exponent, divergence checks;
* :mod:`dsrbench.metrics.lyapunov`: the QR (Benettin) method for learned maps with a
  Jacobian (the true systems' exponents: :mod:`dsrbench.integration.lyapunov`).

Usage mirrors ``dysts.metrics``::

    from dsrbench.metrics import forecast_metrics, state_space_divergence
    scores = forecast_metrics(y_true, y_pred)          # dict keyed by dysts' names
"""

from __future__ import annotations

from dsrbench.metrics.attractor import (
    check_divergence,
    correlation_dimension,
    correlation_dimension_error,
    d_stsp,
    drop_transient,
    long_term_metrics,
    power_spectrum_distance,
    rosenstein_lyapunov,
    state_space_divergence,
)
from dsrbench.metrics.forecast import (
    METRIC_NAMES,
    forecast_metrics,
    mase,
    prediction_error,
    smape,
    smape_at_horizons,
    valid_prediction_steps,
    valid_prediction_time,
)

__all__ = [
    "METRIC_NAMES",
    "check_divergence",
    "correlation_dimension",
    "correlation_dimension_error",
    "d_stsp",
    "drop_transient",
    "forecast_metrics",
    "long_term_metrics",
    "mase",
    "power_spectrum_distance",
    "prediction_error",
    "rosenstein_lyapunov",
    "smape",
    "smape_at_horizons",
    "state_space_divergence",
    "valid_prediction_steps",
    "valid_prediction_time",
]
